package config

import "github.com/healthd/healthd/internal/checks"

// Section is one section of the config file and the keys it declares, for
// the key tables of docs/configuration.md.
type Section struct {
	Name string // as in the file: "server", "checks"
	Keys []checks.Key
}

// Sections lists the file's sections with their declared keys and
// defaults (sections.go). The checks section lists the keys every check
// has; a per-check key's default is the defaults: section's key.
func Sections() []Section {
	perCheck := map[string]bool{}
	for _, name := range keyNames(checks.KeysOf(&Defaults{})) {
		perCheck[name] = true
	}
	out := make([]Section, len(fileSections))
	for i, s := range fileSections {
		keys := checks.KeysOf(s.keys())
		if s.name == "checks" {
			for j, k := range keys {
				if perCheck[k.Name] {
					keys[j].Default = "defaults." + k.Name
				}
			}
		}
		out[i] = Section{s.name, keys}
	}
	return out
}
