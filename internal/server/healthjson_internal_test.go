package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/runner"
)

// healthJSONByReflection is renderHealthJSON as it was written before it
// wrote the body by hand: the healthDoc, marshalled by encoding/json. It is
// the specification the hand-written encoder must meet byte for byte.
func (st *State) healthJSONByReflection(v view) ([]byte, error) {
	doc := healthDoc{
		Status:      healthStatusOverall(v),
		Version:     st.proc.opts.Version,
		Description: "healthd on " + st.proc.host,
		Checks:      map[string][]healthComponent{},
	}
	switch {
	case v.group != "":
		doc.Description += ", group " + v.group
	case v.scope != defaultScope:
		doc.Description += ", check " + v.scope
	}
	if v.draining {
		doc.Output = drainMessage
	}
	now := referenceTime(v.snaps) // not the clock: the body is cached (bodycache.go)
	for _, s := range v.snaps {
		c, r := s.Check, s.Result
		base := healthComponent{
			ComponentID:   c.Name,
			ComponentType: c.ComponentType,
			Status:        healthStatus(r.Status),
			Time:          r.Finished().UTC().Format(healthTime),
		}
		if r.Status != runner.Passing {
			base.Output = r.Message
		}
		main := base
		main.ObservedValue = ptr(ms(r.Duration))
		main.ObservedUnit = "ms"
		if !c.Critical {
			main.Critical = ptr(false)
		}
		main.History = historyDoc(c, now)
		key := c.Name + ":responseTime"
		doc.Checks[key] = append(doc.Checks[key], main)
		for _, o := range r.Observations {
			e := base
			if !math.IsNaN(o.Value) && !math.IsInf(o.Value, 0) { // JSON has no NaN
				e.ObservedValue = ptr(o.Value)
			}
			e.ObservedUnit = o.Unit
			key := c.Name + ":" + measurementName(o.Measurement)
			doc.Checks[key] = append(doc.Checks[key], e)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("health+json: %w", err)
	}
	return b, nil
}

func historyDoc(c *runner.Check, now time.Time) *healthHistory {
	h := c.History()
	if h == nil {
		return nil
	}
	up, window := h.Uptime(now)
	out := &healthHistory{Uptime: round3(up), WindowSeconds: round3(window.Seconds()), Results: []healthEvent{}}
	for _, r := range h.Results() {
		out.Results = append(out.Results, event(r))
	}
	for _, r := range h.KeptFailures() {
		out.KeptFailures = append(out.KeptFailures, event(r))
	}
	return out
}

func event(r runner.Entry) healthEvent {
	e := healthEvent{Status: healthStatus(r.Status), Time: r.Finished().UTC().Format(healthTime), DurationMs: ms(r.Duration)}
	if r.Status != runner.Passing {
		e.Output = r.Message
	}
	return e
}

// TestHealthJSON_WritesWhatEncodingJSONWould: for pages with every kind of
// value (HTML and control characters, non-ASCII and invalid UTF-8 in
// messages and the host name, observations of every size, NaN, a group,
// a single check, draining), renderHealthJSON's body is byte for byte what
// encoding/json makes of the healthDoc.
func TestHealthJSON_WritesWhatEncodingJSONWould(t *testing.T) {
	cfg := checkstest.Load(t, `
defaults: {cache_ttl: 0s, max_stale: 0s, history: 5}
checks:
  - {name: db, type: fake, groups: [readiness]}
  - {name: web, type: fake, critical: false, fail: "<b>down</b> & \"out\"\n\ttab \u2028 é \x01"}
  - {name: disk, type: fake, warn: "93% full", observe: 93.25, measurement: "utili:zation", unit: percent}
  - {name: tiny, type: fake, observe: 0.0000001}
  - {name: huge, type: fake, observe: 1e22, unit: ""}
  - {name: neg, type: fake, observe: -12.5, measurement: responseTime}
  - {name: odd, type: fake, observe: 0.1234567}
`)
	r := checkstest.NewRunner(t, cfg, runner.Options{})
	for range 8 { // the history ring (5) wraps: kept failures
		r.Run(context.Background(), r.Checks())
	}
	checkstest.FakeOf(r, "db").SetFail("bad \xff utf-8")
	snaps := r.Run(context.Background(), r.Checks())
	// A result that ran a long time ago, long, and with NaN observed.
	snaps[6].Result = &runner.Result{Status: runner.Passing, Started: time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		Duration: 1234567 * time.Microsecond, Seq: 1, Observations: []checks.Observation{{Measurement: "x", Value: math.NaN(), Unit: "u"}}}
	s := New(Options{Version: "v<1>"})
	st, err := s.NewState(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	st.proc.host = "höst&\x00"
	check := func(when string, v view) {
		t.Helper()
		v.overall = runner.Summarize(v.snaps)
		want, err := st.healthJSONByReflection(v)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := st.renderHealthJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := parts.writeTo(&buf, &st.writers); err != nil {
			t.Fatal(err)
		}
		got := buf.Bytes()
		if buf.Len() != parts.size() {
			t.Errorf("%s: size %d, wrote %d", when, parts.size(), buf.Len())
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s, scope %s: bodies differ at byte %d:\n got  …%s\n want …%s", when, v.scope, i, clip(got, i), clip(want, i))
		}
		if !json.Valid(got) {
			t.Errorf("%s, scope %s: invalid JSON", when, v.scope)
		}
	}
	for _, v := range []view{
		{snaps: snaps, scope: defaultScope, full: true},
		{snaps: snaps, group: "readiness", scope: "readiness", ok: true, full: true},
		{snaps: snaps[1:2], scope: "web", draining: true, full: true},
		{snaps: nil, scope: defaultScope, full: true},
	} {
		check("first render", v)
	}
	// The histories written once are kept per check; a check that ran
	// again has its history written again.
	checkstest.FakeOf(r, "db").SetFail("")
	check("a render after more runs", view{snaps: r.Run(context.Background(), r.Checks()), scope: defaultScope, full: true})
}

func clip(b []byte, i int) string {
	return fmt.Sprintf("%.120s", b[max(i-40, 0):])
}

// The thousandths writer agrees with encoding/json on every value it takes.
func TestAppendJSONFloat_AgreesWithEncodingJSON(t *testing.T) {
	values := []float64{0, math.Copysign(0, -1), 1, -1, 0.001, 0.01, 0.1, 0.5, 0.999, 1.5, 2.25, 12.345, 99.9, 100,
		123456.789, 999999999.999, 1e9, 1e21, 1e-7, 0.0001234, 1.0 / 3, 2.0 / 3, -0.001, -123.4}
	for d := time.Duration(0); d < 3*time.Second; d += 777_777 {
		values = append(values, ms(d), round3(d.Seconds()), round3(float64(d)/float64(3*time.Second)))
	}
	for _, f := range values {
		want, _ := json.Marshal(f)
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}
