package runner_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
)

func load(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func fake(r *runner.Runner, name string) *checkstest.Fake {
	if c := r.Lookup(name); c != nil {
		return c.Checker().(*checkstest.Fake)
	}
	panic("no check " + name)
}

func newRunner(t *testing.T, cfg *config.Config, o runner.Options) *runner.Runner {
	t.Helper()
	r, err := runner.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRunner_StatusesAndMessages(t *testing.T) {
	cfg := load(t, `
checks:
  - {name: ok, type: fake, note: "3 workers"}
  - {name: down, type: fake, fail: "connection refused (127.0.0.1:5432)"}
  - {name: full, type: fake, warn: "web-1 93.2% disk usage exceeds 90%"}
  - {name: boom, type: fake, panic: "nil map"}
`)
	for _, wae := range []bool{true, false} {
		r := newRunner(t, cfg, runner.Options{WarningsAsErrors: wae})
		snaps := r.Run(context.Background(), r.Checks())
		got := map[string]*runner.Result{}
		for _, s := range snaps {
			got[s.Check.Name] = s.Result
		}
		if g := got["ok"]; g.Status != runner.Passing || g.Message != "3 workers" {
			t.Errorf("ok: %v %q", g.Status, g.Message)
		}
		if g := got["down"]; g.Status != runner.Failing || g.Message != "unavailable: connection refused (127.0.0.1:5432)" {
			t.Errorf("down: %v %q", g.Status, g.Message)
		}
		// The check's own result: WARNINGS_AS_ERRORS decides only whether
		// it fails a response.
		if g := got["full"]; g.Status != runner.Warning || g.Raw != runner.Warning || g.Message != "warning: web-1 93.2% disk usage exceeds 90%" {
			t.Errorf("WARNINGS_AS_ERRORS=%v full: %v (raw %v) %q", wae, g.Status, g.Raw, g.Message)
		}
		if fails := r.Lookup("full").FailsResponse(got["full"]); fails != wae {
			t.Errorf("WARNINGS_AS_ERRORS=%v: the warning fails the response: %v", wae, fails)
		}
		if g := got["boom"]; g.Status != runner.Failing || g.Message != "unknown error: the check crashed: nil map" {
			t.Errorf("boom: %v %q", g.Status, g.Message)
		}
	}
}

// WARNINGS_AS_ERRORS makes a critical check's own warning fail the
// response, and only that: not a non-critical check's warning, nor a
// failure that flap damping still shows as a warning; the checks keep their
// statuses.
func TestSummarize_WarningsAsErrors(t *testing.T) {
	const yaml = `
health_check: {WARNINGS_AS_ERRORS: %v}
checks:
  - {name: ok, type: fake}
  - {name: full, type: fake, warn: "93.2%% disk usage exceeds 90%%"}
  - {name: full-nc, type: fake, warn: "93.2%% disk usage exceeds 90%%", critical: false}
  - {name: damped, type: fake, fail: "connection refused", failures_before_critical: 3}
`
	for _, c := range []struct {
		wae    bool
		sel    []string
		ok     bool
		status runner.Status
	}{
		{true, []string{"ok", "full"}, false, runner.Failing},
		{false, []string{"ok", "full"}, true, runner.Warning},
		{true, []string{"ok", "full-nc"}, true, runner.Warning},
		{true, []string{"ok", "damped"}, true, runner.Warning},
		{true, []string{"ok"}, true, runner.Passing},
	} {
		cfg := load(t, fmt.Sprintf(yaml, c.wae))
		if cfg.HealthCheck.WarningsAsErrors != c.wae {
			t.Fatalf("config WARNINGS_AS_ERRORS %v", cfg.HealthCheck.WarningsAsErrors)
		}
		r := newRunner(t, cfg, runner.Options{WarningsAsErrors: c.wae})
		var sel []*runner.Check
		for _, n := range c.sel {
			sel = append(sel, r.Lookup(n))
		}
		snaps := r.Run(context.Background(), sel)
		o := runner.Summarize(snaps)
		if o.OK != c.ok || o.Status != c.status || o.Warnings != 1 && len(sel) > 1 || o.Failing != 0 {
			t.Errorf("WARNINGS_AS_ERRORS=%v %v: got %+v, want ok=%v status=%v, 1 warning, 0 failing", c.wae, c.sel, o, c.ok, c.status)
		}
		for _, s := range snaps[1:] {
			if s.Result.Status != runner.Warning {
				t.Errorf("WARNINGS_AS_ERRORS=%v: %s shows %v, want its own warning", c.wae, s.Check.Name, s.Result.Status)
			}
		}
	}
}

// The runner's timing is tested in a synctest bubble, whose clock moves
// only when every goroutine in it is blocked: the durations below are exact
// however busy the machine is, and no test sleeps in real time.

func TestRunner_CheckIgnoringDeadlineCannotHoldTheProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := load(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: stuck, type: fake, sleep: 2s, ignore_context: true, timeout: 200ms}
  - {name: quick, type: fake}
`)
		const grace = 50 * time.Millisecond
		r := newRunner(t, cfg, runner.Options{Grace: grace})
		start := time.Now()
		snaps := r.Run(context.Background(), r.Checks())
		if took := time.Since(start); took != 200*time.Millisecond+grace {
			t.Errorf("probe took %v, want the timeout 200ms + the grace %v", took, grace)
		}
		if s := snaps[0].Result; s.Status != runner.Failing || s.Message != "unavailable: timed out after 200ms" {
			t.Errorf("stuck: %v %q", s.Status, s.Message)
		}
		if snaps[1].Result.Status != runner.Passing {
			t.Errorf("quick: %v", snaps[1].Result.Status)
		}
		// The abandoned run is still sleeping: the next run, a moment later
		// (a probe at the very instant the first ended would share its
		// result), must not start a second goroutine in the check, and must
		// answer at once.
		time.Sleep(time.Millisecond)
		start = time.Now()
		snaps = r.Run(context.Background(), r.Checks()[:1])
		if took := time.Since(start); took != 0 {
			t.Errorf("second probe waited %v on a stuck check", took)
		}
		if !strings.Contains(snaps[0].Result.Message, "previous run has not returned") {
			t.Errorf("second run: %q", snaps[0].Result.Message)
		}
		if n := fake(r, "stuck").MaxConcurrent(); n != 1 {
			t.Errorf("check ran %d times at once, want 1", n)
		}
		time.Sleep(2 * time.Second) // the abandoned run returns before the bubble ends
	})
}

func TestRunner_ContextHonouringTimeoutKeepsCheckMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := load(t, `
checks:
  - {name: slow, type: fake, sleep: 5s, timeout: 100ms}
`)
		r := newRunner(t, cfg, runner.Options{})
		res := r.Run(context.Background(), r.Checks())[0].Result
		if res.Message != "unavailable: timed out after 100ms" {
			t.Errorf("message %q", res.Message)
		}
		if res.Duration != 100*time.Millisecond {
			t.Errorf("duration %v, want the timeout, 100ms", res.Duration)
		}
	})
}

func TestRunner_ConcurrentColdProbesShareOneRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := load(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: a, type: fake, sleep: 100ms}
  - {name: b, type: fake, sleep: 50ms}
  - {name: c, type: fake, fail: "down"}
`)
		r := newRunner(t, cfg, runner.Options{})
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r.Run(context.Background(), r.Checks())
			}()
		}
		close(start)
		wg.Wait()
		// The bubble's clock stands still until every probe is waiting, so
		// all 64 arrived at the same instant: each check's run was either in
		// flight or ended at that instant, and every probe shared it (with
		// cache_ttl 0, a run that ended before a probe arrived would not do).
		for _, name := range []string{"a", "b", "c"} {
			if n := fake(r, name).Runs(); n != 1 {
				t.Errorf("%s ran %d times for 64 concurrent probes, want 1", name, n)
			}
			if m := fake(r, name).MaxConcurrent(); m != 1 {
				t.Errorf("%s: %d runs overlapped", name, m)
			}
		}
	})
}

func TestRunner_CacheTTLReusesResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := load(t, `
defaults: {cache_ttl: 300ms, max_stale: 0s}
checks:
  - {name: a, type: fake}
`)
		r := newRunner(t, cfg, runner.Options{})
		for i := 0; i < 20; i++ {
			r.Run(context.Background(), r.Checks())
		}
		if n := fake(r, "a").Runs(); n != 1 {
			t.Fatalf("20 probes within cache_ttl ran the check %d times", n)
		}
		time.Sleep(300*time.Millisecond - time.Nanosecond)
		r.Run(context.Background(), r.Checks())
		if n := fake(r, "a").Runs(); n != 1 {
			t.Fatalf("a probe 1ns before cache_ttl ended ran the check: %d runs in all, want 1", n)
		}
		time.Sleep(time.Nanosecond)
		r.Run(context.Background(), r.Checks())
		if n := fake(r, "a").Runs(); n != 2 {
			t.Fatalf("after cache_ttl the check ran %d times in all, want 2", n)
		}
	})
}

func TestRunner_StaleResultServedWhileRefreshing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := load(t, `
defaults: {cache_ttl: 50ms, max_stale: 10s}
checks:
  - {name: a, type: fake, sleep: 200ms}
`)
		r := newRunner(t, cfg, runner.Options{})
		first := r.Run(context.Background(), r.Checks())[0].Result
		time.Sleep(80 * time.Millisecond)
		start := time.Now()
		second := r.Run(context.Background(), r.Checks())[0].Result
		if took := time.Since(start); took != 0 {
			t.Errorf("stale read waited %v for the refresh", took)
		}
		if second != first {
			t.Errorf("expected the stale result while the refresh runs")
		}
		time.Sleep(200 * time.Millisecond)
		synctest.Wait() // the refresh, started 200ms ago, publishes
		third := r.Run(context.Background(), r.Checks())[0].Result
		if third.Seq <= first.Seq {
			t.Errorf("refresh did not publish a newer result")
		}
		if d := third.Started.Sub(first.Started); d != 280*time.Millisecond {
			t.Errorf("the refresh started %v after the first run, want 280ms (when the stale read came)", d)
		}
	})
}

// Past cache_ttl + max_stale a result is not served: the probe waits for a
// new run.
func TestRunner_ResultBeyondMaxStaleIsNotServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := load(t, `
defaults: {cache_ttl: 50ms, max_stale: 100ms}
checks:
  - {name: a, type: fake, sleep: 200ms}
`)
		r := newRunner(t, cfg, runner.Options{})
		first := r.Run(context.Background(), r.Checks())[0].Result
		time.Sleep(150 * time.Millisecond)
		start := time.Now()
		res := r.Run(context.Background(), r.Checks())[0].Result
		if took := time.Since(start); took != 200*time.Millisecond || res.Seq <= first.Seq {
			t.Errorf("a probe 150ms after the run (cache_ttl 50ms + max_stale 100ms) got seq %d after %v, want a new run's result after its 200ms", res.Seq, took)
		}
	})
}

func TestRunner_IntervalRunsInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := load(t, `
checks:
  - {name: a, type: fake, interval: 100ms}
`)
		var mu sync.Mutex
		var starts []time.Time
		obs := runner.ObserverFunc(func(_ *runner.Check, _, cur *runner.Result) {
			mu.Lock()
			starts = append(starts, cur.Started)
			mu.Unlock()
		})
		r := newRunner(t, cfg, runner.Options{Observers: []runner.Observer{obs}})
		r.Start()
		time.Sleep(1050 * time.Millisecond)
		synctest.Wait()
		mu.Lock()
		// The warm-up run at 0, the first background run somewhere in the
		// first 100ms (staggered), then one every 100ms ±10%: 10 to 13 runs.
		if n := len(starts); n < 10 || n > 13 {
			t.Errorf("background runs in 1050ms at 100ms±10%%: %d", n)
		}
		if len(starts) > 1 && starts[1].Sub(starts[0]) >= 100*time.Millisecond {
			t.Errorf("the first background run came %v after the warm-up, want within the first interval", starts[1].Sub(starts[0]))
		}
		for i := 2; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap < 90*time.Millisecond || gap > 110*time.Millisecond {
				t.Errorf("run %d came %v after the one before, want 100ms±10%%", i, gap)
			}
		}
		mu.Unlock()
		r.Stop()
		after := fake(r, "a").Runs()
		time.Sleep(time.Second)
		if fake(r, "a").Runs() != after {
			t.Errorf("runs continued after Stop")
		}
	})
}

func TestRunner_StartWarmsSoFirstProbeHasNoFalseFailure(t *testing.T) {
	cfg := load(t, `
checks:
  - {name: a, type: fake, sleep: 50ms}
`)
	r := newRunner(t, cfg, runner.Options{})
	r.Start()
	res := r.Run(context.Background(), r.Checks())[0].Result
	if res.Status != runner.Passing {
		t.Fatalf("first probe: %v %q", res.Status, res.Message)
	}
	if n := fake(r, "a").Runs(); n != 1 {
		t.Errorf("first probe should join the warm-up run, runs=%d", n)
	}
}

func TestRunner_SecretsAreRedacted(t *testing.T) {
	cfg := load(t, `
checks:
  - {name: a, type: fake, dsn: "postgres://u:hunter2-secret@db/x", fail: "auth failed for hunter2-secret"}
`)
	r := newRunner(t, cfg, runner.Options{})
	res := r.Run(context.Background(), r.Checks())[0].Result
	if strings.Contains(res.Message, "hunter2") {
		t.Fatalf("secret leaked: %q", res.Message)
	}
}

func TestSummarize(t *testing.T) {
	mk := func(crit bool, st runner.Status) runner.Snapshot {
		return runner.Snapshot{Check: &runner.Check{Check: config.Check{Critical: crit}}, Result: &runner.Result{Status: st}}
	}
	cases := []struct {
		name   string
		snaps  []runner.Snapshot
		ok     bool
		status runner.Status
	}{
		{"all pass", []runner.Snapshot{mk(true, runner.Passing)}, true, runner.Passing},
		{"critical fails", []runner.Snapshot{mk(true, runner.Passing), mk(true, runner.Failing)}, false, runner.Failing},
		{"non-critical fails", []runner.Snapshot{mk(true, runner.Passing), mk(false, runner.Failing)}, true, runner.Warning},
		{"warning passes", []runner.Snapshot{mk(true, runner.Warning)}, true, runner.Warning},
	}
	for _, c := range cases {
		o := runner.Summarize(c.snaps)
		if o.OK != c.ok || o.Status != c.status {
			t.Errorf("%s: got ok=%v status=%v", c.name, o.OK, o.Status)
		}
	}
}

// TestRunner_ObserversHearResultsInPublishedOrder runs a check back to back
// from several probers: every observation's prev is the result the one
// before it reported, so no run's news overtakes an earlier one's.
func TestRunner_ObserversHearResultsInPublishedOrder(t *testing.T) {
	cfg := load(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
checks: [{name: a, type: fake}]
`)
	var mu sync.Mutex
	type seen struct{ prev, cur *runner.Result }
	var got []seen
	obs := runner.ObserverFunc(func(_ *runner.Check, prev, cur *runner.Result) {
		mu.Lock()
		got = append(got, seen{prev, cur})
		mu.Unlock()
	})
	r := newRunner(t, cfg, runner.Options{Observers: []runner.Observer{obs}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 {
				r.Run(context.Background(), r.Checks())
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 100 {
		t.Fatalf("only %d runs observed", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].prev != got[i-1].cur {
			t.Fatalf("observation %d of %d: prev is not the result observed before it (out of order)", i, len(got))
		}
	}
}
