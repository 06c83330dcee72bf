package server

import (
	"encoding/json"

	"github.com/healthd/healthd/internal/runner"
)

func (st *State) render(f Format, snaps []runner.Snapshot, o runner.Overall, group string) ([]byte, error) {
	switch f {
	case FormatJSON:
		return renderJSON(snaps)
	default:
		return st.renderHTML(snaps, o, group)
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
