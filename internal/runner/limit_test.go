package runner_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// targetLoad counts the runs in progress against each target, across
// checks: the "targeted" check type of a test reports to one.
type targetLoad struct {
	mu      sync.Mutex
	running map[string]int
	peak    map[string]int
}

func newTargetLoad() *targetLoad {
	return &targetLoad{running: map[string]int{}, peak: map[string]int{}}
}

func (l *targetLoad) enter(target string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[target]++
	l.peak[target] = max(l.peak[target], l.running[target])
}

func (l *targetLoad) leave(target string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[target]--
}

func (l *targetLoad) Peak(target string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak[target]
}

// load parses yaml with the built-in types, "fake" and "targeted": a check
// that names target as its dependency and sleeps (honouring its context)
// in every run, counted in l.
func (l *targetLoad) load(t *testing.T, yaml string) *config.Config {
	t.Helper()
	reg := checkstest.Registry().MustRegister(checks.Type{Name: "targeted", ComponentType: "component",
		NewConfig: func(checks.Settings) checks.Config { return &targetedConfig{load: l} }})
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: reg})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

type targetedConfig struct {
	Target string        `key:"target" doc:"the dependency named"`
	Sleep  time.Duration `key:"sleep" doc:"sleep this long in every run"`
	Ignore bool          `key:"ignore_context" doc:"sleep through the run's deadline"`
	load   *targetLoad
}

func (c *targetedConfig) Validate() error { return nil }

func (c *targetedConfig) Build(checks.Env) (checks.Checker, error) {
	return &targeted{target: c.Target, sleep: c.Sleep, ignore: c.Ignore, load: c.load}, nil
}

type targeted struct {
	target string
	sleep  time.Duration
	ignore bool
	load   *targetLoad
	runs   int
	mu     sync.Mutex
}

func (c *targeted) Target() string { return c.target }

func (c *targeted) Check(ctx context.Context) error {
	c.load.enter(c.target)
	defer c.load.leave(c.target)
	c.mu.Lock()
	c.runs++
	c.mu.Unlock()
	if c.ignore {
		time.Sleep(c.sleep)
		return nil
	}
	select {
	case <-time.After(c.sleep):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *targeted) Runs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

func runsOf(r *runner.Runner, name string) int { return r.Lookup(name).Checker().(*targeted).Runs() }

// Runs against one target never exceed max_runs_per_target; each target
// has its own slots, and a check that names no target is not bounded.
func TestRunner_RunsPerTargetAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTargetLoad()
		var b strings.Builder
		b.WriteString("defaults: {max_runs_per_target: 3, cache_ttl: 0s, max_stale: 0s}\nchecks:\n")
		for i := range 10 {
			fmt.Fprintf(&b, "  - {name: a%d, type: targeted, target: \"db:5432\", sleep: 100ms}\n", i)
		}
		for i := range 5 {
			fmt.Fprintf(&b, "  - {name: b%d, type: targeted, target: \"cache:6379\", sleep: 100ms}\n", i)
		}
		for i := range 4 {
			fmt.Fprintf(&b, "  - {name: m%d, type: targeted, target: \"\", sleep: 100ms}\n", i)
		}
		r := newRunner(t, l.load(t, b.String()), runner.Options{})
		start := time.Now()
		snaps := r.Run(context.Background(), r.Checks())
		// db:5432: 10 runs, 3 at a time: 4 rounds of 100ms.
		if took := time.Since(start); took != 400*time.Millisecond {
			t.Errorf("the probe took %v, want 400ms (10 runs of 100ms, 3 at a time)", took)
		}
		for _, s := range snaps {
			if s.Result.Status != runner.Passing {
				t.Errorf("%s: %v %q", s.Check.Name, s.Result.Status, s.Result.Message)
			}
		}
		for target, want := range map[string]int{"db:5432": 3, "cache:6379": 3, "": 4} {
			if got := l.Peak(target); got != want {
				t.Errorf("target %q: %d runs at once, want %d", target, got, want)
			}
		}
	})
}

// A run still waiting for a slot at its deadline fails then, saying why,
// and never calls the check; the wait counts in its duration.
func TestRunner_QueuedRunTimesOutWithinItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTargetLoad()
		cfg := l.load(t, `
defaults: {max_runs_per_target: 2}
checks:
  - {name: hog1, type: targeted, target: "127.0.0.1:5432", sleep: 10s, timeout: 10s}
  - {name: hog2, type: targeted, target: "127.0.0.1:5432", sleep: 10s, timeout: 10s}
  - {name: late, type: targeted, target: "127.0.0.1:5432", timeout: 5s}
`)
		r := newRunner(t, cfg, runner.Options{})
		go r.Run(context.Background(), r.Checks()[:2])
		synctest.Wait() // the hogs hold both slots
		start := time.Now()
		res := r.Run(context.Background(), []*runner.Check{r.Lookup("late")})[0].Result
		if took := time.Since(start); took != 5*time.Second {
			t.Errorf("the probe took %v, want the check's timeout, 5s", took)
		}
		const want = "unavailable: timed out after 5s waiting for a free slot: 2 runs against 127.0.0.1:5432 in progress (defaults.max_runs_per_target)"
		if res.Status != runner.Failing || res.Kind != checks.KindUnavailable || res.Message != want {
			t.Errorf("late: %v %v %q, want failing, unavailable, %q", res.Status, res.Kind, res.Message, want)
		}
		if res.Duration != 5*time.Second {
			t.Errorf("duration %v, want the 5s spent waiting", res.Duration)
		}
		if n := runsOf(r, "late"); n != 0 {
			t.Errorf("the queued check ran %d times", n)
		}
		time.Sleep(10 * time.Second) // the hogs end before the bubble
	})
}

// A run abandoned at its deadline keeps its slot until the check returns,
// since it still loads the dependency; the check's next run fails at once
// as stuck, without queueing.
func TestRunner_StuckRunKeepsItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTargetLoad()
		cfg := l.load(t, `
defaults: {max_runs_per_target: 1, cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: stuck, type: targeted, target: "db:5432", sleep: 3s, ignore_context: true, timeout: 1s}
  - {name: next, type: targeted, target: "db:5432", timeout: 5s}
`)
		r := newRunner(t, cfg, runner.Options{})
		stuck, next := r.Lookup("stuck"), r.Lookup("next")
		t0 := time.Now()
		res := r.Run(context.Background(), []*runner.Check{stuck})[0].Result
		if !strings.HasPrefix(res.Message, "unavailable: timed out after 1s") {
			t.Fatalf("stuck: %q", res.Message)
		}
		time.Sleep(time.Millisecond) // a probe at the instant it ended would share its result
		start := time.Now()
		again := r.Run(context.Background(), []*runner.Check{stuck})[0].Result
		if took := time.Since(start); took != 0 || !strings.Contains(again.Message, "previous run has not returned") {
			t.Errorf("stuck again after %v: %q, want at once the stuck message", took, again.Message)
		}
		start = time.Now()
		res = r.Run(context.Background(), []*runner.Check{next})[0].Result
		// The abandoned run returns 3s after it started.
		if took, want := time.Since(start), t0.Add(3*time.Second).Sub(start); res.Status != runner.Passing || took != want {
			t.Errorf("next: %v %q after %v, want a pass after %v, when the stuck run returned", res.Status, res.Message, took, want)
		}
		if p := l.Peak("db:5432"); p != 1 {
			t.Errorf("%d runs at once against db:5432, want 1", p)
		}
	})
}

// Start runs a thousand checks of one target right away, but no more than
// max_runs_per_target at once; a probe arriving meanwhile joins the runs
// in flight (each check runs once) and answers when the last one ends.
func TestRunner_StartWithAThousandChecksOnOneTargetQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTargetLoad()
		var b strings.Builder
		b.WriteString("defaults: {timeout: 10s}\nchecks:\n")
		for i := range 1000 {
			fmt.Fprintf(&b, "  - {name: db%d, type: targeted, target: \"127.0.0.1:5432\", sleep: 10ms}\n", i)
		}
		r := newRunner(t, l.load(t, b.String()), runner.Options{})
		start := time.Now()
		r.Start()
		snaps := r.Run(context.Background(), r.Checks())
		// 1000 runs of 10ms, the default 4 at a time.
		if took := time.Since(start); took != 2500*time.Millisecond {
			t.Errorf("the first probe took %v, want 2.5s", took)
		}
		if p := l.Peak("127.0.0.1:5432"); p != runner.DefaultMaxRunsPerTarget {
			t.Errorf("%d runs at once against one target, want %d", p, runner.DefaultMaxRunsPerTarget)
		}
		for _, s := range snaps {
			if s.Result.Status != runner.Passing {
				t.Fatalf("%s: %v %q", s.Check.Name, s.Result.Status, s.Result.Message)
			}
			if n := runsOf(r, s.Check.Name); n != 1 {
				t.Fatalf("%s ran %d times, want once: the probe joins the warm-up run", s.Check.Name, n)
			}
		}
	})
}

// The first background runs of checks started together are spread over
// their interval, as consul staggers its checks, instead of all coming one
// interval after Start.
func TestRunner_FirstIntervalRunsAreStaggered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const checks, interval = 100, 10 * time.Second
		var b strings.Builder
		fmt.Fprintf(&b, "defaults: {interval: %s}\nchecks:\n", interval)
		for i := range checks {
			fmt.Fprintf(&b, "  - {name: c%d, type: fake}\n", i)
		}
		var mu sync.Mutex
		starts := map[string][]time.Time{}
		obs := runner.ObserverFunc(func(c *runner.Check, _, cur *runner.Result) {
			mu.Lock()
			starts[c.Name] = append(starts[c.Name], cur.Started)
			mu.Unlock()
		})
		r := newRunner(t, load(t, b.String()), runner.Options{Observers: []runner.Observer{obs}})
		t0 := time.Now()
		r.Start()
		time.Sleep(interval - time.Nanosecond)
		synctest.Wait()
		r.Stop()
		mu.Lock()
		defer mu.Unlock()
		// Each second of the interval gets about 10 of the 100 first
		// background runs; more than 30 in one (p < 1e-8 when uniform)
		// means they bunch.
		var perSecond [10]int
		for i := range checks {
			s := starts[fmt.Sprintf("c%d", i)]
			if len(s) < 2 || !s[0].Equal(t0) {
				t.Fatalf("c%d ran at %v, want the warm-up at 0 and one background run within the first interval", i, s)
			}
			perSecond[s[1].Sub(t0)/time.Second]++
		}
		for sec, n := range perSecond {
			if n > 30 {
				t.Errorf("%d of %d first background runs came in second %d of the interval: %v", n, checks, sec, perSecond)
			}
		}
	})
}

// 200 postgres checks of one server, started together, connect to it at
// most max_runs_per_target at a time. The proxy in front of the machine's
// PostgreSQL holds its answers for 50ms, and the checks ask for a database
// that does not exist, so each run holds one connection for at least those
// 50ms and the server closes it (a check that passed would keep its
// connection pooled: that is the shared pools' business, not the bound's).
// The connections open at once, counted at the proxy, are the runs in
// progress, plus at most one per run that ended a moment ago whose close
// the proxy has not seen yet. Without the bound, all 200 would connect at
// once.
func TestRunner_PostgresChecksOfOneServerQueue(t *testing.T) {
	testsvc.MachinePostgres(t)
	const n, perTarget = 200, 4
	proxy := testsvc.NewProxy(t, "127.0.0.1:5432")
	proxy.Delay(50 * time.Millisecond)
	dsn := fmt.Sprintf("postgres://postgres@%s/healthd_no_such_db?sslmode=disable", proxy.Addr())
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: {timeout: %s, max_runs_per_target: %d}\nchecks:\n", testsvc.AnswerTimeout, perTarget)
	for i := range n {
		fmt.Fprintf(&b, "  - {name: db%d, type: postgres, dsn: %q}\n", i, dsn)
	}
	r := newRunner(t, checkstest.Load(t, b.String()), runner.Options{})
	start := time.Now()
	r.Start()
	snaps := r.Run(context.Background(), r.Checks())
	testsvc.NotHung(t, "the first probe", time.Since(start), testsvc.AnswerTimeout)
	if p := proxy.PeakClients(); p > 2*perTarget {
		t.Errorf("%d connections of the checks were open at once, want at most %d", p, 2*perTarget)
	}
	want := `unavailable: database "healthd_no_such_db" does not exist (` + proxy.Addr() + ")"
	for _, s := range snaps {
		// On a machine too busy to make 50 rounds of 50ms within the
		// timeout, the last runs fail queued: still no more at once.
		if m := s.Result.Message; m != want && !strings.Contains(m, "waiting for a free slot") {
			t.Errorf("%s: %v %q, want %q", s.Check.Name, s.Result.Status, m, want)
		}
	}
}
