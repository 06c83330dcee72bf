package server

import (
	"fmt"
	"github.com/healthd/healthd/internal/config"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/healthd/healthd/internal/metrics"
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

// What every format says while healthd drains: the answer fails, though
// the checks may all pass, and the body must not read as healthy.
const (
	drainMessage = "healthd is shutting down"
	// drainKey is the JSON map's entry for it. No check name starts with
	// config.ReservedNamePrefix, so it never hides a check's own entry; its value has the
	// seed's failure form, so a client that wants every value to be
	// "working" sees the failure as it sees the 503.
	drainKey   = config.ReservedNamePrefix + "shutdown"
	drainValue = "unavailable: " + drainMessage
	// drainSeries is the OpenMetrics gauge added to an answer while
	// healthd drains (absent otherwise).
	drainSeries = "healthd_shutting_down"
)

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

// renderJSON writes the seed's flat map: check name to "working" or the
// error text, plus drainKey while draining, in django-health-check's bytes
// (flatjson.go).
func renderJSON(v view) ([]byte, error) {
	m := make(map[string]string, len(v.snaps)+1)
	for _, s := range v.snaps {
		m[s.Check.Name] = jsonValue(s.Result)
	}
	if v.draining {
		m[drainKey] = drainValue
	}
	return flatJSON(m), nil
}

// renderJSONOverall is the JSON a caller without a token gets.
func renderJSONOverall(v view) ([]byte, error) {
	m := map[string]string{"status": "working"}
	if !v.ok {
		m["status"] = "failing"
	}
	if v.draining {
		m[drainKey] = drainValue
	}
	return flatJSON(m), nil
}

func jsonValue(r *runner.Result) string {
	if r.Status == runner.Passing {
		return "working"
	}
	return r.Message
}

// responseFamilies are the OpenMetrics series about the response itself:
// its state and status code, and healthd_shutting_down while draining.
func responseFamilies(v view) ([]*dto.MetricFamily, error) {
	fams, err := metrics.ResponseFamilies(v.overall.Status, v.ok)
	if err != nil || !v.draining {
		return fams, err
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: drainSeries,
		Help: "1 while healthd is shutting down: /ht/ answers the failure status until the listener closes (server.drain_delay)."})
	g.Set(1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(g)
	drain, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather %s: %w", drainSeries, err)
	}
	return append(fams, drain...), nil
}
