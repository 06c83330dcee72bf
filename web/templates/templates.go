// Package templates embeds the dashboard's HTML templates in the binary, so
// healthd serves its page with no files beside it and no external resources.
package templates

import "embed"

// FS holds the built-in templates.
//
//go:embed *.html
var FS embed.FS
