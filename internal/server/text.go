package server

import (
	"strings"

	"github.com/healthd/healthd/internal/runner"
)

// defaultScope names the whole set of checks in the text format's last line.
const defaultScope = "healthd"

// renderText writes kube-apiserver's verbose style: a line per check, then
// "<scope> check passed" or "<scope> check failed", where scope is
// "healthd", the group or the check. A warning or a non-critical failure
// does not fail the response, and says so; a warning that does fail it
// (WARNINGS_AS_ERRORS) is marked failed:
//
//	[+]database ok
//	[+]disk warning: web-1 93.2% disk usage exceeds 90%
//	[-]workers failed (non-critical): unavailable: no worker answered
//	[-]cache failed: unavailable: connection refused (127.0.0.1:11211)
//	healthd check failed
func renderText(v view) []byte {
	var b strings.Builder
	for _, s := range v.snaps {
		c, r := s.Check, s.Result
		switch {
		case r.Status == runner.Passing:
			b.WriteString("[+]" + c.Name + " ok\n")
		case r.Status == runner.Warning && !c.FailsResponse(r):
			b.WriteString("[+]" + c.Name + " " + oneLine(r.Message) + "\n")
		default:
			b.WriteString("[-]" + c.Name + " failed")
			if !c.Critical {
				b.WriteString(" (non-critical)")
			}
			b.WriteString(": " + oneLine(r.Message) + "\n")
		}
	}
	b.WriteString(textVerdict(v))
	return []byte(b.String())
}

// textVerdict is the last line, after the shutdown line while draining:
// all that a caller without a token gets.
func textVerdict(v view) string {
	var b strings.Builder
	if v.draining {
		b.WriteString("[-]shutdown failed: " + drainMessage + "\n")
	}
	b.WriteString(v.scope)
	if v.ok {
		b.WriteString(" check passed\n")
	} else {
		b.WriteString(" check failed\n")
	}
	return b.String()
}

// oneLine keeps a message on its line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
