package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/runner"
)

func newRunner(t *testing.T, yaml string) *runner.Runner {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r, err := runner.New(cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// scrape fetches /metrics from m's handler and parses it with the
// Prometheus text parser.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

// series returns the value of name's series whose labels include want, and
// whether there is one.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
		return 0, true
	}
	return 0, false
}

// runAll runs every check once and waits for the observers.
func runAll(t *testing.T, r *runner.Runner, m *metrics.Metrics, name string) {
	t.Helper()
	r.Run(context.Background(), r.Checks())
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		total := 0.0
		for _, res := range []string{"passing", "warning", "failing"} {
			v, _ := series(scrape(t, m), metrics.NameRuns, map[string]string{"check": name, "result": res})
			total += v
		}
		if total > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no run of %s was observed", name)
}

func TestMetrics_RemovedCheckSeriesGoAwayOnReload(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "test"})
	old := newRunner(t, "checks: [{name: db, type: fake}, {name: cache, type: fake, fail: down}]")
	m.Attach(old)
	runAll(t, old, m, "cache")
	runAll(t, old, m, "db")
	if _, ok := series(scrape(t, m), metrics.NameState, map[string]string{"check": "cache"}); !ok {
		t.Fatal("cache has no state series before the reload")
	}

	next := newRunner(t, "checks: [{name: db, type: fake}]")
	m.Attach(next)
	fams := scrape(t, m)
	for _, name := range []string{metrics.NameState, metrics.NameUp, metrics.NameLastDuration, metrics.NameLastRun, metrics.NameRuns, metrics.NameDuration} {
		if _, ok := series(fams, name, map[string]string{"check": "cache"}); ok {
			t.Errorf("%s{check=cache} survived the reload that removed cache", name)
		}
	}
	// db is still configured: its counter carries on across the reload.
	if v, _ := series(fams, metrics.NameRuns, map[string]string{"check": "db", "result": "passing"}); v != 1 {
		t.Errorf("db's passing runs = %v after the reload, want 1", v)
	}
	// ...and its gauges keep their last value until the new runner's first
	// run, so a reload leaves no gap in the series.
	if v, ok := series(fams, metrics.NameState, map[string]string{"check": "db"}); !ok || v != 2 {
		t.Errorf("db's state across the reload = %v, %v; want 2", v, ok)
	}

	// A late run of the old runner's checks does not bring cache back.
	old.Run(context.Background(), old.Checks())
	time.Sleep(20 * time.Millisecond)
	if _, ok := series(scrape(t, m), metrics.NameState, map[string]string{"check": "cache"}); ok {
		t.Error("a run of the replaced runner re-created cache's series")
	}
}

func TestMetrics_ReloadResult(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "v1.2.3"})
	at := time.Unix(1700000000, 0)
	m.ReloadResult(true, at)
	fams := scrape(t, m)
	if v, _ := series(fams, metrics.NameReloadOK, nil); v != 1 {
		t.Errorf("reload successful = %v, want 1", v)
	}
	if v, _ := series(fams, metrics.NameReloadTime, nil); v != 1700000000 {
		t.Errorf("reload time = %v", v)
	}
	m.ReloadResult(false, at.Add(time.Hour))
	fams = scrape(t, m)
	if v, _ := series(fams, metrics.NameReloadOK, nil); v != 0 {
		t.Errorf("after a failed reload, successful = %v, want 0", v)
	}
	if v, _ := series(fams, metrics.NameReloadTime, nil); v != 1700000000 {
		t.Errorf("a failed reload moved the success time to %v", v)
	}
	if v, ok := series(fams, metrics.NameBuildInfo, map[string]string{"version": "v1.2.3"}); !ok || v != 1 {
		t.Errorf("build info %v %v", v, ok)
	}
}

// In OpenMetrics a counter's family is its name less _total, and a
// histogram's or summary's samples add _bucket, _count, _sum and _created:
// no two families that /metrics serves may then claim one name, or a strict
// parser rejects the whole scrape. client_golang's Go collector has such a
// pair (go_memstats_alloc_bytes and go_memstats_alloc_bytes_total, its
// issue 829). internal/server's TestMetrics_StrictParsersAcceptEveryAnswer
// runs a strict parser; this is the same rule without one, for -short.
func TestMetrics_NoOpenMetricsNameClash(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "test"})
	fams := scrape(t, m)
	owner := map[string]string{} // every name a sample or a family takes, to its metric
	claim := func(name, metric string) {
		if o, ok := owner[name]; ok && o != metric {
			t.Errorf("OpenMetrics name %s is claimed by both %s and %s", name, o, metric)
		}
		owner[name] = metric
	}
	for name, f := range fams {
		family := name
		var samples []string
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			family = strings.TrimSuffix(name, "_total")
			samples = []string{family + "_total", family + "_created"}
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			samples = []string{name + "_bucket", name + "_count", name + "_sum", name + "_created"}
		case dto.MetricType_SUMMARY:
			samples = []string{name + "_count", name + "_sum", name + "_created"}
		}
		claim(family, name)
		for _, s := range samples {
			claim(s, name)
		}
	}
	for _, want := range []string{"go_memstats_alloc_bytes", "go_gc_heap_allocs_bytes_total", "go_goroutines", "go_gc_gogc_percent"} {
		if _, ok := fams[want]; !ok {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A check's observations are series of their own, with the measurement and
// unit as labels; a run that measured nothing takes them away instead of
// leaving the old value, and so does a reload that removes the check.
func TestMetrics_ObservationsFollowTheLastRun(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "test"})
	r := newRunner(t, `checks: [{name: cert, type: fake, observe: 42.5, measurement: days_left, unit: days}]`)
	m.Attach(r)
	runAll(t, r, m, "cert")
	want := map[string]string{"check": "cert", "type": "fake", "measurement": "days_left", "unit": "days"}
	if v, ok := series(scrape(t, m), metrics.NameObserved, want); !ok || v != 42.5 {
		t.Fatalf("%s%v = %v, %v; want 42.5", metrics.NameObserved, want, v, ok)
	}

	// The same check, reloaded without its measurement: the value stays
	// until the new runner's first run, which measures nothing.
	next := newRunner(t, `checks: [{name: cert, type: fake}]`)
	m.Attach(next)
	if _, ok := series(scrape(t, m), metrics.NameObserved, want); !ok {
		t.Error("the observation went away at the reload, before the check ran again")
	}
	next.Run(context.Background(), next.Checks())
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := series(scrape(t, m), metrics.NameRuns, map[string]string{"check": "cert", "result": "passing"})
		if v >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second run was not observed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v, ok := series(scrape(t, m), metrics.NameObserved, want); ok {
		t.Errorf("after a run that measured nothing, %s = %v; want no series", metrics.NameObserved, v)
	}

	m.Attach(newRunner(t, "checks: [{name: other, type: fake}]"))
	if _, ok := series(scrape(t, m), metrics.NameObserved, map[string]string{"check": "cert"}); ok {
		t.Error("cert's observation survived the reload that removed it")
	}
}

// Each check's groups are an info series to join on; a reload that moves a
// check to another group moves its series.
func TestMetrics_GroupInfoFollowsTheConfig(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "test"})
	m.Attach(newRunner(t, "checks: [{name: db, type: fake, groups: [readiness, database]}, {name: disk, type: fake}]"))
	fams := scrape(t, m)
	for _, g := range []string{"readiness", "database"} {
		if v, ok := series(fams, metrics.NameGroupInfo, map[string]string{"check": "db", "type": "fake", "group": g}); !ok || v != 1 {
			t.Errorf("%s{check=db,group=%s} = %v, %v; want 1", metrics.NameGroupInfo, g, v, ok)
		}
	}
	if _, ok := series(fams, metrics.NameGroupInfo, map[string]string{"check": "disk"}); ok {
		t.Error("disk is in no group but has a group series")
	}

	m.Attach(newRunner(t, "checks: [{name: db, type: fake, groups: [liveness]}]"))
	fams = scrape(t, m)
	if _, ok := series(fams, metrics.NameGroupInfo, map[string]string{"check": "db", "group": "readiness"}); ok {
		t.Error("db's old group survived the reload")
	}
	if v, ok := series(fams, metrics.NameGroupInfo, map[string]string{"check": "db", "group": "liveness"}); !ok || v != 1 {
		t.Errorf("db's new group = %v, %v; want 1", v, ok)
	}
}
