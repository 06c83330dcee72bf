package server_test

import (
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
				if strings.HasPrefix(name, "healthd_check_") && !map[string]bool{"check": true, "type": true, "result": true, "le": true}[lp.GetName()] {
					t.Errorf("%s has label %s: per-check series carry check, type (and result, le) only", name, lp.GetName())
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
