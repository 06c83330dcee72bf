package checkstest

// The harness the tests of every check type share: build a check from its
// keys the way the daemon does (Type.Parse, then Config.Build), run it the
// way the runner does (the check's deadline on the context, details
// collected), and read what a run left: message, note, observations and
// how long it took. Tests of a new type need nothing else.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/testsvc"
)

// Timeout is the timeout of a check a test expects an answer from (a pass,
// or a failure that is not a timeout): a deadline that must not fire however
// busy the machine is. A test that expects a timeout builds its check with a
// short timeout of its own and waits for that.
const Timeout = testsvc.AnswerTimeout

// Secret is in every credential the tests put in configs (testsvc's
// PostgresPassword too); no message, note or error may contain it.
const Secret = "s3cr3t"

// Check is a built check and the timeout it was built with, which every run
// uses as its deadline.
type Check struct {
	checks.Checker
	Type    string
	Timeout time.Duration
}

// Options change how a check is built; the zero value builds with Timeout
// and no settings.
type Options struct {
	Timeout  time.Duration
	Settings checks.Settings
	Logger   *slog.Logger
	// Name is the check's name (typ + "-test" unless set): a test that
	// finds its check's connections on the server by name gives it one of
	// its own.
	Name string
	// Clients shares clients between the checks built with it, as the
	// runner's does; nil gives the check clients of its own.
	Clients *checks.Clients
}

// Build parses keys as a check of type typ and builds it, as the config
// loader and the daemon do; the error is the one a config file would get.
func Build(typ string, keys map[string]any, o Options) (*Check, error) {
	ty, ok := Registry().Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("type %q is not registered", typ)
	}
	if o.Timeout == 0 {
		o.Timeout = Timeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = typ + "-test"
	}
	c, err := ty.Build(keys, checks.Env{Name: o.Name, Timeout: o.Timeout, Settings: o.Settings, Logger: o.Logger, Clients: o.Clients})
	if err != nil {
		return nil, err
	}
	return &Check{Checker: c, Type: typ, Timeout: o.Timeout}, nil
}

// New is Build for a config the test expects to be valid: an error fails
// the test, and the check is closed when the test ends.
func New(t testing.TB, typ string, keys map[string]any, o Options) *Check {
	t.Helper()
	c, err := Build(typ, keys, o)
	if err != nil {
		t.Fatalf("%s: config error: %v", typ, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Close closes the check's clients, if it holds any.
func (c *Check) Close() error {
	if cl, ok := c.Checker.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Result is one run of a check, as the runner records it.
type Result struct {
	Err          error
	Message      string // checks.Message(Err); "" when the run passed
	Note         string
	Observations []checks.Observation
	Took         time.Duration
	Timeout      time.Duration // the run's deadline
}

// Run runs the check once under its timeout, as the runner does.
func (c *Check) Run() Result { return c.RunContext(context.Background()) }

// RunContext is Run under a parent context.
func (c *Check) RunContext(parent context.Context) Result {
	var d checks.Details
	ctx, cancel := context.WithTimeout(checks.WithDetails(parent, &d), c.Timeout)
	defer cancel()
	start := time.Now()
	err := c.Checker.Check(ctx)
	r := Result{Err: err, Took: time.Since(start), Timeout: c.Timeout}
	if err != nil {
		r.Message = checks.Message(err)
	}
	r.Note, r.Observations = d.Snapshot()
	return r
}

// Passes runs the check and fails the test unless the run passed.
func (c *Check) Passes(t testing.TB) Result {
	t.Helper()
	r := c.Run()
	if r.Err != nil {
		t.Fatalf("%s: check failed: %s", c.Type, r.Message)
	}
	return r
}

// Fails runs the check and fails the test unless the run failed, within its
// deadline (testsvc.NotHung), with a message that starts with prefix and
// holds no Secret.
func (c *Check) Fails(t testing.TB, prefix string) Result {
	t.Helper()
	r := c.Run()
	if r.Err == nil {
		t.Fatalf("%s: check passed, want a failure %q", c.Type, prefix)
	}
	if !strings.HasPrefix(r.Message, prefix) {
		t.Errorf("%s: message = %q, want prefix %q", c.Type, r.Message, prefix)
	}
	NoSecret(t, "message", r.Message)
	NoSecret(t, "note", r.Note)
	r.NotHung(t)
	return r
}

// FailsWith is Fails for a message that must be exactly want.
func (c *Check) FailsWith(t testing.TB, want string) Result {
	t.Helper()
	r := c.Fails(t, want)
	if strings.HasPrefix(r.Message, want) && r.Message != want { // else Fails said so
		t.Errorf("%s: message = %q, want %q", c.Type, r.Message, want)
	}
	return r
}

// Eventually runs the check until it passes, for within plus the margin a
// busy machine is allowed (testsvc.HangSlack).
func (c *Check) Eventually(t testing.TB, within time.Duration) Result {
	t.Helper()
	within += testsvc.HangSlack
	deadline := time.Now().Add(within)
	for {
		r := c.Run()
		if r.Err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: check did not pass within %v: %s", c.Type, within, r.Message)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NotHung fails the test when the run did not return at its deadline.
func (r Result) NotHung(t testing.TB) {
	t.Helper()
	testsvc.NotHung(t, "the check", r.Took, r.Timeout)
}

// Observation returns the value of the run's observation called
// measurement, failing the test when there is none or its unit is not unit.
func (r Result) Observation(t testing.TB, measurement, unit string) float64 {
	t.Helper()
	for _, o := range r.Observations {
		if o.Measurement == measurement {
			if o.Unit != unit {
				t.Errorf("observation %s has unit %q, want %q", measurement, o.Unit, unit)
			}
			return o.Value
		}
	}
	t.Fatalf("no observation %q in %+v", measurement, r.Observations)
	return 0
}

// NoSecret fails the test when s holds Secret.
func NoSecret(t testing.TB, what, s string) {
	t.Helper()
	if strings.Contains(s, Secret) {
		t.Errorf("%s %q contains a secret", what, s)
	}
}

// ConfigCase is one row of a config table: the keys, and the error they
// must give ("" when they are valid).
type ConfigCase struct {
	Name string
	Keys map[string]any
	Want string
	// Contains makes Want a part of the error rather than all of it.
	Contains bool
}

// ConfigTable parses every case as a check of type typ (no client is
// built: Parse only validates) and compares the error.
func ConfigTable(t *testing.T, typ string, cases []ConfigCase) {
	t.Helper()
	ty, ok := Registry().Lookup(typ)
	if !ok {
		t.Fatalf("type %q is not registered", typ)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := ty.Parse(tc.Keys, checks.Settings{})
			got := ""
			if err != nil {
				got = err.Error()
			}
			switch {
			case tc.Contains && tc.Want == "" && err == nil:
			case tc.Contains && (err == nil || !strings.Contains(got, tc.Want)):
				t.Errorf("error:\n got: %s\nwant it to contain: %s", got, tc.Want)
			case !tc.Contains && got != tc.Want:
				t.Errorf("error:\n got: %s\nwant: %s", got, tc.Want)
			}
			NoSecret(t, "error", got)
		})
	}
}

// Unreachable asserts that a check whose server refuses connections,
// accepts them and never answers, or is black-holed fails each of probes
// runs within its timeout with exactly "unavailable: connection refused
// (addr)" or "unavailable: timed out after <timeout> (addr)": the one
// failure vocabulary every network type shares. Later runs must not wait
// on the first's connection attempt. mk builds the check for addr with a
// short timeout of its choosing.
func Unreachable(t *testing.T, probes int, mk func(t *testing.T, addr string) *Check) {
	t.Helper()
	for _, tc := range []struct {
		name string
		addr func(testing.TB) string
		want string // %[1]s: the address, %[2]s: the timeout
	}{
		{"refused", testsvc.RefusedAddr, "unavailable: connection refused (%[1]s)"},
		{"accepts and never answers", testsvc.HangingAddr, "unavailable: timed out after %[2]s (%[1]s)"},
		{"black-holed", testsvc.BlackholeAddr, "unavailable: timed out after %[2]s (%[1]s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each fault waits for its own deadline
			addr := tc.addr(t)
			c := mk(t, addr)
			want := fmt.Sprintf(tc.want, addr, c.Timeout)
			for i := range probes {
				if r := c.Fails(t, want); r.Message != want {
					t.Errorf("probe %d: message = %q, want %q", i, r.Message, want)
				}
			}
		})
	}
}

// ProbesWhileDown is how many runs RecoversFromRestart makes while the
// server refuses connections: more failed dials than a check's pool has
// connections (two).
const ProbesWhileDown = 3

// RecoversFromRestart asserts that c passes, fails once the server at addr
// is stopped and then, on each of ProbesWhileDown runs, with exactly
// "unavailable: connection refused (addr)", and passes on the very first run
// after the server is started again (start returns once it answers). No
// retry: a client that remembers its failed dials and waits before dialling
// again (as go-redis's pool does after as many failed dials as it has
// connections) fails here.
func (c *Check) RecoversFromRestart(t *testing.T, addr string, stop, start func()) {
	t.Helper()
	c.Passes(t)
	stop()
	c.Fails(t, "unavailable: ")
	want := "unavailable: connection refused (" + addr + ")"
	for i := range ProbesWhileDown {
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("probe %d while stopped: message = %q, want %q", i+1, r.Message, want)
		}
	}
	start()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("first run after the server is back: %s", r.Message)
	}
}

// RestartBetweenProbes asserts that a server restarted between two runs
// fails neither: the check drops the dead connection and dials anew.
func (c *Check) RestartBetweenProbes(t *testing.T, stop, start func()) {
	t.Helper()
	c.Passes(t)
	stop()
	start()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("first run after the restart: %s", r.Message)
	}
}
