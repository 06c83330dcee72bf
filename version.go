// Package healthd holds what belongs to the whole project rather than to
// one of its packages: the version, read from CHANGELOG.md so that the two
// cannot disagree.
package healthd

import (
	_ "embed"
	"regexp"
)

//go:embed CHANGELOG.md
var changelog string

var releaseRe = regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+[^\]]*)\]`)

// Version is the newest released version in CHANGELOG.md ("0.4.0"), or
// "dev" when it names none.
func Version() string {
	if m := releaseRe.FindStringSubmatch(changelog); m != nil {
		return m[1]
	}
	return "dev"
}
