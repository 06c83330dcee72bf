package config

import (
	"github.com/healthd/healthd/internal/checks"
)

// Schema returns the JSON Schema (draft 2020-12) of a config file whose
// checks are of reg's types, for editors (VS Code's YAML extension) to
// complete and validate healthd.yaml. It is made from the same key
// declarations the loader decodes, so it cannot drift from them.
func Schema(reg *checks.Registry) map[string]any {
	server := defaultServerKeys()
	health := defaultHealthCheckKeys()
	defaults := defaultPerCheckKeys()
	notify := defaultNotifyKeys()

	common := map[string]any{}
	var commonNames []string
	for _, k := range checks.KeysOf(&checkKeys{perCheckKeys: defaults}) {
		common[k.Name] = checks.KeySchema(k)
		commonNames = append(commonNames, k.Name)
	}
	names := reg.Names()
	typeEnum := make([]any, len(names))
	var perType []any
	for i, name := range names {
		typeEnum[i] = name
		typ, _ := reg.Lookup(name)
		if typ.NewConfig == nil {
			continue
		}
		own := checks.SectionSchema(checks.KeysOf(typ.NewConfig(checks.Settings{})), common)
		if req, ok := own["required"].([]string); ok {
			own["required"] = append(req, "type")
		} else {
			own["required"] = []string{"type"}
		}
		perType = append(perType, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": name}}, "required": []string{"type"}},
			"then": own,
		})
	}
	check := map[string]any{
		"type":       "object",
		"required":   []string{"type"},
		"properties": map[string]any{"type": map[string]any{"enum": typeEnum, "description": "the check type"}},
		"allOf":      perType,
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://github.com/healthd/healthd/healthd.schema.json",
		"title":                "healthd configuration",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"checks"},
		"properties": map[string]any{
			"server":       describe(checks.SectionSchema(checks.KeysOf(&server), nil), "how healthd serves"),
			"health_check": describe(checks.SectionSchema(checks.KeysOf(&health), nil), "django-health-check's HEALTH_CHECK settings"),
			"defaults":     describe(checks.SectionSchema(checks.KeysOf(&defaults), nil), "per-check keys' values for checks that do not set them"),
			"notify":       map[string]any{"type": "array", "description": "webhooks called on state changes", "items": checks.SectionSchema(checks.KeysOf(&notify), nil)},
			"checks":       map[string]any{"type": "array", "minItems": 1, "description": "the checks", "items": check},
		},
	}
}

func describe(s map[string]any, doc string) map[string]any {
	s["description"] = doc
	return s
}
