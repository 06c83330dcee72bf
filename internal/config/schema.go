package config

import (
	"github.com/healthd/healthd/internal/checks"
)

// Schema returns the JSON Schema (draft 2020-12) of a config file whose
// checks are of reg's types, for editors (VS Code's YAML extension) to
// complete and validate healthd.yaml. It is made from the same key
// declarations the loader decodes (sections.go), so it cannot drift from
// them.
func Schema(reg *checks.Registry) map[string]any {
	props := map[string]any{}
	for _, s := range fileSections {
		keys := checks.KeysOf(s.keys())
		switch {
		case s.name == "checks":
			props[s.name] = map[string]any{"type": "array", "minItems": 1, "description": s.doc, "items": checkSchema(reg, keys)}
		case s.list:
			props[s.name] = map[string]any{"type": "array", "description": s.doc, "items": checks.SectionSchema(keys, nil)}
		default:
			sc := checks.SectionSchema(keys, nil)
			sc["description"] = s.doc
			props[s.name] = sc
		}
	}
	props[keyChecksFromEnv] = map[string]any{"type": "boolean",
		"description": "also build the checks the environment implies (DATABASE_URL, REDIS_URL…; docs/zero-config.md)"}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://github.com/healthd/healthd/healthd.schema.json",
		"title":                "healthd configuration",
		"type":                 "object",
		"additionalProperties": false,
		// checks: may be left out when the environment gives them.
		"anyOf": []any{
			map[string]any{"required": []string{"checks"}},
			map[string]any{"required": []string{keyChecksFromEnv}, "properties": map[string]any{keyChecksFromEnv: map[string]any{"const": true}}},
		},
		"properties": props,
	}
}

// checkSchema is the schema of one entry of checks:: the common keys and,
// chosen by type, the type's own.
func checkSchema(reg *checks.Registry, commonKeys []checks.Key) map[string]any {
	common := map[string]any{}
	for _, k := range commonKeys {
		common[k.Name] = checks.KeySchema(k)
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
	return map[string]any{
		"type":       "object",
		"required":   []string{"type"},
		"properties": map[string]any{"type": map[string]any{"enum": typeEnum, "description": "the check type"}},
		"allOf":      perType,
	}
}
