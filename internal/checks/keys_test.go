package checks_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
)

// level is a field type decoding itself: "low" or "high" only.
type level int

func (l *level) DecodeParam(v any, errorf func(suffix, format string, args ...any)) {
	switch v {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		errorf("", "must be low or high")
	}
}

func (*level) ParamSchema() map[string]any {
	return map[string]any{"enum": []any{"low", "high"}}
}

type testAuth struct {
	User  string `key:"user" required:"true" doc:"user name"`
	Token string `key:"token" secret:"true" doc:"the user's token"`
}

type testQueue struct {
	Name string `key:"name" required:"true" doc:"queue name"`
	Max  *int   `key:"max" doc:"most messages"`
}

// testConfig declares a key of every kind keys.go supports.
type testConfig struct {
	Str      string            `key:"str" doc:"a string"`
	Req      string            `key:"req" required:"true" doc:"a required string"`
	Mode     string            `key:"mode" enum:"fast,slow,off" doc:"one of three"`
	Flag     bool              `key:"flag" doc:"a bool"`
	Count    int               `key:"count" doc:"an int"`
	Ratio    float64           `key:"ratio" doc:"a number"`
	Limit    *float64          `key:"limit" doc:"a number or null"`
	Wait     time.Duration     `key:"wait" doc:"a duration"`
	OptStr   *string           `key:"opt_str" doc:"an optional string"`
	OptBool  *bool             `key:"opt_bool" default:"false" doc:"an optional bool"`
	OptInt   *int              `key:"opt_int" doc:"an optional int"`
	OptWait  *time.Duration    `key:"opt_wait" doc:"an optional duration"`
	List     []string          `key:"list" doc:"a list of strings"`
	Headers  map[string]string `key:"headers" secret:"true" doc:"a mapping"`
	Auth     *testAuth         `key:"auth" doc:"a section"`
	Queues   []testQueue       `key:"queues" doc:"a list of sections"`
	Level    level             `key:"level" default:"low" doc:"a custom type"`
	Password string            `key:"password" secret:"true" doc:"a credential"`
	internal string            // not a key
}

func defaults() *testConfig {
	lim := 90.0
	return &testConfig{Str: "s", Mode: "fast", Count: 3, Ratio: 0.5, Limit: &lim, Wait: 2 * time.Second, List: []string{"a", "b"}}
}

func ptr[T any](v T) *T { return &v }

func TestDecode_EveryKind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		check  func(c *testConfig) string // "" when c is as expected
	}{
		{"defaults kept when absent", map[string]any{"req": "r"}, func(c *testConfig) string {
			want := defaults()
			want.Req = "r"
			if !reflect.DeepEqual(c, want) {
				return fmt.Sprintf("%+v", c)
			}
			return ""
		}},
		{"string from a number or a bool", map[string]any{"req": 5, "str": true}, func(c *testConfig) string {
			if c.Req != "5" || c.Str != "true" {
				return fmt.Sprintf("req %q str %q", c.Req, c.Str)
			}
			return ""
		}},
		{"bool, also as an expanded string", map[string]any{"req": "r", "flag": "true"}, func(c *testConfig) string {
			if !c.Flag {
				return "flag false"
			}
			return ""
		}},
		{"int from a whole float and a string", map[string]any{"req": "r", "count": 7.0, "opt_int": " 9 "}, func(c *testConfig) string {
			if c.Count != 7 || c.OptInt == nil || *c.OptInt != 9 {
				return fmt.Sprintf("count %d opt_int %v", c.Count, c.OptInt)
			}
			return ""
		}},
		{"number from an int and a string", map[string]any{"req": "r", "ratio": 2, "limit": "12.5"}, func(c *testConfig) string {
			if c.Ratio != 2 || c.Limit == nil || *c.Limit != 12.5 {
				return fmt.Sprintf("ratio %v limit %v", c.Ratio, c.Limit)
			}
			return ""
		}},
		{"null disables a number or null", map[string]any{"req": "r", "limit": nil}, func(c *testConfig) string {
			if c.Limit != nil {
				return fmt.Sprintf("limit %v, want nil", *c.Limit)
			}
			return ""
		}},
		{"durations, bare 0 allowed", map[string]any{"req": "r", "wait": "1m30s", "opt_wait": 0}, func(c *testConfig) string {
			if c.Wait != 90*time.Second || c.OptWait == nil || *c.OptWait != 0 {
				return fmt.Sprintf("wait %v opt_wait %v", c.Wait, c.OptWait)
			}
			return ""
		}},
		{"optional scalars set, even to their zero", map[string]any{"req": "r", "opt_str": "", "opt_bool": false, "opt_int": 0}, func(c *testConfig) string {
			if c.OptStr == nil || *c.OptStr != "" || c.OptBool == nil || *c.OptBool || c.OptInt == nil || *c.OptInt != 0 {
				return fmt.Sprintf("opt_str %v opt_bool %v opt_int %v", c.OptStr, c.OptBool, c.OptInt)
			}
			return ""
		}},
		{"optional scalars null are not set", map[string]any{"req": "r", "opt_str": nil, "opt_int": nil}, func(c *testConfig) string {
			if c.OptStr != nil || c.OptInt != nil {
				return "set"
			}
			return ""
		}},
		{"a single string is a list of one", map[string]any{"req": "r", "list": "x"}, func(c *testConfig) string {
			if !slices.Equal(c.List, []string{"x"}) {
				return fmt.Sprint(c.List)
			}
			return ""
		}},
		{"an empty list is set, not absent", map[string]any{"req": "r", "list": []any{}}, func(c *testConfig) string {
			if c.List == nil || len(c.List) != 0 {
				return fmt.Sprint(c.List)
			}
			return ""
		}},
		{"mapping, section, list of sections, custom", map[string]any{
			"req":     "r",
			"headers": map[string]any{"X-A": "1"},
			"auth":    map[string]any{"user": "u", "token": "t"},
			"queues":  []any{map[string]any{"name": "q1"}, map[string]any{"name": "q2", "max": 5}},
			"level":   "high",
		}, func(c *testConfig) string {
			switch {
			case c.Headers["X-A"] != "1":
				return fmt.Sprint(c.Headers)
			case c.Auth == nil || *c.Auth != (testAuth{User: "u", Token: "t"}):
				return fmt.Sprint(c.Auth)
			case len(c.Queues) != 2 || c.Queues[0].Name != "q1" || c.Queues[0].Max != nil || c.Queues[1].Max == nil || *c.Queues[1].Max != 5:
				return fmt.Sprint(c.Queues)
			case c.Level != 2:
				return fmt.Sprint(c.Level)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaults()
			if err := checks.Decode(tc.values, c); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if msg := tc.check(c); msg != "" {
				t.Fatalf("decoded wrongly: %s", msg)
			}
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		also   []string
		want   []string // every error, in order
	}{
		{"required absent", map[string]any{}, nil, []string{`key "req": is required`}},
		{"required null", map[string]any{"req": nil}, nil, []string{`key "req": is required`}},
		{"required empty", map[string]any{"req": ""}, nil, []string{`key "req": must not be empty`}},
		{"required of the wrong type", map[string]any{"req": []any{"x"}}, nil,
			[]string{`key "req": must be a string, not a list`, `key "req": must not be empty`}},
		{"enum", map[string]any{"req": "r", "mode": "medium"}, nil, []string{`key "mode": must be fast, slow or off, not "medium"`}},
		{"unknown key with did-you-mean", map[string]any{"req": "r", "flga": true}, nil,
			[]string{`key "flga": unknown key (did you mean "flag"?)`}},
		{"unknown key like nothing", map[string]any{"req": "r", "zzzzzz": 1}, nil, []string{`key "zzzzzz": unknown key`}},
		{"did-you-mean names keys known elsewhere", map[string]any{"req": "r", "tiemout": "1s"}, []string{"timeout"},
			[]string{`key "tiemout": unknown key (did you mean "timeout"?)`}},
		{"type errors of every kind", map[string]any{
			"req": "r", "str": []any{}, "flag": "maybe", "count": 1.5, "ratio": "lots", "limit": true,
			"wait": 5, "opt_wait": "soon", "opt_int": "x", "list": 3, "headers": "h", "auth": "u", "queues": map[string]any{},
		}, nil, []string{
			`key "auth": must be a mapping with user, token`,
			`key "count": must be a whole number, not a number`,
			`key "flag": must be true or false, not "maybe"`,
			`key "headers": must be a mapping of names to strings, not "h"`,
			`key "limit": must be a number or null, not a boolean`,
			`key "list": must be a list of strings, not a number`,
			`key "opt_int": must be a whole number, not "x"`,
			`key "opt_wait": must be a duration such as 500ms or 2s, not "soon"`,
			`key "queues": must be a list of mappings, not a mapping`,
			`key "ratio": must be a number, not "lots"`,
			`key "str": must be a string, not a list`,
			`key "wait": must be a duration with a unit such as 500ms or 2s, not a number`,
		}},
		{"negative duration", map[string]any{"req": "r", "wait": "-1s"}, nil, []string{`key "wait": must not be negative, got "-1s"`}},
		{"elements of lists and mappings", map[string]any{"req": "r", "list": []any{"a", 2}, "headers": map[string]any{"X-A": 1}}, nil,
			[]string{`key "headers.X-A": must be a string, not a number`, `key "list[1]": must be a string, not a number`}},
		{"nested section", map[string]any{"req": "r", "auth": map[string]any{"tokn": "t"}}, nil, []string{
			`key "auth.tokn": unknown key (did you mean "token"?)`,
			`key "auth.user": is required`,
		}},
		{"list of sections", map[string]any{"req": "r", "queues": []any{
			map[string]any{"name": "a"},
			map[string]any{"max": "many"},
			"c",
			map[string]any{"name": "d", "mx": 1},
		}}, nil, []string{
			`key "queues[1].max": must be a whole number, not "many"`,
			`key "queues[1].name": is required`,
			`key "queues[2]": must be a mapping, not "c"`,
			`key "queues[3].mx": unknown key (did you mean "max"?)`,
		}},
		{"custom type", map[string]any{"req": "r", "level": "mid"}, nil, []string{`key "level": must be low or high`}},
		{"long values are not echoed", map[string]any{"req": "r", "flag": strings.Repeat("x", 41)}, nil,
			[]string{`key "flag": must be true or false, not a string`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checks.Decode(tc.values, defaults(), tc.also...)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var got []string
			for _, line := range strings.Split(err.Error(), "\n") {
				got = append(got, line)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			var ke *checks.KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("%T is not a *KeyError", err)
			}
		})
	}
}

// A key that fails to decode stays unset, so Validate does not judge a
// value the user did not write.
func TestDecode_OptionalScalarWithATypeErrorStaysUnset(t *testing.T) {
	c := defaults()
	if err := checks.Decode(map[string]any{"req": "r", "opt_int": "x", "opt_bool": "maybe"}, c); err == nil {
		t.Fatal("no error")
	}
	if c.OptInt != nil || c.OptBool != nil {
		t.Fatalf("opt_int %v, opt_bool %v: want both unset", c.OptInt, c.OptBool)
	}
}

func TestKeysOf_DescribesTheDeclaration(t *testing.T) {
	keys := checks.KeysOf(defaults())
	var names []string
	byName := map[string]checks.Key{}
	for _, k := range keys {
		names = append(names, k.Name)
		byName[k.Name] = k
	}
	want := []string{"str", "req", "mode", "flag", "count", "ratio", "limit", "wait", "opt_str", "opt_bool",
		"opt_int", "opt_wait", "list", "headers", "auth", "queues", "level", "password"}
	if !slices.Equal(names, want) {
		t.Fatalf("keys %v, want %v (declaration order, no unexported field)", names, want)
	}
	for _, tc := range []struct {
		name, kind, def string
	}{
		{"str", "string", "s"},
		{"req", "string", ""},
		{"mode", "string", "fast"},
		{"flag", "bool", "false"},
		{"count", "int", "3"},
		{"ratio", "number", "0.5"},
		{"limit", "number or null", "90"},
		{"wait", "duration", "2s"},
		{"opt_str", "string", ""},
		{"opt_bool", "bool", "false"}, // from the default tag
		{"opt_int", "int", ""},
		{"opt_wait", "duration", ""},
		{"list", "list of strings", "[a, b]"},
		{"headers", "mapping", ""},
		{"auth", "section", ""},
		{"queues", "list of sections", ""},
		{"level", "custom", "low"},
	} {
		k := byName[tc.name]
		if k.Kind != tc.kind || k.Default != tc.def {
			t.Errorf("%s: kind %q default %q, want %q %q", tc.name, k.Kind, k.Default, tc.kind, tc.def)
		}
		if k.Doc == "" {
			t.Errorf("%s: no doc", tc.name)
		}
	}
	if k := byName["req"]; !k.Required {
		t.Error("req is not required")
	}
	if k := byName["mode"]; !slices.Equal(k.Enum, []string{"fast", "slow", "off"}) {
		t.Errorf("mode's enum %v", k.Enum)
	}
	if !byName["password"].Secret || byName["str"].Secret {
		t.Error("secret tags misread")
	}
	auth := byName["auth"].Nested
	if len(auth) != 2 || auth[0].Name != "user" || !auth[0].Required || auth[1].Name != "token" || !auth[1].Secret {
		t.Errorf("auth's keys %+v", auth)
	}
	if q := byName["queues"].Nested; len(q) != 2 || q[0].Name != "name" || q[1].Name != "max" || q[1].Kind != "int" {
		t.Errorf("queues' keys %+v", q)
	}
	if s := checks.KeySchema(byName["level"]); !reflect.DeepEqual(s["enum"], []any{"low", "high"}) || s["default"] != "low" {
		t.Errorf("level's schema %v", s)
	}
}

func TestSecretValues_FindsEveryTaggedValue(t *testing.T) {
	c := defaults()
	err := checks.Decode(map[string]any{
		"req":      "not-secret",
		"password": "pw-1",
		"headers":  map[string]any{"Authorization": "Bearer tk-2"},
		"auth":     map[string]any{"user": "u", "token": "tk-3"},
		"str":      "not-secret-either",
	}, c)
	if err != nil {
		t.Fatal(err)
	}
	got := checks.SecretValues(c)
	slices.Sort(got)
	if want := []string{"Bearer tk-2", "pw-1", "tk-3"}; !slices.Equal(got, want) {
		t.Fatalf("SecretValues = %q, want %q", got, want)
	}
	if got := checks.SecretValues(defaults()); len(got) != 0 {
		t.Fatalf("no secret set, got %q", got)
	}
}

// Every built-in type declares its keys in a form the docs and the schema
// can use: KeysOf works, and every key, nested ones too, has a one-line doc.
func TestBuiltinTypes_DeclareDocumentedKeys(t *testing.T) {
	reg := checks.Builtin()
	for _, name := range reg.Names() {
		t.Run(name, func(t *testing.T) {
			typ, _ := reg.Lookup(name)
			keys := checks.KeysOf(typ.NewConfig(checks.Settings{}))
			if len(keys) == 0 {
				t.Fatal("declares no key")
			}
			var walk func(prefix string, keys []checks.Key)
			walk = func(prefix string, keys []checks.Key) {
				for _, k := range keys {
					switch {
					case k.Doc == "":
						t.Errorf("key %s%s has no doc", prefix, k.Name)
					case strings.Contains(k.Doc, "\n"):
						t.Errorf("key %s%s: doc is more than one line", prefix, k.Name)
					}
					if s := checks.KeySchema(k); s["description"] != k.Doc {
						t.Errorf("key %s%s: schema %v lacks the doc", prefix, k.Name, s)
					}
					walk(prefix+k.Name+".", k.Nested)
				}
			}
			walk("", keys)
		})
	}
}

// Validate runs even when decoding failed (so every problem is reported at
// once); with nothing set, each type reports exactly its required keys, and
// no Validate trips over a zero value. A type that needs one of several
// keys (redis: url, sentinels or cluster_nodes) declares none of them
// required, and its Validate says so on one of them:
// `key "url": is required (or sentinels, or cluster_nodes)`.
func TestBuiltinTypes_EmptyConfigReportsTheRequiredKeys(t *testing.T) {
	reg := checks.Builtin()
	for _, name := range reg.Names() {
		t.Run(name, func(t *testing.T) {
			typ, _ := reg.Lookup(name)
			var want []string
			declared := map[string]bool{}
			for _, k := range checks.KeysOf(typ.NewConfig(checks.Settings{})) {
				declared[k.Name] = true
				if k.Required {
					want = append(want, fmt.Sprintf("key %q: is required", k.Name))
				}
			}
			_, err := typ.Parse(map[string]any{}, checks.Settings{})
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			got = slices.DeleteFunc(got, func(e string) bool { // one of several keys
				var key string
				_, serr := fmt.Sscanf(e, "key %q: is required (or ", &key)
				return serr == nil && declared[key] && len(want) == 0
			})
			if len(got) == 0 {
				got = nil
			}
			if !slices.Equal(got, want) {
				t.Fatalf("errors %q, want %q", got, want)
			}
		})
	}
}
