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
	server := defaultServerKeys()
	health := defaultHealthCheckKeys()
	defaults := defaultPerCheckKeys()
	notify := defaultNotifyKeys()
	perCheck := map[string]bool{}
	for _, k := range checks.KeysOf(&defaults) {
		perCheck[k.Name] = true
	}
	common := checks.KeysOf(&checkKeys{perCheckKeys: defaults})
	for i, k := range common {
		if perCheck[k.Name] {
			common[i].Default = "defaults." + k.Name
		}
	}
	return []Section{
		{"server", checks.KeysOf(&server)},
		{"health_check", checks.KeysOf(&health)},
		{"defaults", checks.KeysOf(&defaults)},
		{"notify", checks.KeysOf(&notify)},
		{"checks", common},
	}
}
