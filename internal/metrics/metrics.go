// Package metrics exports healthd's checks to Prometheus: per check its
// state, whether it is up, how long it took and how often it ran, plus build
// and config-reload information. It keeps a registry of its own (never the
// global default one), created once per process, so that counters survive
// config reloads while the series of removed checks go away.
package metrics

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/healthd/healthd/internal/runner"
)

// Metric names. Every one starts with healthd_; none is called up, which
// Prometheus synthesises for each scrape.
const (
	NameState        = "healthd_check_state"
	NameUp           = "healthd_check_up"
	NameLastDuration = "healthd_check_last_duration_seconds"
	NameDuration     = "healthd_check_duration_seconds"
	NameLastRun      = "healthd_check_last_run_timestamp_seconds"
	NameRuns         = "healthd_check_runs_total"
	NameBuildInfo    = "healthd_build_info"
	NameReloadOK     = "healthd_config_last_reload_successful"
	NameReloadTime   = "healthd_config_last_reload_success_timestamp_seconds"
	NameObserved     = "healthd_check_observed_value"
	NameGroupInfo    = "healthd_check_group_info"
)

// Labels of the per-check series. A check's name and type only: never a
// DSN, URL or anything else from its config.
const (
	LabelCheck  = "check"
	LabelType   = "type"
	LabelResult = "result"
	// The observation's measurement and unit, as in health+json's
	// "<check>:<measurement>" entries and their observedUnit.
	LabelMeasurement = "measurement"
	LabelUnit        = "unit"
	// LabelGroup names a group the check is in (served at /ht/<group>/).
	LabelGroup = "group"
)

// droppedGoMetric is a series of client_golang's Go collector that /metrics
// leaves out: in OpenMetrics the counter go_memstats_alloc_bytes_total is
// the family go_memstats_alloc_bytes, the name of the Go collector's
// heap-in-use gauge, and a strict parser rejects the clash (client_golang
// issue 829). The same count, bytes allocated since start, is exported as
// go_gc_heap_allocs_bytes_total (runtime/metrics' /gc/heap/allocs:bytes).
const droppedGoMetric = "go_memstats_alloc_bytes_total"

// heapAllocs enables the runtime/metrics series that replaces droppedGoMetric.
var heapAllocs = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/allocs:bytes$`)}

// DurationBuckets are the histogram's upper bounds in seconds: from local
// checks (disk, memory) that take a millisecond to a network check near a
// 10 s timeout.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Options describe the process, for healthd_build_info.
type Options struct {
	Version string
}

// Metrics is healthd's registry and the per-check series in it. It is a
// runner.Observer: attach it to each runner (see Attach).
type Metrics struct {
	reg *prometheus.Registry
	// exposed is what /metrics serves: reg less droppedGoMetric.
	exposed prometheus.Gatherer
	checkGauges
	duration   *prometheus.HistogramVec
	runs       *prometheus.CounterVec
	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
	// groups is 1 for each check and group it is in: an info metric to
	// join per-check series on, so a dashboard can sum by group.
	groups *prometheus.GaugeVec

	mu sync.Mutex
	// active holds the checks whose series are exported, by name. Runs of
	// any other check (one removed by a reload, or a replaced check still
	// finishing in the old runner) are ignored, so they cannot bring a
	// deleted series back.
	active map[string]*runner.Check
}

// checkGauges are the per-check gauges. They are also built on their own to
// render the results of one /ht/ response (see CheckFamilies).
type checkGauges struct {
	state        *prometheus.GaugeVec
	up           *prometheus.GaugeVec
	lastDuration *prometheus.GaugeVec
	lastRun      *prometheus.GaugeVec
	// observed holds the last run's observations: only those of the last
	// run, so a measurement a failing run could not make disappears rather
	// than repeating an old value.
	observed *prometheus.GaugeVec
}

func newCheckGauges() checkGauges {
	labels := []string{LabelCheck, LabelType}
	return checkGauges{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameState,
			Help: "State of the check's last run: 0 failing, 1 warning, 2 passing."}, labels),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameUp,
			Help: "1 if the check's last run did not fail (passing or warning), else 0."}, labels),
		lastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameLastDuration,
			Help: "How long the check's last run took, in seconds."}, labels),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameLastRun,
			Help: "When the check's last run finished, in seconds since the Unix epoch."}, labels),
		observed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameObserved,
			Help: "What the check's last run measured (health+json's observedValue), in the unit the unit label names."},
			[]string{LabelCheck, LabelType, LabelMeasurement, LabelUnit}),
	}
}

func (g checkGauges) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.state, g.up, g.lastDuration, g.lastRun, g.observed}
}

func (g checkGauges) set(c *runner.Check, r *runner.Result) {
	l := prometheus.Labels{LabelCheck: c.Name, LabelType: c.Type}
	g.state.With(l).Set(float64(r.Status))
	up := 1.0
	if r.Status == runner.Failing {
		up = 0
	}
	g.up.With(l).Set(up)
	g.lastDuration.With(l).Set(r.Duration.Seconds())
	g.lastRun.With(l).Set(float64(r.Finished().UnixNano()) / 1e9)
	g.observed.DeletePartialMatch(l)
	for _, o := range r.Observations {
		if math.IsNaN(o.Value) {
			continue
		}
		g.observed.WithLabelValues(c.Name, c.Type, o.Measurement, o.Unit).Set(o.Value)
	}
}

func (g checkGauges) delete(l prometheus.Labels) {
	g.state.Delete(l)
	g.up.Delete(l)
	g.lastDuration.Delete(l)
	g.lastRun.Delete(l)
	g.observed.DeletePartialMatch(l)
}

// New returns a registry holding healthd's metrics, the Go runtime's and
// the process's.
func New(opts Options) *Metrics {
	labels := []string{LabelCheck, LabelType}
	m := &Metrics{
		reg:         prometheus.NewRegistry(),
		checkGauges: newCheckGauges(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameDuration,
			Help: "How long the check's runs took, in seconds.", Buckets: DurationBuckets}, labels),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameRuns,
			Help: "Runs of the check, by result (passing, warning, failing)."}, []string{LabelCheck, LabelType, LabelResult}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: NameReloadOK,
			Help: "1 if the last config load (at start-up or reload) succeeded, else 0."}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: NameReloadTime,
			Help: "When the config was last loaded successfully, in seconds since the Unix epoch."}),
		groups: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameGroupInfo,
			Help: "Always 1: the check is in the group (served at /ht/<group>/). Join on check to sum per-check series by group."},
			[]string{LabelCheck, LabelType, LabelGroup}),
		active: map[string]*runner.Check{},
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: NameBuildInfo,
		Help:        "Always 1; the labels say which healthd build is running.",
		ConstLabels: prometheus.Labels{"version": opts.Version, "goversion": runtime.Version()}})
	build.Set(1)
	m.reg.MustRegister(m.checkGauges.collectors()...)
	m.reg.MustRegister(m.duration, m.runs, m.reloadOK, m.reloadTime, m.groups, build,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(heapAllocs)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.exposed = prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		// Observe sets a run's gauges, histogram and counter under mu: a
		// scrape under it sees all of a run or none (the registry gathers
		// its collectors concurrently, so a run counted by a scrape could
		// otherwise still lack its state and observations).
		m.mu.Lock()
		fams, err := m.reg.Gather()
		m.mu.Unlock()
		return slices.DeleteFunc(fams, func(f *dto.MetricFamily) bool { return f.GetName() == droppedGoMetric }), err
	})
	return m
}

// Registry returns the registry, for tests and for extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry (less droppedGoMetric) in the Prometheus
// text format, or in OpenMetrics when the scraper asks for it. It always
// answers 200 when the registry gathers: the checks' health never changes
// the status code.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.exposed, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}

// Attach makes r's checks the exported set and adds m to r's observers.
// Call it once for each new runner, before r.Start (at start-up and on every
// reload). Series of checks that r does not have are deleted; checks that
// r has keep their counters and histogram.
func (m *Metrics) Attach(r *runner.Runner) {
	m.Track(r.Checks())
	r.AddObserver(m)
}

// Track replaces the exported set of checks with cs: the series of every
// check not in cs (by name and type) are deleted; a check that stays keeps
// its counters, histogram and last values until its next run; the runs
// counters of new checks start at 0 for each result, so rate() and
// increase() work from their first run.
func (m *Metrics) Track(cs []*runner.Check) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[string]*runner.Check, len(cs))
	for _, c := range cs {
		next[c.Name] = c
	}
	for name, old := range m.active {
		if c, ok := next[name]; ok && c.Type == old.Type {
			continue
		}
		l := prometheus.Labels{LabelCheck: name, LabelType: old.Type}
		m.checkGauges.delete(l)
		m.duration.Delete(l)
		m.runs.DeletePartialMatch(l)
	}
	// Groups are the config's, so they are replaced whole.
	m.groups.Reset()
	for _, c := range cs {
		for _, g := range c.Groups {
			m.groups.WithLabelValues(c.Name, c.Type, g).Set(1)
		}
		for _, s := range []runner.Status{runner.Passing, runner.Warning, runner.Failing} {
			m.runs.WithLabelValues(c.Name, c.Type, s.String())
		}
		m.duration.WithLabelValues(c.Name, c.Type)
		if last := c.Last(); last != nil {
			m.checkGauges.set(c, last)
		}
	}
	m.active = next
}

// Observe records a completed run. It implements runner.Observer.
func (m *Metrics) Observe(c *runner.Check, _, cur *runner.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active[c.Name] != c {
		return
	}
	m.checkGauges.set(c, cur)
	m.duration.WithLabelValues(c.Name, c.Type).Observe(cur.Duration.Seconds())
	m.runs.WithLabelValues(c.Name, c.Type, cur.Status.String()).Inc()
}

// ReloadResult records a config load: at start-up and after each reload.
// The success timestamp moves only when ok is true.
func (m *Metrics) ReloadResult(ok bool, t time.Time) {
	if ok {
		m.reloadOK.Set(1)
		m.reloadTime.Set(float64(t.UnixNano()) / 1e9)
		return
	}
	m.reloadOK.Set(0)
}

// CheckFamilies returns the per-check series for the results in snaps, as
// /ht/ serves them in OpenMetrics: the gauges from the snapshots themselves
// (so they agree with the response's status code), and, when m is not nil,
// the runs counter and duration histogram m has accumulated for those
// checks. Families are sorted by name.
func (m *Metrics) CheckFamilies(snaps []runner.Snapshot) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	g := newCheckGauges()
	reg.MustRegister(g.collectors()...)
	selected := map[string]bool{}
	for _, s := range snaps {
		g.set(s.Check, s.Result)
		selected[s.Check.Name] = true
	}
	fams, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: gather results: %w", err)
	}
	if m == nil {
		return fams, nil
	}
	all, err := m.reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: gather: %w", err)
	}
	for _, f := range all {
		if n := f.GetName(); n != NameRuns && n != NameDuration {
			continue
		}
		var keep []*dto.Metric
		for _, mt := range f.Metric {
			if selected[labelValue(mt, LabelCheck)] {
				keep = append(keep, mt)
			}
		}
		if len(keep) > 0 {
			f.Metric = keep
			fams = append(fams, f)
		}
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
	return fams, nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Names of the series that only /ht/ serves in OpenMetrics, about the
// response itself. They carry no label, so a caller without a token gets
// them too.
const (
	NameResponseState = "healthd_response_state"
	NameResponseOK    = "healthd_response_ok"
)

// ResponseFamilies returns the overall series of one /ht/ response: its
// state (runner.Overall's: 0 failing, 1 warning, 2 passing, where a
// non-critical failure counts as a warning and a warning that fails the
// response as failing) and whether its status code is 200.
func ResponseFamilies(state runner.Status, ok bool) ([]*dto.MetricFamily, error) {
	st := prometheus.NewGauge(prometheus.GaugeOpts{Name: NameResponseState,
		Help: "Worst state of the selected checks as they weigh on this response: 0 failing, 1 warning, 2 passing; a non-critical failure counts as a warning, a warning that fails the response (WARNINGS_AS_ERRORS) as failing."})
	st.Set(float64(state))
	okg := prometheus.NewGauge(prometheus.GaugeOpts{Name: NameResponseOK,
		Help: "1 if this response's status code is 200, else 0."})
	if ok {
		okg.Set(1)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(okg, st)
	fams, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: gather response: %w", err)
	}
	return fams, nil
}
