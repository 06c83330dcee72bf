package server

import (
	"sort"
	"strconv"
	"strings"
)

// Format is a response body format.
type Format string

const (
	FormatHTML        Format = "html"
	FormatJSON        Format = "json"
	FormatHealth      Format = "health"      // application/health+json, healthjson.go
	FormatText        Format = "text"        // Kubernetes-style lines, text.go
	FormatOpenMetrics Format = "openmetrics" // openmetrics.go
)

// mediaType maps a media type to the format served for it.
type mediaType struct {
	typ    string // "text/html", "text/*", "*/*"
	format Format
}

// acceptable lists, in order of preference when the client has none, every
// media type /ht/ answers and the format it gets. Wildcards follow the seed:
// text/* and */* get HTML, application/* gets JSON.
var acceptable = []mediaType{
	{"text/html", FormatHTML},
	{"application/xhtml+xml", FormatHTML},
	{"application/json", FormatJSON},
	{"application/health+json", FormatHealth},
	{"text/plain", FormatText},
	{"application/openmetrics-text", FormatOpenMetrics},
	{"text/*", FormatHTML},
	{"application/*", FormatJSON},
	{"*/*", FormatHTML},
}

// queryFormats maps ?format= values to formats.
var queryFormats = map[string]Format{
	"json":        FormatJSON,
	"html":        FormatHTML,
	"health":      FormatHealth,
	"text":        FormatText,
	"openmetrics": FormatOpenMetrics,
}

// contentTypes is each format's Content-Type.
var contentTypes = map[Format]string{
	FormatHTML:        "text/html; charset=utf-8",
	FormatJSON:        "application/json",
	FormatHealth:      "application/health+json",
	FormatText:        "text/plain; charset=utf-8",
	FormatOpenMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
}

// contentTypeValues holds contentTypes as header values, shared read-only
// (see hdrNoStore).
var contentTypeValues = func() map[Format][]string {
	m := make(map[Format][]string, len(contentTypes))
	for f, t := range contentTypes {
		m[f] = []string{t}[:1:1]
	}
	return m
}()

// supportedTypes is the list shown in a 406.
func supportedTypes() string {
	var out []string
	for _, m := range acceptable {
		if !strings.Contains(m.typ, "*") {
			out = append(out, m.typ)
		}
	}
	return strings.Join(out, ", ")
}

type acceptItem struct {
	typ   string
	q     float64
	order int
}

// negotiate picks the format for an Accept header. ok is false when nothing
// the client accepts is served (406); malformed is true when the header has
// content but no item could be parsed (400). An empty header means HTML.
func negotiate(header string) (f Format, ok, malformed bool) {
	if strings.TrimSpace(header) == "" {
		return FormatHTML, true, false
	}
	items, bad := parseAccept(header)
	if len(items) == 0 {
		if bad {
			return "", false, true
		}
		return FormatHTML, true, false
	}
	for _, it := range items {
		if it.q <= 0 {
			continue
		}
		for _, m := range acceptable {
			if m.typ == it.typ {
				return m.format, true, false
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
