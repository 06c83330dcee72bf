package config

import (
	"os"
	"regexp"
	"sort"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks"
)

// configs/healthd-full.yaml is documented as "every check type with every
// key": hold it to the declarations.
func TestFullConfig_HasEveryDeclaredKey(t *testing.T) {
	data, err := os.ReadFile("../../configs/healthd-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	server := defaultServerKeys()
	health := defaultHealthCheckKeys()
	defaults := defaultDefaultsKeys()
	notify := defaultNotifyKeys()
	sections := map[string][]checks.Key{
		"server":       checks.KeysOf(&server),
		"health_check": checks.KeysOf(&health),
		"defaults":     checks.KeysOf(&defaults),
	}
	for name, keys := range sections {
		m, _ := doc[name].(map[string]any)
		for _, miss := range missingKeys(keys, []map[string]any{m}) {
			// Keys that need a file of the user's (template, tls) stand
			// commented out, so the file validates anywhere.
			if regexp.MustCompile(`(?m)^\s*#\s*` + regexp.QuoteMeta(miss) + `:`).Match(data) {
				continue
			}
			t.Errorf("%s: key %q is not in configs/healthd-full.yaml", name, miss)
		}
	}
	var hooks []map[string]any
	for _, h := range asList(doc["notify"]) {
		hooks = append(hooks, h)
	}
	for _, miss := range missingKeys(checks.KeysOf(&notify), hooks) {
		t.Errorf("notify: key %q is not in configs/healthd-full.yaml", miss)
	}

	byType := map[string][]map[string]any{}
	for _, c := range asList(doc["checks"]) {
		typ, _ := c["type"].(string)
		byType[typ] = append(byType[typ], c)
	}
	reg := checks.Builtin()
	for _, name := range reg.Names() {
		typ, _ := reg.Lookup(name)
		if typ.NewConfig == nil {
			continue
		}
		if len(byType[name]) == 0 {
			t.Errorf("type %s has no check in configs/healthd-full.yaml", name)
			continue
		}
		for _, miss := range missingKeys(checks.KeysOf(typ.NewConfig(checks.Settings{})), byType[name]) {
			t.Errorf("type %s: key %q is in no check of configs/healthd-full.yaml", name, miss)
		}
	}
}

// missingKeys returns the keys (nested ones as a.b) that none of the
// mappings sets, commented-out keys aside.
func missingKeys(keys []checks.Key, ms []map[string]any) []string {
	var out []string
	for _, k := range keys {
		var sub []map[string]any
		found := false
		for _, m := range ms {
			v, ok := m[k.Name]
			if !ok {
				continue
			}
			found = true
			switch t := v.(type) {
			case map[string]any:
				sub = append(sub, t)
			case []any:
				sub = append(sub, asList(t)...)
			}
		}
		if !found {
			out = append(out, k.Name)
			continue
		}
		if len(k.Nested) > 0 {
			for _, n := range missingKeys(k.Nested, sub) {
				out = append(out, k.Name+"."+n)
			}
		}
	}
	sort.Strings(out)
	return out
}

func asList(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
