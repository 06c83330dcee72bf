package config

// SectionDeclarations returns, for the tests of package config_test, each
// top-level section's name and its declaration (a pointer to the struct
// the loader decodes it into, holding the defaults), in the docs' order,
// and whether the section is a list of such mappings.
func SectionDeclarations() []SectionDeclaration {
	out := make([]SectionDeclaration, len(fileSections))
	for i, s := range fileSections {
		out[i] = SectionDeclaration{Name: s.name, Keys: s.keys(), List: s.list, Layered: s.layered}
	}
	return out
}

type SectionDeclaration struct {
	Name    string
	Keys    any
	List    bool
	Layered bool
}
