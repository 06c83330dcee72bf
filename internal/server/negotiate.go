package server

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

type acceptItem struct {
	typ   string
	q     float64
	order int
}

// negotiate picks the format for an Accept header from the media types of
// the formats table. ok is false when nothing the client accepts is served
// (406); malformed is true when the header has content but no item could
// be parsed (400). An empty header means the table's first format (HTML).
func negotiate(header string) (f Format, ok, malformed bool) {
	if strings.TrimSpace(header) == "" {
		return formats[0].name, true, false
	}
	items, bad := parseAccept(header)
	if len(items) == 0 {
		if bad {
			return "", false, true
		}
		return formats[0].name, true, false
	}
	for _, it := range items {
		if it.q <= 0 {
			continue
		}
		for _, f := range formats {
			if slices.Contains(f.media, it.typ) {
				return f.name, true, false
			}
		}
		// A specific type we do not list may still match one of our
		// wildcards' families only through the client's own wildcard, so
		// it is simply not acceptable here.
	}
	return "", false, false
}

// parseAccept parses an Accept header into items sorted by q (highest
// first), then by specificity, then by position. Items that do not parse are
// dropped and reported through bad.
func parseAccept(header string) (items []acceptItem, bad bool) {
	if len(header) > 4096 {
		return nil, true
	}
	for i, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		typ, params, _ := strings.Cut(part, ";")
		typ = strings.ToLower(strings.TrimSpace(typ))
		main, sub, found := strings.Cut(typ, "/")
		if !found || !token(main) || !token(sub) || (main == "*" && sub != "*") {
			bad = true
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					bad = true
					f = 0
				}
				q = f
			}
		}
		items = append(items, acceptItem{typ: typ, q: q, order: i})
	}
	sort.SliceStable(items, func(a, b int) bool {
		if items[a].q != items[b].q {
			return items[a].q > items[b].q
		}
		return specificity(items[a].typ) > specificity(items[b].typ)
	})
	return items, bad
}

func specificity(t string) int {
	switch {
	case t == "*/*":
		return 0
	case strings.HasSuffix(t, "/*"):
		return 1
	}
	return 2
}

// token reports whether s is a non-empty RFC 9110 token.
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
