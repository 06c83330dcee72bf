package checks

import "testing"

// Nested sections are as strict as the top level: a misspelt key under
// server.auth or server.tls is reported with its full path.
func TestParams_NestedSectionsAreStrict(t *testing.T) {
	p := NewParams(map[string]any{
		"tls":  map[string]any{"cert_file": "c", "key_fil": "k"},
		"auth": map[string]any{"tokens": []any{"t"}, "tokns": 1},
	})
	if tls := p.Section("tls", "cert_file and key_file"); tls != nil {
		tls.String("cert_file", "")
		tls.String("key_file", "")
	}
	if a := p.Section("auth", "tokens"); a != nil {
		a.Strings("tokens")
	}
	want := `key "auth.tokns": unknown key (did you mean "tokens"?)` + "\n" +
		`key "tls.key_fil": unknown key (did you mean "key_file"?)`
	if err := p.Err(); err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestParams_SectionMustBeAMapping(t *testing.T) {
	p := NewParams(map[string]any{"tls": "on"})
	if p.Section("tls", "cert_file and key_file") != nil {
		t.Fatal("a string is not a section")
	}
	if err := p.Err(); err == nil || err.Error() != `key "tls": must be a mapping with cert_file and key_file` {
		t.Fatalf("got %v", err)
	}
}
