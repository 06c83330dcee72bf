package server

import (
	"maps"
	"slices"
	"unicode/utf8"
)

// flatJSON writes m as django-health-check 3.x answers its JSON: a dict
// built in the order of its plugins, which it sorts by identifier, written
// by Django's JsonResponse with json.dumps' defaults. So the keys come in
// code point order (Go's byte order of UTF-8 is the same), the separators
// are ", " and ": ", and everything outside printable ASCII is escaped as
// ensure_ascii does. A client comparing bodies sees the same bytes from
// healthd as from the Django view it replaces.
func flatJSON(m map[string]string) []byte {
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendPyString(b, k)
		b = append(b, ": "...)
		b = appendPyString(b, m[k])
	}
	return append(b, '}')
}

// appendPyString appends s quoted as Python's json.dumps quotes a str with
// ensure_ascii=True: the short escapes for quote, backslash, \n, \r, \t, \b
// and \f; \u and four lower-case hex digits for any other character outside
// ' '..'~', as a surrogate pair above U+FFFF. Unlike encoding/json it leaves
// <, > and & alone. A byte that is not UTF-8 (Python's str cannot hold one)
// is written as U+FFFD, as encoding/json writes it.
func appendPyString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '"' && c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		if esc := pyShortEscapes[c]; esc != "" {
			b = append(b, esc...)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r > 0xFFFF {
			r -= 0x10000
			b = appendU(b, 0xD800+(r>>10))
			b = appendU(b, 0xDC00+(r&0x3FF))
			continue
		}
		b = appendU(b, r)
	}
	return append(b, '"')
}

// pyShortEscapes are the two-character escapes json.dumps writes.
var pyShortEscapes = [256]string{'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
}
