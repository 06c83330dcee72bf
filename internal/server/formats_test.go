package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixture is a server with metrics, as the daemon builds it.
type fixture struct {
	ts *httptest.Server
	m  *metrics.Metrics
	r  *runner.Runner
}

// newFixture serves yaml's checks with a metrics registry attached.
// ${HEALTHD_TOKEN} in yaml expands to env's value.
func newFixture(t *testing.T, yaml string, env map[string]string) *fixture {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry(), LookupEnv: lookup})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	m := metrics.New(metrics.Options{Version: "test"})
	r := checkstest.NewRunner(t, cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors})
	m.Attach(r)
	srv := server.New(server.Options{Version: "test", Metrics: m})
	st, err := srv.NewState(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	srv.Swap(st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fixture{ts: ts, m: m, r: r}
}

// warm runs every check once and waits until the metrics have seen each
// run, so counters and histograms are settled (cache_ttl keeps results).
func (f *fixture) warm(t *testing.T) {
	t.Helper()
	f.r.Run(context.Background(), f.r.Checks())
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		fams, err := f.m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0.0
		for _, fam := range fams {
			if fam.GetName() == metrics.NameRuns {
				for _, mt := range fam.Metric {
					n += mt.Counter.GetValue()
				}
			}
		}
		if int(n) == len(f.r.Checks()) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the metrics did not see every warm-up run")
}

// A set with each kind of result: a critical failure whose config holds a
// password, a pass, a warning with an observation, and a non-critical
// failure. Warnings pass, as with WARNINGS_AS_ERRORS false.
const mixed = `
health_check: {WARNINGS_AS_ERRORS: false}
defaults: {cache_ttl: 1h}
checks:
  - name: database
    type: fake
    dsn: postgres://app:s3cret@db.internal:5432/app
    password: s3cret
    fail: "connection refused (postgres://app:s3cret@db.internal:5432/app)"
    groups: [readiness]
  - {name: cache, type: fake, groups: [readiness], observe: 12, measurement: connections, unit: connections}
  - {name: disk, type: fake, warn: "web-1 93.2% disk usage exceeds 90%", observe: 93.2, measurement: utilization, unit: percent, groups: [liveness, readiness]}
  - {name: workers, type: fake, fail: "no worker answered the ping", critical: false}
`

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var (
	// OpenMetrics samples whose values are times or durations.
	timedSample = regexp.MustCompile(`(?m)^(healthd_check_(?:last_duration_seconds|last_run_timestamp_seconds|duration_seconds_bucket|duration_seconds_sum)\{[^}]*\}) \S+$`)
)

// normalise replaces what changes from run to run (times, durations, the
// host name) with fixed values, per format.
func normalise(t *testing.T, format string, body []byte) []byte {
	t.Helper()
	switch format {
	case "health":
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("health+json does not parse: %v\n%s", err, body)
		}
		host, _ := os.Hostname()
		if d, ok := doc["description"].(string); ok {
			doc["description"] = strings.Replace(d, host, "HOST", 1)
		}
		checks, _ := doc["checks"].(map[string]any)
		for key, list := range checks {
			for _, e := range list.([]any) {
				e := e.(map[string]any)
				e["time"] = "TIME"
				if strings.HasSuffix(key, ":responseTime") {
					e["observedValue"] = 0
				}
				if h, ok := e["history"].(map[string]any); ok {
					h["windowSeconds"] = 0
					for _, k := range []string{"results", "keptFailures"} {
						rs, _ := h[k].([]any)
						for _, r := range rs {
							r.(map[string]any)["time"] = "TIME"
							r.(map[string]any)["durationMs"] = 0
						}
					}
				}
			}
		}
		out, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append(out, '\n')
	case "openmetrics":
		return timedSample.ReplaceAll(body, []byte("$1 X"))
	case "json":
		return append(body, '\n')
	}
	return body
}

// formatOf maps a golden file's name to its format: x.health.json,
// x.openmetrics.txt, x.json, x.txt.
func formatOf(golden string) string {
	for _, f := range []string{"health", "openmetrics"} {
		if strings.Contains(golden, "."+f+".") {
			return f
		}
	}
	return strings.TrimPrefix(filepath.Ext(golden), ".")
}

func TestHT_FormatsMatchGoldenFiles(t *testing.T) {
	f := newFixture(t, mixed, nil)
	f.warm(t)
	cases := []struct {
		golden, url, accept, ctype string
	}{
		{"all.json", "/ht/", "application/json", "application/json"},
		{"all.health.json", "/ht/", "application/health+json", "application/health+json"},
		{"all.health.json", "/ht/?format=health", "", "application/health+json"},
		{"all.txt", "/ht/", "text/plain", "text/plain; charset=utf-8"},
		{"all.txt", "/ht/?format=text", "", "text/plain; charset=utf-8"},
		{"all.openmetrics.txt", "/ht/", "application/openmetrics-text", "application/openmetrics-text; version=1.0.0; charset=utf-8"},
		{"all.openmetrics.txt", "/ht/?format=openmetrics", "", "application/openmetrics-text; version=1.0.0; charset=utf-8"},
		{"readiness.health.json", "/ht/readiness/?format=health", "", "application/health+json"},
		{"readiness.txt", "/ht/readiness/?format=text", "", "text/plain; charset=utf-8"},
		{"readiness.openmetrics.txt", "/ht/readiness/?format=openmetrics", "", "application/openmetrics-text; version=1.0.0; charset=utf-8"},
		{"liveness.txt", "/ht/liveness/?format=text", "", "text/plain; charset=utf-8"},
		{"check-disk.health.json", "/ht/check/disk/?format=health", "", "application/health+json"},
		{"check-disk.txt", "/ht/check/disk/", "text/plain", "text/plain; charset=utf-8"},
	}
	for _, c := range cases {
		t.Run(c.golden+" "+c.url+" "+c.accept, func(t *testing.T) {
			resp, body := get(t, f.ts.URL+c.url, "Accept", c.accept)
			if got := resp.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("content type %q, want %q", got, c.ctype)
			}
			// Every response here includes the failing critical database
			// except liveness and the disk check, which pass (warn).
			wantCode := 500
			if strings.Contains(c.url, "liveness") || strings.Contains(c.url, "disk") {
				wantCode = 200
			}
			if resp.StatusCode != wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, wantCode)
			}
			golden(t, c.golden, normalise(t, formatOf(c.golden), []byte(body)))
		})
	}
}

func TestHT_HealthJSONFollowsTheDraft(t *testing.T) {
	f := newFixture(t, mixed, nil)
	resp, body := get(t, f.ts.URL+"/ht/", "Accept", "application/health+json")
	var doc struct {
		Status string `json:"status"`
		Checks map[string][]struct {
			ComponentID   string   `json:"componentId"`
			ComponentType string   `json:"componentType"`
			Status        string   `json:"status"`
			Time          string   `json:"time"`
			Output        *string  `json:"output"`
			ObservedValue *float64 `json:"observedValue"`
			ObservedUnit  string   `json:"observedUnit"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if resp.StatusCode != 500 || doc.Status != "fail" {
		t.Errorf("a failing critical check: %d %q, want 500 fail", resp.StatusCode, doc.Status)
	}
	for key, entries := range doc.Checks {
		name, measurement, ok := strings.Cut(key, ":")
		if !ok || strings.Contains(measurement, ":") {
			t.Errorf("key %q is not <name>:<measurement>", key)
		}
		for _, e := range entries {
			if e.ComponentID != name || e.ComponentType != "component" {
				t.Errorf("%s: componentId %q, componentType %q", key, e.ComponentID, e.ComponentType)
			}
			if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
				t.Errorf("%s: time %q is not RFC 3339: %v", key, e.Time, err)
			}
			if (e.Status == "pass") != (e.Output == nil) {
				t.Errorf("%s: status %s with output %v: output goes with warn and fail only", key, e.Status, e.Output)
			}
			if e.ObservedValue == nil || e.ObservedUnit == "" {
				t.Errorf("%s: no observedValue/observedUnit", key)
			}
		}
	}
	if e := doc.Checks["disk:utilization"]; len(e) != 1 || *e[0].ObservedValue != 93.2 || e[0].ObservedUnit != "percent" || e[0].Status != "warn" {
		t.Errorf("disk:utilization = %+v", e)
	}
	if strings.Contains(body, "s3cret") {
		t.Errorf("health+json shows the password: %s", body)
	}

	// Warnings pass: the draft requires 2xx for warn.
	resp, body = get(t, f.ts.URL+"/ht/liveness/?format=health")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, `{"status":"warn"`) {
		t.Errorf("liveness with a warning: %d %s", resp.StatusCode, body)
	}
}

func TestHT_HealthJSONStatusFollowsTheStatusCode(t *testing.T) {
	// With WARNINGS_AS_ERRORS (the default) a warning fails the response,
	// so the top-level status is fail, never a warn with a 500.
	f := newFixture(t, "checks: [{name: disk, type: fake, warn: 'disk 93% full'}]", nil)
	resp, body := get(t, f.ts.URL+"/ht/?format=health")
	if resp.StatusCode != 500 || !strings.HasPrefix(body, `{"status":"fail"`) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

func TestHT_TextKeepsEachCheckOnOneLine(t *testing.T) {
	f := newFixture(t, "checks: [{name: db, type: fake, fail: \"line one\\nline two\"}]", nil)
	_, body := get(t, f.ts.URL+"/ht/?format=text")
	if body != "[-]db failed: unavailable: line one line two\nhealthd check failed\n" {
		t.Errorf("%q", body)
	}
}

func TestHT_NewFormatsInNegotiation(t *testing.T) {
	f := newFixture(t, healthy, nil)
	for _, c := range []struct{ accept, ctype string }{
		{"application/health+json", "application/health+json"},
		{"text/plain", "text/plain; charset=utf-8"},
		{"application/openmetrics-text; version=1.0.0", "application/openmetrics-text; version=1.0.0; charset=utf-8"},
		// What Prometheus sends: OpenMetrics preferred over the text format.
		{"application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "application/openmetrics-text; version=1.0.0; charset=utf-8"},
		{"text/plain;q=0.9, application/health+json", "application/health+json"},
		{"text/*", "text/html; charset=utf-8"},
	} {
		resp, _ := get(t, f.ts.URL+"/ht/", "Accept", c.accept)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype {
			t.Errorf("Accept %q: %d %q, want 200 %q", c.accept, resp.StatusCode, resp.Header.Get("Content-Type"), c.ctype)
		}
	}
	resp, body := get(t, f.ts.URL+"/ht/?format=yaml")
	if resp.StatusCode != 400 || !strings.Contains(body, "health, html, json, openmetrics, text") {
		t.Errorf("unknown format: %d %q", resp.StatusCode, body)
	}
}

func TestHT_OpenMetricsWithoutRegistryStillHasTheGauges(t *testing.T) {
	ts := newServer(t, healthy) // no metrics in server.Options
	resp, body := get(t, ts.URL+"/ht/?format=openmetrics")
	if resp.StatusCode != 200 || !strings.Contains(body, `healthd_check_state{check="disk",type="fake"} 2`) || !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, ts.URL+"/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics without a registry: %d, want 404", resp.StatusCode)
	}
}
