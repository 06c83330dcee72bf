package config_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
)

// compileSchema compiles config.Schema with a real JSON Schema validator,
// as an editor would.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(config.Schema(checks.Builtin()))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("healthd.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("healthd.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

// yamlInstance turns a YAML document into the JSON value an editor validates.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSchema_AcceptsTheShippedConfigs(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs/*.yaml")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlInstance(t, data)); err != nil {
			t.Errorf("%s: the schema rejects it:\n%v", f, err)
		}
	}
}

func TestSchema_RejectsWhatTheLoaderRejects(t *testing.T) {
	s := compileSchema(t)
	for _, tc := range []struct{ name, yaml, want string }{
		{"misspelt check key", "checks: [{type: disk, pth: /}]", "pth"},
		{"misspelt common key", "checks: [{type: disk, tiemout: 2s}]", "tiemout"},
		{"unknown type", "checks: [{type: dsik}]", "/checks/0/type"},
		{"misspelt server key", "server: {lisen: ':8000'}\nchecks: [{type: disk}]", "lisen"},
		{"bad enum", "server: {log_format: xml}\nchecks: [{type: disk}]", "xml"},
		{"bad duration", "checks: [{type: disk, timeout: 2}]", "timeout"},
		{"no checks", "server: {listen: ':8000'}", "checks"},
		{"unknown section", "chekcs: []", "chekcs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Validate(yamlInstance(t, []byte(tc.yaml)))
			if err == nil {
				t.Fatalf("the schema accepts %q", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the error does not name %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestSchema_AcceptsEnvironmentReferences(t *testing.T) {
	s := compileSchema(t)
	doc := "health_check: {DISK_USAGE_MAX: '${DISK_MAX:-90}', WARNINGS_AS_ERRORS: '${WAE}'}\n" +
		"checks: [{type: disk, critical: '${CRIT:-true}', timeout: '${T}'}]"
	if err := s.Validate(yamlInstance(t, []byte(doc))); err != nil {
		t.Errorf("the schema rejects ${VAR} values: %v", err)
	}
}
