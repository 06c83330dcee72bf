package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/healthd/healthd/internal/metrics"
)

// scrapeMetrics GETs /metrics as Prometheus would (text format) and parses
// it with the Prometheus text parser.
func scrapeMetrics(t *testing.T, url string, header ...string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := get(t, url+"/metrics", header...)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("/metrics content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value is the value of the series of name with exactly labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Errorf("no %s", name)
		return -1
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Errorf("no %s%v", name, labels)
	return -1
}

func TestMetrics_ScrapeShowsEachCheck(t *testing.T) {
	f := newFixture(t, mixed, nil)
	start := time.Now()
	f.warm(t)
	fams := scrapeMetrics(t, f.ts.URL)

	l := func(check string) map[string]string { return map[string]string{"check": check, "type": "fake"} }
	cases := []struct {
		check       string
		state, up   float64
		result      string
		otherResult string
	}{
		{"database", 0, 0, "failing", "passing"},
		{"cache", 2, 1, "passing", "failing"},
		{"disk", 1, 1, "warning", "passing"},
		{"workers", 0, 0, "failing", "warning"},
	}
	for _, c := range cases {
		if v := value(t, fams, metrics.NameState, l(c.check)); v != c.state {
			t.Errorf("%s state %v, want %v", c.check, v, c.state)
		}
		if v := value(t, fams, metrics.NameUp, l(c.check)); v != c.up {
			t.Errorf("%s up %v, want %v", c.check, v, c.up)
		}
		runs := map[string]string{"check": c.check, "type": "fake", "result": c.result}
		if v := value(t, fams, metrics.NameRuns, runs); v != 1 {
			t.Errorf("%s runs{result=%s} %v, want 1", c.check, c.result, v)
		}
		runs["result"] = c.otherResult
		if v := value(t, fams, metrics.NameRuns, runs); v != 0 {
			t.Errorf("%s runs{result=%s} %v, want 0", c.check, c.otherResult, v)
		}
		if v := value(t, fams, metrics.NameDuration, l(c.check)); v != 1 {
			t.Errorf("%s histogram count %v, want 1", c.check, v)
		}
		if v := value(t, fams, metrics.NameLastDuration, l(c.check)); v < 0 || v > 1 {
			t.Errorf("%s last duration %v s", c.check, v)
		}
		if v := value(t, fams, metrics.NameLastRun, l(c.check)); v < float64(start.Unix()) || v > float64(time.Now().Unix()+1) {
			t.Errorf("%s last run at %v, not between the test's start and now", c.check, v)
		}
	}
	if _, ok := fams[metrics.NameBuildInfo]; !ok {
		t.Error("no build info")
	}
	if _, ok := fams["up"]; ok {
		t.Error("a metric called up: Prometheus synthesises that one")
	}
	for name, fam := range fams {
		if !strings.HasPrefix(name, "healthd_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s lacks the healthd_ prefix", name)
		}
		for _, m := range fam.Metric {
			for _, lp := range m.Label {
				for _, secret := range []string{"s3cret", "postgres://", "db.internal", "5432"} {
					if strings.Contains(lp.GetValue(), secret) {
						t.Errorf("%s label %s=%q holds part of the DSN", name, lp.GetName(), lp.GetValue())
					}
				}
				// measurement and unit name what a check's code measured;
				// group is one of the check's groups: never a value from
				// its keys.
				if strings.HasPrefix(name, "healthd_check_") && !map[string]bool{"check": true, "type": true, "result": true, "le": true, "measurement": true, "unit": true, "group": true}[lp.GetName()] {
					t.Errorf("%s has label %s: per-check series carry check, type (and result, le, group, or an observation's measurement, unit) only", name, lp.GetName())
				}
			}
		}
	}
}

func TestMetrics_AlwaysAnswers200(t *testing.T) {
	f := newFixture(t, "checks: [{name: db, type: fake, fail: down}]", nil)
	f.warm(t)
	resp, _ := get(t, f.ts.URL+"/ht/")
	if resp.StatusCode != 500 {
		t.Fatalf("/ht/ %d", resp.StatusCode)
	}
	fams := scrapeMetrics(t, f.ts.URL) // fails the test unless 200
	if v := value(t, fams, metrics.NameUp, map[string]string{"check": "db", "type": "fake"}); v != 0 {
		t.Errorf("db up %v", v)
	}
	// Prometheus asks for OpenMetrics first; it gets it.
	resp, body := get(t, f.ts.URL+"/metrics", "Accept", "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") || !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("OpenMetrics scrape: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// omFamily is a metric family as the strict OpenMetrics parser read it.
type omFamily struct {
	Type    string
	Samples []struct {
		Name   string
		Labels map[string]string
		Value  string
	}
}

// parseStrictly runs the strict OpenMetrics parser of Debian's
// python3-prometheus-client (scripts/setup/python-prometheus-client.sh) on
// each body (one process for all: it takes a second to start on a busy
// machine) and returns their families by name; a body it rejects fails the
// test. It runs /usr/bin/python3: a pyenv or virtualenv python3 earlier on
// PATH does not see Debian's dist-packages.
func parseStrictly(t *testing.T, bodies map[string]string) map[string]map[string]omFamily {
	t.Helper()
	const script = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for what, body in json.load(sys.stdin).items():
    try:
        out[what] = {"Families": {f.name: {"Type": f.type, "Samples": [
            {"Name": s.name, "Labels": s.labels, "Value": repr(s.value)} for s in f.samples]}
            for f in text_string_to_metric_families(body)}}
    except Exception as e:
        out[what] = {"Error": repr(e)}
json.dump(out, sys.stdout)
`
	in, err := json.Marshal(bodies)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the strict OpenMetrics parser (scripts/setup/python-prometheus-client.sh installs it): %v\n%s", err, stderr.String())
	}
	var parsed map[string]struct {
		Families map[string]omFamily
		Error    string
	}
	if err := json.Unmarshal(out, &parsed); err != nil {
		t.Fatalf("parser output: %v", err)
	}
	fams := map[string]map[string]omFamily{}
	for what, body := range bodies {
		p, ok := parsed[what]
		switch {
		case !ok:
			t.Errorf("%s: not parsed", what)
		case p.Error != "":
			t.Errorf("%s: the strict OpenMetrics parser rejects it: %s\n--- body\n%s", what, p.Error, body)
		default:
			fams[what] = p.Families
		}
	}
	return fams
}

// omValue is the value of the sample called name with exactly labels.
func omValue(t *testing.T, fams map[string]omFamily, family, name string, labels map[string]string) string {
	t.Helper()
	for _, s := range fams[family].Samples {
		if s.Name == name && maps.Equal(s.Labels, labels) {
			return s.Value
		}
	}
	t.Errorf("no sample %s%v in family %s", name, labels, family)
	return ""
}

// promtoolCheckMetrics lints a Prometheus text-format body with promtool
// (scripts/setup/prometheus.sh).
func promtoolCheckMetrics(t *testing.T, what, body string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is needed (scripts/setup/prometheus.sh installs it): %v", err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: promtool check metrics: %v\n%s", what, err, out)
	}
}

// Every answer of /metrics and of /ht/ in OpenMetrics is valid for a strict
// parser, whatever the scraper's Accept header, with a passing, a failing
// and a warning check: OpenMetrics to the strict parser, the text format to
// promtool. (client_golang's Go collector exports go_memstats_alloc_bytes
// and go_memstats_alloc_bytes_total, which are one name in OpenMetrics.)
func TestMetrics_StrictParsersAcceptEveryAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs promtool and python3's OpenMetrics parser")
	}
	f := newFixture(t, mixed, nil)
	f.warm(t)
	om := map[string]string{} // the OpenMetrics answers, by request
	for _, accept := range []string{
		"application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", // Prometheus
		"application/openmetrics-text; version=1.0.0",
		"application/openmetrics-text; version=0.0.1",
		"application/openmetrics-text",
		"text/plain;version=0.0.4",
		"*/*",
		"",
	} {
		resp, body := get(t, f.ts.URL+"/metrics", "Accept", accept)
		what := "/metrics with Accept " + accept
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", what, resp.StatusCode)
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") {
			om[what] = body
			continue
		}
		if strings.Contains(accept, "openmetrics") {
			t.Errorf("%s: content type %q", what, resp.Header.Get("Content-Type"))
		}
		promtoolCheckMetrics(t, what, body)
	}
	for _, how := range []struct{ url, accept string }{
		{"/ht/?format=openmetrics", ""},
		{"/ht/", "application/openmetrics-text"},
		{"/ht/readiness/?format=openmetrics", ""},
		{"/ht/check/disk/?format=openmetrics", ""},
	} {
		_, body := get(t, f.ts.URL+how.url, "Accept", how.accept)
		om[how.url+" with Accept "+how.accept] = body
	}
	for what, fams := range parseStrictly(t, om) {
		if !strings.HasPrefix(what, "/metrics") {
			if fams[metrics.NameResponseOK].Type != "gauge" || fams[metrics.NameResponseState].Type != "gauge" {
				t.Errorf("%s: no response series", what)
			}
			if v := omValue(t, fams, strings.TrimSuffix(metrics.NameRuns, "_total"), metrics.NameRuns, map[string]string{"check": "disk", "type": "fake", "result": "warning"}); v != "1.0" {
				t.Errorf("%s: disk runs{result=warning} %s, want 1", what, v)
			}
			continue
		}
		if fams["go_memstats_alloc_bytes"].Type != "gauge" || fams["go_gc_heap_allocs_bytes"].Type != "counter" ||
			fams["go_goroutines"].Type != "gauge" || fams["process_resident_memory_bytes"].Type != "gauge" {
			t.Errorf("%s: the Go and process collectors' main series are missing: %v", what, slices.Sorted(maps.Keys(fams)))
		}
		for check, state := range map[string]string{"database": "0.0", "cache": "2.0", "disk": "1.0", "workers": "0.0"} {
			if v := omValue(t, fams, metrics.NameState, metrics.NameState, map[string]string{"check": check, "type": "fake"}); v != state {
				t.Errorf("%s: %s state %s, want %s", what, check, v, state)
			}
		}
	}
	if len(om) != 8 {
		t.Errorf("%d OpenMetrics answers, want 8", len(om))
	}
}

// WARNINGS_AS_ERRORS decides the answer of /ht/ (its status code, the
// top-level health+json status, the text format's verdict and [-] mark,
// healthd_response_*), never the check's own state: that stays a warning in
// /metrics, in /ht/'s per-check series and in health+json's per-check status.
func TestWarningsAsErrors_DecidesTheAnswerNotTheChecksState(t *testing.T) {
	const warning = "warning: web-1 93.2% disk usage exceeds 90%"
	for _, c := range []struct {
		wae           bool
		code          int
		health, text  string
		responseState float64
		responseOK    float64
	}{
		{true, 500, "fail", "[-]disk failed: " + warning + "\n", 0, 0},
		{false, 200, "warn", "[+]disk " + warning + "\n", 1, 1},
	} {
		f := newFixture(t, fmt.Sprintf(`
health_check: {WARNINGS_AS_ERRORS: %v}
defaults: {cache_ttl: 1h}
checks:
  - {name: ok, type: fake}
  - {name: disk, type: fake, warn: "web-1 93.2%% disk usage exceeds 90%%"}
`, c.wae), nil)
		f.warm(t)
		name := fmt.Sprintf("WARNINGS_AS_ERRORS=%v", c.wae)
		disk := map[string]string{"check": "disk", "type": "fake"}

		fams := scrapeMetrics(t, f.ts.URL)
		if s, u := value(t, fams, metrics.NameState, disk), value(t, fams, metrics.NameUp, disk); s != 1 || u != 1 {
			t.Errorf("%s: /metrics: disk state %v up %v, want 1 1", name, s, u)
		}
		for result, want := range map[string]float64{"warning": 1, "failing": 0} {
			if v := value(t, fams, metrics.NameRuns, map[string]string{"check": "disk", "type": "fake", "result": result}); v != want {
				t.Errorf("%s: /metrics: disk runs{result=%s} %v, want %v", name, result, v, want)
			}
		}

		resp, body := get(t, f.ts.URL+"/ht/?format=json")
		if resp.StatusCode != c.code || body != `{"disk": "`+warning+`", "ok": "working"}` {
			t.Errorf("%s: json: %d %s", name, resp.StatusCode, body)
		}

		resp, body = get(t, f.ts.URL+"/ht/?format=text")
		if resp.StatusCode != c.code || !strings.Contains(body, c.text) {
			t.Errorf("%s: text: %d %q, want a line %q", name, resp.StatusCode, body, c.text)
		}

		resp, body = get(t, f.ts.URL+"/ht/?format=health")
		var doc struct {
			Status string
			Checks map[string][]struct{ Status string }
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("%s: health+json: %v", name, err)
		}
		if d := doc.Checks["disk:responseTime"]; resp.StatusCode != c.code || doc.Status != c.health || len(d) != 1 || d[0].Status != "warn" {
			t.Errorf("%s: health+json: %d %s", name, resp.StatusCode, body)
		}

		resp, body = get(t, f.ts.URL+"/ht/?format=openmetrics")
		p := expfmt.NewTextParser(model.UTF8Validation)
		om, err := p.TextToMetricFamilies(strings.NewReader(strings.TrimSuffix(body, "# EOF\n")))
		if err != nil {
			t.Fatalf("%s: openmetrics: %v\n%s", name, err, body)
		}
		if resp.StatusCode != c.code {
			t.Errorf("%s: openmetrics: status %d", name, resp.StatusCode)
		}
		for _, s := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{metrics.NameState, disk, 1},
			{metrics.NameUp, disk, 1},
			{metrics.NameResponseState, map[string]string{}, c.responseState},
			{metrics.NameResponseOK, map[string]string{}, c.responseOK},
		} {
			if v := value(t, om, s.name, s.labels); v != s.want {
				t.Errorf("%s: openmetrics: %s%v %v, want %v", name, s.name, s.labels, v, s.want)
			}
		}
	}
}
