package checks

import (
	"fmt"
	"sort"
)

// Registry maps a type name (the `type:` key in config) to its Type.
// It is built explicitly (see Builtin) rather than filled by init functions,
// so tests can register their own types without touching shared state.
type Registry struct {
	types map[string]Type
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]Type{}} }

// Register adds a type; a duplicate or incomplete type is an error.
func (r *Registry) Register(t Type) error {
	if t.Name == "" || t.NewConfig == nil {
		return fmt.Errorf("checks: register: type needs a name and NewConfig")
	}
	if _, dup := r.types[t.Name]; dup {
		return fmt.Errorf("checks: register: type %q is already registered", t.Name)
	}
	if t.ComponentType == "" {
		t.ComponentType = "component"
	}
	r.types[t.Name] = t
	return nil
}

// MustRegister is Register for static tables, where a duplicate is a
// programming error.
func (r *Registry) MustRegister(types ...Type) *Registry {
	for _, t := range types {
		if err := r.Register(t); err != nil {
			panic(err)
		}
	}
	return r
}

// Lookup returns the type registered under name.
func (r *Registry) Lookup(name string) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Names returns the registered type names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Builtin returns a new registry holding every built-in check type. Adding a
// type is one file in this package and one line here.
func Builtin() *Registry {
	return NewRegistry().MustRegister(
		builtinTypes()...,
	)
}

// Parse decodes and validates a check's own keys into the type's Config,
// without side effects. also names keys valid beside the type's own (the
// keys every check has), for did-you-mean.
func (t Type) Parse(values map[string]any, s Settings, also ...string) (Config, error) {
	cfg := t.NewConfig(s)
	// Validate runs even when a key did not decode, so every problem is
	// reported at once; a key's decoding error is not repeated by Validate.
	var all Problems
	bad := map[string]bool{}
	for _, e := range flattenErrors(Decode(values, cfg, also...)) {
		all = append(all, e)
		bad[keyOf(e)] = true
	}
	for _, e := range flattenErrors(cfg.Validate()) {
		if !bad[keyOf(e)] {
			all = append(all, e)
		}
	}
	if err := all.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Build parses values and builds the check: what the config loader and the
// daemon do in two steps, in one, for tests and tools.
func (t Type) Build(values map[string]any, env Env, also ...string) (Checker, error) {
	cfg, err := t.Parse(values, env.Settings, also...)
	if err != nil {
		return nil, err
	}
	return cfg.Build(env)
}

func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}
