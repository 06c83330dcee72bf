package checks

import "testing"

// Nested sections are as strict as the top level: a misspelt key inside a
// queues entry or under server.auth is reported with its full path.
func TestParams_NestedSectionsAreStrict(t *testing.T) {
	p := NewParams(map[string]any{
		"queues": []any{map[string]any{"name": "q", "min_consumer": 1}},
		"auth":   map[string]any{"tokens": []any{"t"}, "tokns": 1},
	})
	for _, q := range p.Objects("queues") {
		q.Required("name")
		q.Int("min_consumers", 0)
	}
	if a := p.Section("auth", "tokens"); a != nil {
		a.Strings("tokens")
	}
	want := `key "auth.tokns": unknown key (did you mean "tokens"?)` + "\n" +
		`key "queues[0].min_consumer": unknown key (did you mean "min_consumers"?)`
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
