package server

import (
	"encoding/json"

	"github.com/healthd/healthd/internal/runner"
)

// view is what the renderers get for one /ht/ response.
type view struct {
	snaps    []runner.Snapshot
	overall  runner.Overall
	group    string // the group of a group URL, else ""
	scope    string // what the text format's last line names: "healthd", the group or the check
	ok       bool   // the response is 200: every critical check passes and healthd is not draining
	draining bool
	full     bool // the caller may see check names and messages (auth.go)
}

// verdict is the answer in one word, as the status code says it: passing
// or warning with a 200, failing with the failure status. The HTML pages
// carry it as their keyword-check marker (data-healthd-status).
func verdict(v view) string {
	switch {
	case !v.ok:
		return "failing"
	case v.overall.Status == runner.Passing:
		return "passing"
	}
	return "warning"
}

func (st *State) render(f Format, v view) ([]byte, error) {
	if !v.full {
		return st.renderOverall(f, v)
	}
	switch f {
	case FormatJSON:
		return renderJSON(v.snaps)
	case FormatHealth:
		return st.renderHealthJSON(v)
	case FormatText:
		return renderText(v), nil
	case FormatOpenMetrics:
		return st.renderOpenMetrics(v)
	default:
		return st.renderHTML(v)
	}
}

// renderJSON writes the seed's flat map: check name to "working" or the
// error text. encoding/json sorts map keys.
func renderJSON(snaps []runner.Snapshot) ([]byte, error) {
	m := make(map[string]string, len(snaps))
	for _, s := range snaps {
		m[s.Check.Name] = jsonValue(s.Result)
	}
	return json.Marshal(m)
}

func jsonValue(r *runner.Result) string {
	if r.Status == runner.Passing {
		return "working"
	}
	return r.Message
}
