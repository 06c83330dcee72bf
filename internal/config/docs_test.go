package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
)

const configDocs = "../../docs/configuration.md"

func keysMarkers(section string) (begin, end string) {
	return "<!-- keys " + section + ": begin (generated from internal/config/sections.go; go test ./internal/config -run TestDocs -update) -->",
		"<!-- keys " + section + ": end -->"
}

// docs/configuration.md has a key table per section of the file, the one
// the section's declaration generates, so the page cannot drift from what
// the loader accepts. With -update, the tables are rewritten instead.
func TestDocs_KeyTablesMatchTheDeclarations(t *testing.T) {
	raw, err := os.ReadFile(configDocs)
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	want := page
	for _, s := range config.Sections() {
		begin, end := keysMarkers(s.Name)
		next, err := checks.ReplaceGenerated(want, begin, end, checks.KeyTable(s.Keys))
		if err != nil {
			t.Errorf("%s: section %s: %v", configDocs, s.Name, err)
			continue
		}
		if next != want && !*update {
			t.Errorf("%s: the %s table is not the one sections.go declares; run go test ./internal/config -run TestDocs -update\nwant:\n%s",
				configDocs, s.Name, checks.KeyTable(s.Keys))
		}
		want = next
	}
	if *update && want != page {
		if err := os.WriteFile(configDocs, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Sections covers every top-level key of the file, and the checks section
// marks a per-check key's default as the defaults: section's.
func TestSections_CoverTheFile(t *testing.T) {
	var names []string
	byName := map[string][]checks.Key{}
	for _, s := range config.Sections() {
		names = append(names, s.Name)
		byName[s.Name] = s.Keys
	}
	if got := strings.Join(names, " "); got != "server health_check defaults notify checks" {
		t.Fatalf("sections %s", got)
	}
	for _, k := range byName["checks"] {
		switch k.Name {
		case "timeout":
			if k.Default != "defaults.timeout" {
				t.Errorf("checks' timeout default %q, want defaults.timeout", k.Default)
			}
		case "type":
			if !k.Required {
				t.Error("checks' type is not required")
			}
		}
	}
	for _, k := range byName["defaults"] {
		if k.Name == "timeout" && k.Default != "2s" {
			t.Errorf("defaults' timeout default %q, want 2s", k.Default)
		}
	}
}

// The page links every registered type's page, whose key table
// internal/checks tests the same way.
func TestDocs_ConfigurationLinksEveryType(t *testing.T) {
	raw, err := os.ReadFile(configDocs)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range checks.Builtin().Names() {
		if link := "(checks/" + name + ".md)"; !strings.Contains(string(raw), link) {
			t.Errorf("%s does not link %s", configDocs, link)
		}
	}
}
