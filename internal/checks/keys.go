package checks

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A check type declares its keys once, as the fields of a struct:
//
//	type postgresConfig struct {
//		DSN       string        `key:"dsn" required:"true" doc:"connection string or postgres:// URL"`
//		ReadWrite bool          `key:"read_write" doc:"fail unless the server accepts writes"`
//		MaxLag    time.Duration `key:"max_replication_lag" doc:"fail a standby lagging more (0: not checked)"`
//	}
//
// Decode fills such a struct strictly from the YAML values (every unknown
// key, with a did-you-mean, and every type error at once); KeysOf describes
// it for the docs' key tables and the JSON Schema. The value the struct has
// before decoding is the key's default.
//
// Tags: key (the YAML name), doc (one line for the docs and the schema),
// required, enum (comma-separated allowed values), default (the default as
// shown in the docs, where the zero value would mislead), secret (the whole
// value is a credential).
//
// Field types: string, bool, int, float64, *float64 (null disables),
// time.Duration, a pointer to string, bool, int or time.Duration (nil when
// the key is absent or null, for a type that must tell "not set" from a
// value), []string (a single string is a list of one; nil when absent),
// map[string]string, a struct or pointer to struct (a nested section), a
// slice of structs (a list of sections), and any type implementing
// ParamDecoder.

// ParamDecoder is a field type that decodes its own YAML value (a status
// list that takes numbers and ranges, say).
type ParamDecoder interface {
	// DecodeParam decodes v; each problem is reported through errorf with
	// a key suffix ("" for the key itself, "[2]" for an element).
	DecodeParam(v any, errorf func(suffix, format string, args ...any))
	// ParamSchema is the JSON Schema of the values DecodeParam accepts.
	ParamSchema() map[string]any
}

// A ParamDecoder may also have a ParamKind method naming its values for
// the docs' key tables ("status, range or list"); without one, they say
// "custom".
type paramKinder interface{ ParamKind() string }

// Key describes one declared key.
type Key struct {
	Name     string
	Doc      string
	Kind     string // "string", "bool", "int", "number", "duration", "list of strings", "mapping", "section", "list of sections", or a ParamDecoder's own
	Default  string // as shown in docs; "" when none
	Required bool
	Enum     []string
	Secret   bool
	Nested   []Key // a section's or list of sections' keys
	field    []int
	typ      reflect.Type
}

var (
	durationType     = reflect.TypeFor[time.Duration]()
	paramDecoderType = reflect.TypeFor[ParamDecoder]()
)

// KeysOf lists the keys declared by cfg, a pointer to a struct holding the
// defaults, in declaration order.
func KeysOf(cfg any) []Key {
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		panic(fmt.Sprintf("checks: KeysOf(%T): not a struct", cfg))
	}
	return keysOf(v)
}

func keysOf(v reflect.Value) []Key {
	t := v.Type()
	var out []Key
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("key")
		if f.Anonymous && name == "" { // embedded: its keys are this struct's
			for _, k := range keysOf(v.Field(i)) {
				k.field = append([]int{i}, k.field...)
				out = append(out, k)
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		k := Key{
			Name:     name,
			Doc:      f.Tag.Get("doc"),
			Required: f.Tag.Get("required") == "true",
			Secret:   f.Tag.Get("secret") == "true",
			field:    []int{i},
			typ:      f.Type,
		}
		if e := f.Tag.Get("enum"); e != "" {
			k.Enum = strings.Split(e, ",")
		}
		k.Kind = kindOf(f.Type)
		fv := v.Field(i)
		switch {
		case k.Kind == "section":
			st := f.Type
			if st.Kind() == reflect.Pointer {
				st = st.Elem()
			}
			k.Nested = keysOf(reflect.New(st).Elem())
		case k.Kind == "list of sections":
			k.Nested = keysOf(reflect.New(f.Type.Elem()).Elem())
		}
		k.Default = f.Tag.Get("default")
		if k.Default == "" && !k.Required {
			k.Default = formatDefault(fv)
		}
		out = append(out, k)
	}
	return out
}

func kindOf(t reflect.Type) string {
	if t.Implements(paramDecoderType) || reflect.PointerTo(t).Implements(paramDecoderType) {
		return "custom"
	}
	if optionalScalar(t) {
		return kindOf(t.Elem())
	}
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Int:
		return "int"
	case t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Float64:
		return "number or null"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "list of strings"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "list of sections"
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return "mapping"
	case t.Kind() == reflect.Struct, t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		return "section"
	}
	panic(fmt.Sprintf("checks: a key of type %s cannot be declared", t))
}

// optionalScalar reports whether t is a pointer to a scalar key type: the
// key's kind is the scalar's, and nil means not set.
func optionalScalar(t reflect.Type) bool {
	if t.Kind() != reflect.Pointer {
		return false
	}
	e := t.Elem()
	return e == durationType || e.Kind() == reflect.String || e.Kind() == reflect.Bool || e.Kind() == reflect.Int
}

func formatDefault(v reflect.Value) string {
	if optionalScalar(v.Type()) {
		if v.IsNil() {
			return ""
		}
		return formatDefault(v.Elem())
	}
	if v.Type() == durationType {
		if d := time.Duration(v.Int()); d != 0 {
			return d.String()
		}
		return ""
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int:
		if v.Int() == 0 {
			return ""
		}
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		if v.Float() == 0 {
			return ""
		}
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		if v.Elem().Kind() == reflect.Float64 {
			return strconv.FormatFloat(v.Elem().Float(), 'g', -1, 64)
		}
	case reflect.Slice:
		if v.Len() == 0 || v.Type().Elem().Kind() != reflect.String {
			return ""
		}
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = v.Index(i).String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return ""
}

// Decode fills cfg, a pointer to a struct declaring keys, from values (a
// check's own keys as decoded from YAML, environment expanded). It returns
// every problem as a *KeyError, sorted by key, joined; also names keys that
// are valid elsewhere (the keys every check has), so that their misspelling
// still gets a did-you-mean.
func Decode(values map[string]any, cfg any, also ...string) error {
	d := &decoder{}
	d.section("", values, reflect.ValueOf(cfg).Elem(), also)
	return d.err()
}

type decoder struct{ errs []error }

func (d *decoder) errorf(key, format string, args ...any) {
	d.errs = append(d.errs, &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	sort.SliceStable(d.errs, func(i, j int) bool {
		return d.errs[i].(*KeyError).Key < d.errs[j].(*KeyError).Key
	})
	return errors.Join(d.errs...)
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func (d *decoder) section(prefix string, values map[string]any, v reflect.Value, also []string) {
	keys := keysOf(v)
	known := make([]string, 0, len(keys)+len(also))
	byName := map[string]Key{}
	for _, k := range keys {
		known = append(known, k.Name)
		byName[k.Name] = k
	}
	for _, name := range sortedNames(values) {
		if _, ok := byName[name]; !ok {
			msg := "unknown key"
			if s := Suggest(name, append(known, also...)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(join(prefix, name), "%s", msg)
		}
	}
	for _, k := range keys {
		raw, present := values[k.Name]
		path := join(prefix, k.Name)
		fv := v.FieldByIndex(k.field)
		if !present || (raw == nil && k.Kind != "number or null") {
			if k.Required {
				d.errorf(path, "is required")
			}
			continue
		}
		if optionalScalar(fv.Type()) {
			// Set only when the value decoded: a type error leaves the
			// key unset, so Validate does not judge a made-up value.
			nv, n := reflect.New(fv.Type().Elem()), len(d.errs)
			d.value(path, k, raw, nv.Elem())
			if len(d.errs) > n {
				continue
			}
			fv.Set(nv)
			fv = nv.Elem()
		} else {
			d.value(path, k, raw, fv)
		}
		if k.Required && fv.Kind() == reflect.String && fv.String() == "" {
			d.errorf(path, "must not be empty")
		}
		if len(k.Enum) > 0 && fv.Kind() == reflect.String && fv.String() != "" && !containsString(k.Enum, fv.String()) {
			d.errorf(path, "must be %s, not %q", orList(k.Enum), fv.String())
		}
	}
}

func (d *decoder) value(path string, k Key, raw any, fv reflect.Value) {
	if k.Kind == "custom" {
		pd, ok := fv.Addr().Interface().(ParamDecoder)
		if !ok {
			pd = fv.Interface().(ParamDecoder)
		}
		pd.DecodeParam(raw, func(suffix, format string, args ...any) { d.errorf(path+suffix, format, args...) })
		return
	}
	switch k.Kind {
	case "string":
		switch s := raw.(type) {
		case string:
			fv.SetString(s)
		case int, float64, bool:
			fv.SetString(fmt.Sprint(s))
		default:
			d.errorf(path, "must be a string, not %s", typeName(raw))
		}
	case "bool":
		switch b := raw.(type) {
		case bool:
			fv.SetBool(b)
			return
		case string: // after ${VAR} expansion
			if r, err := strconv.ParseBool(b); err == nil {
				fv.SetBool(r)
				return
			}
		}
		d.errorf(path, "must be true or false, not %s", describe(raw))
	case "int":
		switch n := raw.(type) {
		case int:
			fv.SetInt(int64(n))
			return
		case float64:
			if n == math.Trunc(n) {
				fv.SetInt(int64(n))
				return
			}
		case string:
			if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
				fv.SetInt(int64(i))
				return
			}
		}
		d.errorf(path, "must be a whole number, not %s", describe(raw))
	case "number":
		f, ok := toFloat(raw)
		if !ok {
			d.errorf(path, "must be a number, not %s", describe(raw))
			return
		}
		fv.SetFloat(f)
	case "number or null":
		if raw == nil {
			fv.SetZero()
			return
		}
		f, ok := toFloat(raw)
		if !ok {
			d.errorf(path, "must be a number or null, not %s", describe(raw))
			return
		}
		fv.Set(reflect.ValueOf(&f))
	case "duration":
		dur, err := ParseDuration(raw)
		if err != nil {
			d.errorf(path, "%v", err)
			return
		}
		fv.SetInt(int64(dur))
	case "list of strings":
		switch l := raw.(type) {
		case string:
			fv.Set(reflect.ValueOf([]string{l}))
		case []any:
			out := make([]string, 0, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					d.errorf(fmt.Sprintf("%s[%d]", path, i), "must be a string, not %s", describe(e))
					continue
				}
				out = append(out, s)
			}
			fv.Set(reflect.ValueOf(out))
		default:
			d.errorf(path, "must be a list of strings, not %s", describe(raw))
		}
	case "mapping":
		m, ok := raw.(map[string]any)
		if !ok {
			d.errorf(path, "must be a mapping of names to strings, not %s", describe(raw))
			return
		}
		out := make(map[string]string, len(m))
		for _, name := range sortedNames(m) {
			s, ok := m[name].(string)
			if !ok {
				d.errorf(path+"."+name, "must be a string, not %s", describe(m[name]))
				continue
			}
			out[name] = s
		}
		fv.Set(reflect.ValueOf(out))
	case "section":
		m, ok := raw.(map[string]any)
		if !ok {
			d.errorf(path, "must be a mapping with %s", keyList(k.Nested))
			return
		}
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				fv.Set(reflect.New(fv.Type().Elem()))
			}
			fv = fv.Elem()
		}
		d.section(path, m, fv, nil)
	case "list of sections":
		l, ok := raw.([]any)
		if !ok {
			d.errorf(path, "must be a list of mappings, not %s", describe(raw))
			return
		}
		out := reflect.MakeSlice(fv.Type(), 0, len(l))
		for i, e := range l {
			ip := fmt.Sprintf("%s[%d]", path, i)
			m, ok := e.(map[string]any)
			if !ok {
				d.errorf(ip, "must be a mapping, not %s", describe(e))
				continue
			}
			item := reflect.New(fv.Type().Elem()).Elem()
			d.section(ip, m, item, nil)
			out = reflect.Append(out, item)
		}
		fv.Set(out)
	}
}

func keyList(keys []Key) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	if len(names) > 3 {
		names = names[:3]
	}
	return strings.Join(names, ", ")
}

func orList(vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	return strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SecretValues returns the values of cfg's keys tagged secret, for
// redaction.
func SecretValues(cfg any) []string {
	var out []string
	var walk func(v reflect.Value, keys []Key)
	walk = func(v reflect.Value, keys []Key) {
		for _, k := range keys {
			fv := v.FieldByIndex(k.field)
			switch {
			case k.Secret && fv.Kind() == reflect.Pointer && optionalScalar(fv.Type()):
				if !fv.IsNil() && fv.Elem().Kind() == reflect.String && fv.Elem().String() != "" {
					out = append(out, fv.Elem().String())
				}
			case k.Secret && fv.Kind() == reflect.String && fv.String() != "":
				out = append(out, fv.String())
			case k.Secret && fv.Kind() == reflect.Map:
				for _, mk := range fv.MapKeys() {
					if s := fv.MapIndex(mk).String(); s != "" {
						out = append(out, s)
					}
				}
			case k.Kind == "section":
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue
					}
					fv = fv.Elem()
				}
				walk(fv, k.Nested)
			case k.Kind == "list of sections":
				for i := range fv.Len() {
					walk(fv.Index(i), k.Nested)
				}
			}
		}
	}
	v := reflect.ValueOf(cfg).Elem()
	walk(v, keysOf(v))
	return out
}

// TypeName is how the docs' key tables name the key's values: its Kind,
// or a ParamDecoder's ParamKind.
func (k Key) TypeName() string {
	if k.Kind == "custom" {
		if pk, ok := zeroOf(k.typ).(paramKinder); ok {
			return pk.ParamKind()
		}
	}
	return k.Kind
}

// zeroOf returns a ParamDecoder of type t, for its schema.
func zeroOf(t reflect.Type) ParamDecoder {
	if t.Implements(paramDecoderType) {
		return reflect.New(t).Elem().Interface().(ParamDecoder)
	}
	return reflect.New(t).Interface().(ParamDecoder)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// ParseDuration accepts Go duration strings ("1.5s", "250ms"). A bare 0 is
// allowed; other bare numbers are refused because the unit would be a guess.
func ParseDuration(v any) (time.Duration, error) {
	switch d := v.(type) {
	case string:
		r, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return 0, fmt.Errorf("must be a duration such as 500ms or 2s, not %q", d)
		}
		if r < 0 {
			return 0, fmt.Errorf("must not be negative, got %q", d)
		}
		return r, nil
	case int:
		if d == 0 {
			return 0, nil
		}
	}
	return 0, fmt.Errorf("must be a duration with a unit such as 500ms or 2s, not %s", describe(v))
}
