package checks

// envPattern matches a string holding a ${VAR} reference: a value whose
// type is only known after expansion (a bool or number from the
// environment) is accepted by the schema as such a string.
const envPattern = `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`

// durationPattern matches Go durations ("250ms", "1m30s") and a bare 0.
const durationPattern = `^(0|([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$`

// SectionSchema is the JSON Schema (draft 2020-12) of a section declaring
// keys: an object with exactly those properties. extra adds properties
// declared elsewhere (the keys every check has).
func SectionSchema(keys []Key, extra map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	for _, k := range keys {
		props[k.Name] = KeySchema(k)
		if k.Required {
			required = append(required, k.Name)
		}
	}
	for name, s := range extra {
		props[name] = s
	}
	out := map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// KeySchema is the JSON Schema of one key's values.
func KeySchema(k Key) map[string]any {
	var s map[string]any
	switch k.Kind {
	case "custom":
		s = zeroOf(k.typ).ParamSchema()
	case "string":
		s = map[string]any{"type": "string"}
		if len(k.Enum) > 0 {
			s = withEnv(map[string]any{"enum": stringsToAny(k.Enum)})
		}
	case "bool":
		s = withEnv(map[string]any{"type": "boolean"})
	case "int":
		s = withEnv(map[string]any{"type": "integer"})
	case "number":
		s = withEnv(map[string]any{"type": "number"})
	case "number or null":
		s = withEnv(map[string]any{"type": []any{"number", "null"}})
	case "duration":
		s = DurationSchema()
	case "list of strings":
		s = map[string]any{"anyOf": []any{
			map[string]any{"type": "string"},
			map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		}}
	case "mapping":
		s = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}
	case "section":
		s = SectionSchema(k.Nested, nil)
	case "list of sections":
		s = map[string]any{"type": "array", "items": SectionSchema(k.Nested, nil)}
	}
	if k.Doc != "" {
		s["description"] = k.Doc
	}
	if k.Default != "" {
		s["default"] = k.Default
	}
	return s
}

// DurationSchema accepts a Go duration string or 0.
func DurationSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string", "pattern": durationPattern},
		map[string]any{"type": "string", "pattern": envPattern},
		map[string]any{"const": 0},
	}}
}

// withEnv also accepts a string holding a ${VAR} reference.
func withEnv(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "string", "pattern": envPattern}}}
}

func stringsToAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}
