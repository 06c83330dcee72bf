package config_test

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
)

// declaredKey is one key of a section's struct, found by walking its
// fields' tags (independently of checks.KeysOf): path is "auth.tokens" for
// a key of a nested section.
type declaredKey struct {
	path   []string
	nested bool // a nested section: its value is a mapping
	typ    reflect.Type
}

func declaredKeys(t reflect.Type, prefix []string) []declaredKey {
	var out []declaredKey
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("key")
		if f.Anonymous && name == "" {
			out = append(out, declaredKeys(f.Type, prefix)...)
			continue
		}
		if name == "" {
			continue
		}
		path := append(slices.Clone(prefix), name)
		st := f.Type
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		nested := st.Kind() == reflect.Struct
		out = append(out, declaredKey{path: path, nested: nested, typ: f.Type})
		if nested {
			out = append(out, declaredKeys(st, path)...)
		}
	}
	return out
}

// TestSections_OneDeclarationDrivesDecodeSchemaAndDocs: every key declared
// once, as a tagged field of its section's struct in sections.go, is in
// the section's key table of docs/configuration.md and in `healthd
// schema`, is decoded by the loader from that field (a value of the wrong
// shape is refused under the key's name), gets a did-you-mean when
// misspelt, and, in a layered section, can be set by flags and HEALTHD_*
// variables when it is a scalar.
func TestSections_OneDeclarationDrivesDecodeSchemaAndDocs(t *testing.T) {
	page, err := os.ReadFile(configDocs)
	if err != nil {
		t.Fatal(err)
	}
	schema := config.Schema(checkstest.Registry())
	layered := config.LayeredKeys()
	for _, s := range config.SectionDeclarations() {
		keys := declaredKeys(reflect.TypeOf(s.Keys).Elem(), nil)
		if len(keys) == 0 {
			t.Errorf("section %s declares no keys", s.Name)
		}
		table := docsTable(t, string(page), s.Name)
		for _, k := range keys {
			name := strings.Join(k.path, ".")
			t.Run(s.Name+"."+name, func(t *testing.T) {
				if !strings.Contains(table, "| `"+name+"` |") {
					t.Errorf("docs: the %s table of %s has no row for %s", s.Name, configDocs, name)
				}
				if !schemaHasKey(schema, s.Name, k.path) {
					t.Errorf("schema: no property %s in section %s", name, s.Name)
				}

				// Decode: a value of the wrong shape, refused under the key.
				var bad any = map[string]any{"x": 1}
				if k.nested || k.typ.Kind() == reflect.Map {
					bad = []any{1}
				}
				want := fmt.Sprintf("key %q: must be", sectionKey(s.Name, name))
				if err := loadWith(t, s.Name, k.path, bad); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("decode: got %v\nwant an error with %s", err, want)
				}

				// An unknown key: a misspelling of this one gets a did-you-mean.
				last := k.path[len(k.path)-1]
				typo := misspell(last)
				want = fmt.Sprintf("key %q: unknown key (did you mean %q?)",
					sectionKey(s.Name, strings.Join(append(slices.Clone(k.path[:len(k.path)-1]), typo), ".")), last)
				if err := loadWith(t, s.Name, append(slices.Clone(k.path[:len(k.path)-1]), typo), "x"); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("misspelt as %s: got %v\nwant an error with %s", typo, err, want)
				}

				scalar := !k.nested && len(k.path) == 1 && k.typ.Kind() != reflect.Slice && k.typ.Kind() != reflect.Map
				if got := slices.Contains(layered, s.Name+"."+name); s.Layered && scalar && !got {
					t.Errorf("layered: %s.%s is not in LayeredKeys", s.Name, name)
				} else if got && !(s.Layered && scalar) {
					t.Errorf("layered: %s.%s is in LayeredKeys", s.Name, name)
				}
			})
		}
	}
}

// sectionKey is how an error names key of section: "server.listen",
// "notify[0].url", or a check's key as it is.
func sectionKey(section, key string) string {
	switch section {
	case "checks":
		return key
	case "notify":
		return "notify[0]." + key
	}
	return section + "." + key
}

// loadWith loads a valid config in which section sets the key at path to
// value, and returns the error.
func loadWith(t *testing.T, section string, path []string, value any) error {
	t.Helper()
	doc := map[string]any{
		"checks": []any{map[string]any{"name": "a", "type": "fake"}},
		"notify": []any{map[string]any{"url": "https://hooks.example.com/x"}},
	}
	var m map[string]any
	switch section {
	case "checks", "notify":
		m = doc[section].([]any)[0].(map[string]any)
	default:
		m = map[string]any{}
		doc[section] = m
	}
	for _, p := range path[:len(path)-1] {
		sub := map[string]any{}
		m[p] = sub
		m = sub
	}
	m[path[len(path)-1]] = value
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse("x.yaml", data, config.Options{Registry: checkstest.Registry(), LookupEnv: env(nil)})
	return err
}

// misspell swaps the key's second and third letters, as a typist does.
func misspell(key string) string {
	r := []rune(key)
	r[1], r[2] = r[2], r[1]
	return string(r)
}

// docsTable returns the generated key table of section in the page.
func docsTable(t *testing.T, page, section string) string {
	begin, end := keysMarkers(section)
	_, rest, ok := strings.Cut(page, begin)
	table, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("%s: no key table for %s", configDocs, section)
	}
	return table
}

// schemaHasKey reports whether the schema declares the key at path in
// section (for checks:, in every type's entry).
func schemaHasKey(schema map[string]any, section string, path []string) bool {
	s, _ := schema["properties"].(map[string]any)[section].(map[string]any)
	if items, ok := s["items"].(map[string]any); ok {
		s = items
	}
	if section == "checks" {
		all, _ := s["allOf"].([]any)
		if len(all) == 0 {
			return false
		}
		for _, c := range all {
			then := c.(map[string]any)["then"].(map[string]any)
			if !schemaHasKey(map[string]any{"properties": map[string]any{"x": then}}, "x", path) {
				return false
			}
		}
		return true
	}
	for _, p := range path {
		props, _ := s["properties"].(map[string]any)
		next, ok := props[p].(map[string]any)
		if !ok {
			return false
		}
		s = next
	}
	return true
}

// The docs' tables and the schema come from checks.KeysOf on the same
// structs: the walk above and KeysOf agree on every section's keys.
func TestSections_TheDeclarationsAreWhatSectionsLists(t *testing.T) {
	byName := map[string][]checks.Key{}
	for _, s := range config.Sections() {
		byName[s.Name] = s.Keys
	}
	for _, s := range config.SectionDeclarations() {
		var walked, listed []string
		for _, k := range declaredKeys(reflect.TypeOf(s.Keys).Elem(), nil) {
			walked = append(walked, strings.Join(k.path, "."))
		}
		var list func(prefix string, keys []checks.Key)
		list = func(prefix string, keys []checks.Key) {
			for _, k := range keys {
				listed = append(listed, prefix+k.Name)
				list(prefix+k.Name+".", k.Nested)
			}
		}
		list("", byName[s.Name])
		if !slices.Equal(walked, listed) {
			t.Errorf("%s: the struct declares %v, Sections lists %v", s.Name, walked, listed)
		}
	}
}
