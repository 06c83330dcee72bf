package server

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/healthd/healthd/internal/runner"
)

// healthDoc is an application/health+json body (draft-inadarei-api-health-check-06).
type healthDoc struct {
	Status      string                       `json:"status"`
	Version     string                       `json:"version,omitempty"`
	Description string                       `json:"description,omitempty"`
	Output      string                       `json:"output,omitempty"`
	Checks      map[string][]healthComponent `json:"checks,omitempty"`
}

// healthComponent is one entry of a checks array. Every check has an entry
// keyed "<name>:responseTime" (observedValue: the run's duration in ms) that
// also carries the check's history; each observation the check made adds an
// entry keyed "<name>:<measurement>".
type healthComponent struct {
	ComponentID   string         `json:"componentId"`
	ComponentType string         `json:"componentType"`
	ObservedValue *float64       `json:"observedValue,omitempty"`
	ObservedUnit  string         `json:"observedUnit,omitempty"`
	Status        string         `json:"status"`
	Time          string         `json:"time"`
	Output        string         `json:"output,omitempty"`
	Critical      *bool          `json:"critical,omitempty"` // only false is shown
	History       *healthHistory `json:"history,omitempty"`
}

// healthHistory is healthd's own addition (the draft allows extra keys):
// the check's recent runs, the failures kept after they left them, and the
// share of the recent window it was not failing.
type healthHistory struct {
	Uptime        float64       `json:"uptime"`        // 0..1
	WindowSeconds float64       `json:"windowSeconds"` // the span uptime covers
	Results       []healthEvent `json:"results"`       // oldest first
	KeptFailures  []healthEvent `json:"keptFailures,omitempty"`
}

type healthEvent struct {
	Status     string  `json:"status"`
	Time       string  `json:"time"`
	DurationMs float64 `json:"durationMs"`
	Output     string  `json:"output,omitempty"`
}

// healthTime is the draft's ISO 8601 time, in UTC with milliseconds.
const healthTime = "2006-01-02T15:04:05.000Z07:00"

func healthStatus(s runner.Status) string {
	switch s {
	case runner.Passing:
		return "pass"
	case runner.Warning:
		return "warn"
	}
	return "fail"
}

// healthStatusOverall is the top-level status. It follows the status code,
// as the draft requires (fail is 4xx/5xx, pass and warn are 2xx): a warning
// that fails the response (WARNINGS_AS_ERRORS) and draining are "fail".
func healthStatusOverall(v view) string {
	if !v.ok {
		return "fail"
	}
	return healthStatus(v.overall.Status)
}

// renderHealthJSON writes the healthDoc of v: exactly what encoding/json
// makes of it (TestHealthJSON_WritesWhatEncodingJSONWould holds that), but
// written straight from the results. At 1,000 checks the body carries 100,000
// history events (7 MB), and reflection made it 130 ms of CPU a render; the
// histories are the checks' kept arrays, referred to, not copied (payload.go).
func (st *State) renderHealthJSON(v view) (payload, error) {
	desc := "healthd on " + st.proc.host
	switch {
	case v.group != "":
		desc += ", group " + v.group
	case v.scope != defaultScope:
		desc += ", check " + v.scope
	}
	// The checks object's keys, sorted as encoding/json sorts a map's; an
	// observation named like another entry joins its array, as in a map.
	type entry struct {
		snap int
		obs  int // -1 for the responseTime entry
	}
	keys := make([]string, 0, len(v.snaps))
	entries := make(map[string][]entry, len(v.snaps))
	add := func(key string, e entry) {
		if _, ok := entries[key]; !ok {
			keys = append(keys, key)
		}
		entries[key] = append(entries[key], e)
	}
	hists := make([]*historyJSON, len(v.snaps))
	size := 256 + len(desc)
	for i, s := range v.snaps {
		add(s.Check.Name+":responseTime", entry{i, -1})
		for j, o := range s.Result.Observations {
			add(s.Check.Name+":"+measurementName(o.Measurement), entry{i, j})
		}
		if h := s.Check.History(); h != nil {
			hists[i] = st.historyJSON(s.Check, h)
		}
		size += 384 + len(s.Result.Message) + 128*len(s.Result.Observations)
	}
	slices.Sort(keys)

	now := referenceTime(v.snaps) // not the clock: the body is cached (bodycache.go)
	pc := &pieces{b: make([]byte, 0, size), p: make(payload, 0, 1+4*len(v.snaps))}
	pc.b = append(pc.b, `{"status":`...)
	pc.b = appendJSONString(pc.b, healthStatusOverall(v))
	if st.proc.opts.Version != "" {
		pc.b = append(pc.b, `,"version":`...)
		pc.b = appendJSONString(pc.b, st.proc.opts.Version)
	}
	pc.b = append(pc.b, `,"description":`...)
	pc.b = appendJSONString(pc.b, desc)
	if v.draining {
		pc.b = append(pc.b, `,"output":`...)
		pc.b = appendJSONString(pc.b, drainMessage)
	}
	if len(keys) > 0 {
		pc.b = append(pc.b, `,"checks":{`...)
		for i, key := range keys {
			if i > 0 {
				pc.b = append(pc.b, ',')
			}
			pc.b = appendJSONString(pc.b, key)
			pc.b = append(pc.b, ":["...)
			for j, e := range entries[key] {
				if j > 0 {
					pc.b = append(pc.b, ',')
				}
				appendComponent(pc, v.snaps[e.snap], hists[e.snap], e.obs, now)
			}
			pc.b = append(pc.b, ']')
		}
		pc.b = append(pc.b, '}')
	}
	pc.b = append(pc.b, '}')
	return pc.payload(), nil
}

// appendComponent writes one healthComponent: s's responseTime entry (obs
// -1), with its history (hist, nil without), or the entry of its
// observation obs.
func appendComponent(pc *pieces, s runner.Snapshot, hist *historyJSON, obs int, now time.Time) {
	c, r := s.Check, s.Result
	pc.b = append(pc.b, `{"componentId":`...)
	pc.b = appendJSONString(pc.b, c.Name)
	pc.b = append(pc.b, `,"componentType":`...)
	pc.b = appendJSONString(pc.b, c.ComponentType)
	if obs < 0 {
		pc.b = append(pc.b, `,"observedValue":`...)
		pc.b = appendJSONFloat(pc.b, ms(r.Duration))
		pc.b = append(pc.b, `,"observedUnit":"ms"`...)
	} else {
		o := r.Observations[obs]
		if !math.IsNaN(o.Value) && !math.IsInf(o.Value, 0) { // JSON has no NaN
			pc.b = append(pc.b, `,"observedValue":`...)
			pc.b = appendJSONFloat(pc.b, o.Value)
		}
		if o.Unit != "" {
			pc.b = append(pc.b, `,"observedUnit":`...)
			pc.b = appendJSONString(pc.b, o.Unit)
		}
	}
	pc.b = append(pc.b, `,"status":`...)
	pc.b = appendJSONString(pc.b, healthStatus(r.Status))
	pc.b = append(pc.b, `,"time":"`...)
	pc.b = appendHealthTime(pc.b, r.Finished())
	pc.b = append(pc.b, '"')
	if r.Status != runner.Passing && r.Message != "" {
		pc.b = append(pc.b, `,"output":`...)
		pc.b = appendJSONString(pc.b, r.Message)
	}
	if obs >= 0 {
		pc.b = append(pc.b, '}')
		return
	}
	if !c.Critical {
		pc.b = append(pc.b, `,"critical":false`...)
	}
	if hist != nil {
		up, window := c.History().Uptime(now)
		pc.b = append(pc.b, `,"history":{"uptime":`...)
		pc.b = appendJSONFloat(pc.b, round3(up))
		pc.b = append(pc.b, `,"windowSeconds":`...)
		pc.b = appendJSONFloat(pc.b, round3(window.Seconds()))
		pc.b = append(pc.b, `,"results":`...)
		pc.ref(hist.results)
		if hist.kept != nil {
			pc.b = append(pc.b, `,"keptFailures":`...)
			pc.ref(hist.kept)
		}
		pc.b = append(pc.b, '}')
	}
	pc.b = append(pc.b, '}')
}

// historyJSON is a check's history as health+json writes it: the results
// and kept failures arrays. It is kept per check (State.histories) while
// the history is unchanged, and a history changes only by a new newest
// result: a render after one check ran writes one history again, not a
// thousand (touching every stored result was most of a render's time).
type historyJSON struct {
	newest        runner.Entry
	results, kept []byte // kept is nil when there are none
}

// historyJSON returns h's arrays, from the check's kept copy when its
// newest result is the same.
func (st *State) historyJSON(c *runner.Check, h *runner.History) *historyJSON {
	newest, ok := h.Newest()
	if !ok {
		return &historyJSON{results: []byte("[]")}
	}
	slot := st.histories[c]
	if slot != nil {
		if hj := slot.Load(); hj != nil && hj.newest == newest {
			return hj
		}
	}
	rs := h.Results()
	hj := &historyJSON{newest: rs[len(rs)-1], results: appendEvents(make([]byte, 0, 2+len(rs)*eventSize), rs)}
	if kept := h.KeptFailures(); len(kept) > 0 {
		hj.kept = appendEvents(make([]byte, 0, 2+len(kept)*eventSize), kept)
	}
	if slot != nil {
		slot.Store(hj)
	}
	return hj
}

// eventSize is about the length of a passing run's event, to size buffers.
const eventSize = 72

// appendEvents writes rs as a JSON array of healthEvent.
func appendEvents(b []byte, rs []runner.Entry) []byte {
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"status":"`...)
		b = append(b, healthStatus(r.Status)...)
		b = append(b, `","time":"`...)
		b = appendHealthTime(b, r.Finished())
		b = append(b, `","durationMs":`...)
		b = appendJSONFloat(b, ms(r.Duration))
		if r.Status != runner.Passing && r.Message != "" {
			b = append(b, `,"output":`...)
			b = appendJSONString(b, r.Message)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendHealthTime writes t as healthTime does (UTC, milliseconds
// truncated) without time.Format's parsing of the layout.
func appendHealthTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, healthTime)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendDigits writes n (0 <= n < 10^width) with width digits.
func appendDigits(b []byte, n, width int) []byte {
	var buf [4]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}

// appendJSONString writes s as encoding/json does (HTML-safe). Names,
// states and most messages are plain ASCII and are copied; anything else
// goes through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat writes f as encoding/json does. Durations, uptimes and
// windows are rounded to thousandths (round3), written from the integer
// count of thousandths; any other value goes through encoding/json.
func appendJSONFloat(b []byte, f float64) []byte {
	if k := math.Round(f * 1000); math.Abs(f) < 1e9 && k/1000 == f && !(f == 0 && math.Signbit(f)) {
		n := int64(k)
		if n < 0 {
			b = append(b, '-')
			n = -n
		}
		b = strconv.AppendInt(b, n/1000, 10)
		if frac := n % 1000; frac != 0 {
			digits := []byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
			for digits[len(digits)-1] == '0' {
				digits = digits[:len(digits)-1]
			}
			b = append(b, digits...)
		}
		return b
	}
	q, err := json.Marshal(f)
	if err != nil { // NaN and infinities are left out before this
		return append(b, '0')
	}
	return append(b, q...)
}

// renderHealthJSONOverall is the health+json a caller without a token gets.
func renderHealthJSONOverall(v view) ([]byte, error) {
	doc := healthDoc{Status: healthStatusOverall(v)}
	if v.draining {
		doc.Output = drainMessage
	}
	return json.Marshal(doc)
}

// measurementName keeps a key's measurement part free of the colon that
// separates it from the component name.
func measurementName(m string) string {
	if m == "" {
		return "value"
	}
	return strings.ReplaceAll(m, ":", "_")
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func ptr[T any](v T) *T { return &v }
