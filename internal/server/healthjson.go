package server

import (
	"encoding/json"
	"fmt"
	"math"
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

func (st *State) renderHealthJSON(v view) ([]byte, error) {
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
		main.History = history(c, now)
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

// renderHealthJSONOverall is the health+json a caller without a token gets.
func renderHealthJSONOverall(v view) ([]byte, error) {
	doc := healthDoc{Status: healthStatusOverall(v)}
	if v.draining {
		doc.Output = drainMessage
	}
	return json.Marshal(doc)
}

func history(c *runner.Check, now time.Time) *healthHistory {
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
