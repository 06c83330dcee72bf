// Package runner executes checks: each under its own deadline, in parallel,
// with concurrent requests sharing one run per check (single flight), at
// most max_runs_per_target runs against one dependency at once, results
// reused for their cache TTL, and checks with an interval refreshed in the
// background on staggered schedules. A probe never waits longer than the
// slowest selected check's timeout, whatever a check does.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
)

// Status is a check's or a response's state. The numbers are the ones
// exported as healthd_check_state: 0 failing, 1 warning, 2 passing. A
// check's own warning (a threshold crossed) is Warning whatever
// WARNINGS_AS_ERRORS says: that setting decides only whether the warning
// fails a response (see Check.FailsResponse).
type Status int

const (
	Failing Status = iota
	Warning
	Passing
)

func (s Status) String() string {
	switch s {
	case Passing:
		return "passing"
	case Warning:
		return "warning"
	}
	return "failing"
}

// Result is one run of a check. Results are immutable once published.
type Result struct {
	// Status is what the check shows, after flap damping (see damping.go).
	Status Status
	// Raw is what the run itself found, before damping; it equals Status
	// when the check has no thresholds.
	Raw Status
	// Message is the failure text ("unavailable: connection refused
	// (127.0.0.1:5432)") or a passing run's note; secrets are redacted.
	Message      string
	Kind         checks.Kind // of a failure or warning
	Observations []checks.Observation
	Started      time.Time
	Duration     time.Duration
	Seq          uint64 // increases with every run of any check
}

// Finished is when the run ended.
func (r *Result) Finished() time.Time { return r.Started.Add(r.Duration) }

// Changed reports whether cur is a change of state worth telling someone
// about (a log line, a notification): a different status from prev, or a
// check's first result when it is not passing. An initial pass is not news.
func Changed(prev, cur *Result) bool {
	if prev == nil {
		return cur.Status != Passing
	}
	return prev.Status != cur.Status
}

// Observer is told about every completed run, after waiting probes have
// their answer. It must not block: queue slow work.
type Observer interface {
	Observe(c *Check, prev, cur *Result)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(c *Check, prev, cur *Result)

// Observe calls f.
func (f ObserverFunc) Observe(c *Check, prev, cur *Result) { f(c, prev, cur) }

// Options configure a Runner.
type Options struct {
	// WarningsAsErrors makes a critical check's own warning fail the
	// responses that include it. It does not change the check's status.
	WarningsAsErrors bool
	Logger           *slog.Logger
	Observers        []Observer
	// Grace is how long past its timeout a run may take before the runner
	// stops waiting for it; it lets a check that honours its deadline report
	// its own, more precise, message.
	Grace time.Duration
}

// Check is a configured check with its run state.
type Check struct {
	config.Check
	checker checks.Checker

	last    atomic.Pointer[Result]
	history *History
	mu      sync.Mutex
	flight  *flight
	// stuck is set while a run's goroutine has not returned; a check that
	// ignores its deadline cannot pile up goroutines.
	stuck atomic.Bool
	// damp holds the flap-damping counters; guarded by mu.
	damp damping
	// inherited is set while last was carried over from the runner this
	// one replaced on reload: it is shown until the first run ends but
	// never counted as fresh, so a changed check is run at once.
	inherited atomic.Bool
	// warningsAsErrors is the runner's Options.WarningsAsErrors.
	warningsAsErrors bool
	// target is the dependency the check loads (checks.Targeter) and
	// slots the semaphore of the runs against it that every check of the
	// target shares; nil (no bound) when the check names none.
	target string
	slots  chan struct{}

	// Observers hear of results in the order they were published: each
	// publication takes a ticket (published, guarded by mu) and tells the
	// observers when told reaches it, so a run that ends just after
	// another cannot overtake it ("failing" logged before "warning").
	published uint64
	tellMu    sync.Mutex
	tellTurn  sync.Cond // L is &tellMu
	told      uint64    // guarded by tellMu
}

// Last returns the latest result, or nil before the first run ends.
func (c *Check) Last() *Result { return c.last.Load() }

// Checker returns the built check (tests look into their fakes).
func (c *Check) Checker() checks.Checker { return c.checker }

// FailsResponse reports whether r, a result of c, fails the responses that
// include c: c is critical and r is failing, or r is c's own warning while
// WARNINGS_AS_ERRORS is true. A failure that flap damping still shows as a
// warning has the failure's kind, so it does not fail them.
func (c *Check) FailsResponse(r *Result) bool {
	if !c.Critical {
		return false
	}
	return r.Status == Failing || r.Status == Warning && r.Kind == checks.KindWarning && c.warningsAsErrors
}

// History returns the check's recent results.
func (c *Check) History() *History { return c.history }

type flight struct {
	done chan struct{}
	res  *Result
}

// DefaultMaxRunsPerTarget is defaults.max_runs_per_target's default, used
// when a Config sets none.
const DefaultMaxRunsPerTarget = 4

// Runner runs a fixed set of checks. Build a new one on reload: the
// per-target semaphores belong to it.
type Runner struct {
	opts   Options
	checks []*Check
	byName map[string]*Check
	seq    atomic.Uint64

	ctx    context.Context // parent of every run; cancelled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	closed atomic.Bool
}

// New builds cfg's checks, opening their clients, and returns a runner for
// them: the step after loading that validate never takes. Call Start to
// warm it up and run background checks, and Close when done. On error no
// client is left open.
func New(cfg *config.Config, opts Options) (*Runner, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Grace == 0 {
		opts.Grace = 25 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{opts: opts, byName: map[string]*Check{}, ctx: ctx, cancel: cancel}
	perTarget := cfg.MaxRunsPerTarget
	if perTarget < 1 { // a Config not from the loader
		perTarget = DefaultMaxRunsPerTarget
	}
	slots := map[string]chan struct{}{}
	var errs []error
	clients := new(checks.Clients) // checks on one server and credentials share a client; each Close releases it
	for _, cc := range cfg.Checks {
		checker, err := build(cc, cfg.HealthCheck, opts.Logger, clients)
		if err != nil {
			errs = append(errs, fmt.Errorf("check %q: %s", cc.Name, checks.Redact(err.Error(), cc.Secrets)))
			continue
		}
		c := &Check{Check: *cc, checker: checker, history: newHistory(cc.History), warningsAsErrors: opts.WarningsAsErrors}
		c.tellTurn.L = &c.tellMu
		if t, ok := checker.(checks.Targeter); ok && t.Target() != "" {
			c.target = t.Target()
			if slots[c.target] == nil {
				slots[c.target] = make(chan struct{}, perTarget)
			}
			c.slots = slots[c.target]
		}
		r.checks = append(r.checks, c)
		r.byName[c.Name] = c
	}
	if len(errs) > 0 {
		r.Close()
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// build opens c's clients; a panic in a check type is that check's error.
func build(c *config.Check, s checks.Settings, logger *slog.Logger, clients *checks.Clients) (ch checks.Checker, err error) {
	defer func() {
		if p := recover(); p != nil {
			ch, err = nil, fmt.Errorf("check type failed to build: %v", p)
		}
	}()
	if c.Spec == nil {
		return nil, errors.New("the check was not loaded from a config")
	}
	ch, err = c.Spec.Build(checks.Env{Name: c.Name, Timeout: c.Timeout, Settings: s, Logger: logger.With("check", c.Name), Clients: clients})
	if err == nil && ch == nil {
		err = errors.New("check type returned no checker")
	}
	return ch, err
}

// Close stops the runner and closes every check's clients; later calls do
// nothing.
func (r *Runner) Close() error {
	r.Stop()
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	for _, c := range r.checks {
		if cl, ok := c.checker.(io.Closer); ok {
			if err := cl.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close check %q: %w", c.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Checks returns the checks in config order.
func (r *Runner) Checks() []*Check { return r.checks }

// Lookup returns the check called name, or nil.
func (r *Runner) Lookup(name string) *Check { return r.byName[name] }

// AddObserver adds an observer; call it before Start.
func (r *Runner) AddObserver(o Observer) { r.opts.Observers = append(r.opts.Observers, o) }

// Start runs every check once now, so the first probe has results (or joins
// the run in flight) instead of reporting unknown, and starts the
// background loops of checks with an interval. The warm-up runs take their
// turns against each dependency like any run: a thousand checks of one
// database queue behind max_runs_per_target instead of connecting at once.
func (r *Runner) Start() {
	for _, c := range r.checks {
		c.mu.Lock()
		if c.flight == nil {
			r.startLocked(c)
		}
		c.mu.Unlock()
		if c.Interval > 0 {
			r.wg.Add(1)
			go r.loop(c)
		}
	}
}

// Stop ends the background loops and cancels runs in progress. It does not
// close the checks' clients: the config owns them.
func (r *Runner) Stop() {
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
	})
}

// loop refreshes c every Interval. As consul staggers its checks, the first
// refresh comes at a random point of the first interval, so checks started
// together (or reloaded together) are spread over it instead of all firing
// one interval after Start; the ±10% jitter of every later one keeps them
// from falling back into step.
func (r *Runner) loop(c *Check) {
	defer r.wg.Done()
	t := time.NewTimer(stagger(c.Interval))
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		f := c.flight
		if f == nil {
			f = r.startLocked(c)
		}
		c.mu.Unlock()
		select {
		case <-r.ctx.Done():
			return
		case <-f.done:
		}
		t.Reset(jitter(c.Interval))
	}
}

// stagger is a random offset in [0, d).
func stagger(d time.Duration) time.Duration {
	return time.Duration(rand.Int64N(int64(d)))
}

func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// Snapshot pairs a check with the result a request got for it.
type Snapshot struct {
	Check  *Check
	Result *Result
}

// Run returns a result for each check in sel, in order. Fresh results are
// reused; otherwise the request joins the run in flight or starts one. It
// returns when every result is known, at most the slowest timeout (plus
// Grace) later, or when ctx ends (then with the last known or a timeout
// result).
func (r *Runner) Run(ctx context.Context, sel []*Check) []Snapshot {
	return r.RunInto(ctx, sel, nil)
}

// RunInto is Run writing into buf's storage when it is large enough (a
// server answering thousands of probes a second reuses one per probe).
func (r *Runner) RunInto(ctx context.Context, sel []*Check, buf []Snapshot) []Snapshot {
	out := buf[:0]
	if cap(out) < len(sel) {
		out = make([]Snapshot, len(sel))
	}
	out = out[:len(sel)]
	now := time.Now()
	missing := false
	for i, c := range sel {
		out[i] = Snapshot{Check: c, Result: r.usable(c, now)}
		missing = missing || out[i].Result == nil
	}
	if missing { // kept out of the cached path, which then allocates only out
		r.awaitAll(ctx, out, now)
	}
	return out
}

// awaitAll fills in the results out lacks, waiting for them in parallel.
func (r *Runner) awaitAll(ctx context.Context, out []Snapshot, now time.Time) {
	var wg sync.WaitGroup
	for i := range out {
		if out[i].Result != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].Result = r.await(ctx, out[i].Check, now)
		}()
	}
	wg.Wait()
}

// usable returns c's last result if it is fresh, or stale within bounds
// (then a refresh is started so the next probe sees a fresh one).
func (r *Runner) usable(c *Check, now time.Time) *Result {
	last := c.last.Load()
	if last == nil || c.inherited.Load() {
		return nil
	}
	age := now.Sub(last.Finished())
	fresh := c.CacheTTL
	if c.Interval > 0 {
		fresh = c.Interval + c.Timeout // the loop keeps it younger than this
	}
	if age < fresh {
		return last
	}
	if age < fresh+c.MaxStale {
		c.mu.Lock()
		if c.flight == nil {
			r.startLocked(c)
		}
		c.mu.Unlock()
		return last
	}
	return nil
}

// await joins c's run in flight, or starts one, for a request that arrived
// at arrived and found no usable result. A run that ended after arrived (it
// was in flight when usable looked) answers the request as joining it would
// have: without it, 64 cold probes could cause two runs.
func (r *Runner) await(ctx context.Context, c *Check, arrived time.Time) *Result {
	c.mu.Lock()
	f := c.flight
	if f == nil {
		if last := c.last.Load(); last != nil && !c.inherited.Load() && !last.Finished().Before(arrived) {
			c.mu.Unlock()
			return last
		}
		f = r.startLocked(c)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		if last := c.last.Load(); last != nil {
			return last
		}
		return &Result{Status: Failing, Kind: checks.KindUnavailable, Started: time.Now(),
			Message: "unavailable: the request ended before the check finished"}
	}
}

// startLocked starts a run of c; c.mu must be held.
func (r *Runner) startLocked(c *Check) *flight {
	f := &flight{done: make(chan struct{})}
	c.flight = f
	go r.execute(c, f)
	return f
}

func (r *Runner) execute(c *Check, f *flight) {
	res := r.runOnce(c)
	c.mu.Lock()
	c.damp.apply(&c.Check, c.last.Load(), res)
	// The history holds res before res is published: whoever sees res as
	// the last result sees a history that includes it, so a body rendered
	// for res (bodycache.go) never shows the history one run behind.
	c.history.add(res)
	prev := c.last.Swap(res)
	c.inherited.Store(false)
	c.flight = nil
	ticket := c.published
	c.published++
	c.mu.Unlock()
	f.res = res
	close(f.done)

	c.tellMu.Lock()
	for c.told != ticket {
		c.tellTurn.Wait()
	}
	for _, o := range r.opts.Observers {
		o.Observe(c, prev, res)
	}
	c.told++
	c.tellTurn.Broadcast()
	c.tellMu.Unlock()
}

// runOnce runs the check under its deadline. The check runs in its own
// goroutine so that one ignoring its context still cannot hold the caller
// past Timeout+Grace; until that goroutine returns, c is "stuck" and later
// runs fail at once instead of stacking up. A check with a target first
// waits for one of its target's slots, within the same deadline, and
// holds it until its goroutine returns: a run abandoned at its deadline
// still loads the dependency.
func (r *Runner) runOnce(c *Check) *Result {
	start := time.Now()
	res := &Result{Started: start, Seq: r.seq.Add(1)}
	if c.stuck.Load() {
		res.Status, res.Raw, res.Kind = Failing, Failing, checks.KindUnavailable
		res.Message = fmt.Sprintf("unavailable: timed out: the previous run has not returned after %s (the check ignores its deadline)", c.Timeout)
		return res
	}
	ctx, cancel := context.WithTimeout(r.ctx, c.Timeout)
	defer cancel()
	details := &checks.Details{}
	ctx = checks.WithDetails(ctx, details)
	if err := r.acquire(ctx, c); err != nil {
		res.Duration = time.Since(start)
		res.Status, res.Raw, res.Kind = Failing, Failing, checks.KindUnavailable
		res.Message = checks.Redact(checks.Message(err), c.Secrets)
		return res
	}

	errc := make(chan error, 1)
	c.stuck.Store(true)
	go func() {
		var err error
		// stuck is cleared before the result is handed over: a run
		// started right after this one ends must not find it still set.
		defer func() { c.stuck.Store(false); errc <- err }()
		defer r.release(c)
		defer func() {
			if p := recover(); p != nil {
				r.opts.Logger.Error("check panicked", "check", c.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = &checks.Error{Kind: checks.KindUnknown, Msg: fmt.Sprintf("the check crashed: %v", p)}
			}
		}()
		err = c.checker.Check(ctx)
	}()
	timer := time.NewTimer(time.Until(start.Add(c.Timeout + r.opts.Grace)))
	var err error
	select {
	case err = <-errc:
		timer.Stop()
	case <-timer.C:
		err = checks.Unavailable("timed out after %s", c.Timeout)
	}
	res.Duration = time.Since(start)
	if err != nil && ctx.Err() != nil && !isCheckError(err) {
		switch {
		case r.ctx.Err() != nil:
			err = checks.Unavailable("cancelled: healthd is stopping")
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			err = checks.Unavailable("timed out after %s", c.Timeout)
		}
	}
	note, obs := details.Snapshot()
	res.Observations = obs
	switch {
	case err == nil:
		res.Status = Passing
		res.Message = checks.Redact(note, c.Secrets)
	default:
		res.Kind = checks.KindOf(err)
		res.Message = checks.Redact(checks.Message(err), c.Secrets)
		res.Status = Failing
		if res.Kind == checks.KindWarning {
			res.Status = Warning
		}
	}
	res.Raw = res.Status
	return res
}

// acquire takes one of c's target's slots, waiting while every one is
// taken until ctx, the run's, ends.
func (r *Runner) acquire(ctx context.Context, c *Check) error {
	if c.slots == nil {
		return nil
	}
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
	}
	if r.ctx.Err() != nil {
		return checks.Unavailable("cancelled: healthd is stopping")
	}
	runs := "runs"
	if cap(c.slots) == 1 {
		runs = "run"
	}
	return checks.Unavailable("timed out after %s waiting for a free slot: %d %s against %s in progress (defaults.max_runs_per_target)",
		c.Timeout, cap(c.slots), runs, c.target)
}

// release gives back the slot acquire took.
func (r *Runner) release(c *Check) {
	if c.slots != nil {
		<-c.slots
	}
}

func isCheckError(err error) bool {
	var e *checks.Error
	return errors.As(err, &e)
}

// Overall is the state of a set of results, as a response shows it: the
// HTTP status follows OK.
type Overall struct {
	// Status is the worst of all, as they weigh on the response: a
	// non-critical failure counts as a warning, a warning that fails the
	// response (WARNINGS_AS_ERRORS) as failing.
	Status Status
	OK     bool // no result fails the response (Check.FailsResponse)
	// Failing and Warnings count the checks' own statuses.
	Failing, Warnings int
}

// Summarize computes the overall state of snaps.
func Summarize(snaps []Snapshot) Overall {
	o := Overall{Status: Passing, OK: true}
	for _, s := range snaps {
		st := s.Result.Status
		switch st {
		case Failing:
			o.Failing++
		case Warning:
			o.Warnings++
		}
		switch {
		case s.Check.FailsResponse(s.Result):
			o.OK = false
			st = Failing
		case st == Failing:
			st = Warning
		}
		if st < o.Status {
			o.Status = st
		}
	}
	return o
}
