package checks

import (
	"fmt"
	"sort"
)

// Registry maps a type name (the `type:` key in config) to its constructor.
// It is built explicitly (see Builtin) rather than filled by init functions,
// so tests can register their own types without touching shared state.
type Registry struct {
	types map[string]Type
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]Type{}} }

// Register adds a type; a duplicate or incomplete type is an error.
func (r *Registry) Register(t Type) error {
	if t.Name == "" || t.New == nil {
		return fmt.Errorf("checks: register: type needs a name and a constructor")
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
