package daemon_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// Under a steady stream of concurrent probes, every change of state is one
// log line and nothing else is logged: not the initial pass, not the
// probes, not the repeated failures.
func TestStateLog_OneLinePerTransitionUnderSteadyProbes(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
defaults: {cache_ttl: 0s, max_stale: 0s}
checks: [{name: db, type: fake, failures_before_critical: 2, dsn: "postgres://u:hunter2@db/app"}]
`), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testsvc.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := checkstest.NewRunner(t, cfg, runner.Options{Observers: []runner.Observer{daemon.NewStateLog(logger)}})
	f := checkstest.FakeOf(r, cfg.Checks[0].Name)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 { // a load balancer and friends, polling constantly
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r.Run(ctx, r.Checks())
				time.Sleep(time.Millisecond)
			}
		}()
	}
	waitFor := func(want runner.Status) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if last := r.Lookup("db").Last(); last != nil && last.Status == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("db never became %v", want)
			}
			time.Sleep(time.Millisecond)
		}
		// several more runs in the same state, which must log nothing
		for n := f.Runs(); f.Runs() < n+5; {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(runner.Passing)
	f.SetFail("connection refused: password hunter2")
	waitFor(runner.Failing) // passing → warning (1 of 2) → failing
	f.SetFail("")
	waitFor(runner.Passing)
	cancel()
	wg.Wait()

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad log line %q", l)
		}
		lines = append(lines, m)
	}
	want := []struct{ msg, level, from, to string }{
		{"check warning", "WARN", "passing", "warning"},
		{"check failing", "ERROR", "warning", "failing"},
		{"check recovered", "INFO", "failing", "passing"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), logs)
	}
	for i, w := range want {
		l := lines[i]
		if l["msg"] != w.msg || l["level"] != w.level || l["from"] != w.from || l["to"] != w.to || l["check"] != "db" {
			t.Errorf("line %d: %v, want %+v", i+1, l, w)
		}
	}
	if e := lines[1]["error"]; e != "unavailable: connection refused: password ****" {
		t.Errorf("failing line's error: %v", e)
	}
	if d, err := time.ParseDuration(lines[2]["down_for"].(string)); err != nil || d <= 0 {
		t.Errorf("recovered line's down_for: %v", lines[2]["down_for"])
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("a secret was logged:\n%s", logs)
	}
}

func TestStateLog_FirstResultLoggedOnlyWhenNotPassing(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
checks:
  - {name: up, type: fake}
  - {name: down, type: fake, fail: refused}
  - {name: optional, type: fake, fail: refused, critical: false}
`), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testsvc.Buffer{}
	r := checkstest.NewRunner(t, cfg, runner.Options{Observers: []runner.Observer{daemon.NewStateLog(slog.New(slog.NewTextHandler(logs, nil)))}})
	r.Run(context.Background(), r.Checks())
	// Observers run just after the probe has its answer.
	for deadline := time.Now().Add(2 * time.Second); strings.Count(logs.String(), "\n") < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // and nothing more arrives
	out := logs.String()
	if strings.Contains(out, "check=up") || strings.Count(out, "\n") != 2 ||
		!strings.Contains(out, `level=ERROR msg="check failing" check=down from=unknown to=failing`) ||
		!strings.Contains(out, `level=WARN msg="check failing" check=optional from=unknown to=failing`) {
		t.Errorf("logs:\n%s", out)
	}
}

// A check's own warning is logged as "check warning" whatever
// WARNINGS_AS_ERRORS says: that setting fails /ht/, it does not make the
// threshold an outage.
func TestStateLog_WarningStaysAWarningUnderWarningsAsErrors(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
health_check: {WARNINGS_AS_ERRORS: true}
checks: [{name: disk, type: fake, warn: "web-1 93.2% disk usage exceeds 90%"}]
`), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testsvc.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	r := checkstest.NewRunner(t, cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors, Observers: []runner.Observer{daemon.NewStateLog(logger)}})
	r.Run(context.Background(), r.Checks())
	deadline := time.Now().Add(10 * time.Second) // the observer hears of the run just after the probe
	for !strings.Contains(logs.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var line struct{ Level, Msg, To string }
	if err := json.Unmarshal([]byte(strings.SplitN(logs.String(), "\n", 2)[0]), &line); err != nil {
		t.Fatalf("log: %v\n%s", err, logs)
	}
	if line.Level != "WARN" || line.Msg != "check warning" || line.To != "warning" {
		t.Errorf("logged %+v, want a WARN \"check warning\" to warning\n%s", line, logs)
	}
}
