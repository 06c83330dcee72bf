package server

import "testing"

// FuzzNegotiate feeds arbitrary Accept headers to the parser: it never
// panics, answers either a known format, "not acceptable" or "malformed"
// (never two at once), and parses into items with q in [0, 1], sorted.
func FuzzNegotiate(f *testing.F) {
	for _, h := range []string{"", "text/html", "application/json;q=0.9, */*;q=0.1", "application/health+json",
		"text/plain;version=0.0.4", "application/openmetrics-text; version=1.0.0", "image/png", "*/*;q=0",
		"text/*;q=0.5, application/*", "a/b;q=1.5", ";;;,,,", "*/html", "text/html;q=abc", "TEXT/HTML;Q=0.3"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		format, ok, malformed := negotiate(header)
		switch {
		case ok && malformed:
			t.Fatalf("negotiate(%q): both acceptable and malformed", header)
		case ok:
			if _, known := contentTypes[format]; !known {
				t.Fatalf("negotiate(%q) = unknown format %q", header, format)
			}
		case format != "":
			t.Fatalf("negotiate(%q) = %q without ok", header, format)
		}
		if f2, ok2, m2 := negotiate(header); f2 != format || ok2 != ok || m2 != malformed {
			t.Fatalf("negotiate(%q) is not deterministic", header)
		}
		items, _ := parseAccept(header)
		for i, it := range items {
			if it.q < 0 || it.q > 1 {
				t.Fatalf("parseAccept(%q): item %q has q %v", header, it.typ, it.q)
			}
			if i > 0 && items[i-1].q < it.q {
				t.Fatalf("parseAccept(%q): items not sorted by q: %+v", header, items)
			}
		}
	})
}
