// Package checkstest provides a configurable check type for tests of the
// config loader, runner and server: it passes, fails, warns, sleeps (with or
// without honouring its context) or panics, as its keys say, and counts its
// runs. It is registered only by tests.
package checkstest

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
)

// Fake is the checker built for type "fake".
type Fake struct {
	Fail          string
	Warn          string
	Note          string
	Sleep         time.Duration
	IgnoreContext bool
	Panic         string
	Observe       float64
	Measurement   string // of Observe; "value" unless set
	Unit          string // of Observe; "units" unless set
	// Hold makes every run wait until Release is called (or its context
	// ends): tests decide exactly when a run finishes.
	Hold bool

	release     chan struct{}
	releaseOnce sync.Once
	// ResultFile, when set, is read on every run and decides the result:
	// "fail MESSAGE" fails, "warn MESSAGE" warns, anything else passes (so a
	// test can flip a running check by rewriting the file).
	ResultFile string

	runs    atomic.Int64
	running atomic.Int64
	maxPar  atomic.Int64
	closed  atomic.Bool
	// override, when set by SetFail, replaces Fail: tests flip a check
	// between passing and failing while it runs.
	override atomic.Pointer[string]
}

// SetFail makes later runs fail with msg, or pass when msg is empty,
// whatever the config said.
func (f *Fake) SetFail(msg string) { f.override.Store(&msg) }

// Release lets every held run, and every later one, finish.
func (f *Fake) Release() { f.releaseOnce.Do(func() { close(f.release) }) }

// Runs is how many times Check started.
func (f *Fake) Runs() int64 { return f.runs.Load() }

// MaxConcurrent is the most runs of this check that were ever in progress at once.
func (f *Fake) MaxConcurrent() int64 { return f.maxPar.Load() }

// Closed reports whether Close was called.
func (f *Fake) Closed() bool { return f.closed.Load() }

// Close marks the fake closed, like a check that holds a client.
func (f *Fake) Close() error { f.closed.Store(true); return nil }

// Check behaves as configured.
func (f *Fake) Check(ctx context.Context) error {
	f.runs.Add(1)
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.maxPar.Load()
		if n <= m || f.maxPar.CompareAndSwap(m, n) {
			break
		}
	}
	if f.Hold {
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.Sleep > 0 {
		if f.IgnoreContext {
			time.Sleep(f.Sleep)
		} else {
			select {
			case <-time.After(f.Sleep):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if f.Panic != "" {
		panic(f.Panic)
	}
	if f.Observe != 0 {
		checks.Observe(ctx, f.Measurement, f.Observe, f.Unit)
	}
	fail, warn := f.Fail, f.Warn
	if o := f.override.Load(); o != nil {
		fail = *o
	}
	if f.ResultFile != "" {
		b, err := os.ReadFile(f.ResultFile)
		if err != nil {
			return checks.Unexpected("fake: read result_file: %v", err)
		}
		verb, msg, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		if msg == "" {
			msg = verb
		}
		switch verb {
		case "fail":
			fail = msg
		case "warn":
			warn = msg
		}
	}
	switch {
	case fail != "":
		return checks.Unavailable("%s", fail)
	case warn != "":
		return checks.Warn("%s", warn)
	}
	if f.Note != "" {
		checks.Note(ctx, "%s", f.Note)
	}
	return nil
}

// Type is the "fake" check type.
var Type = checks.Type{Name: "fake", ComponentType: "component", NewConfig: func(checks.Settings) checks.Config {
	return &fakeConfig{Measurement: "value", Unit: "units"}
}}

type fakeConfig struct {
	Fail          string        `key:"fail" doc:"fail (unavailable) with this message"`
	Warn          string        `key:"warn" doc:"warn with this message"`
	Note          string        `key:"note" doc:"the note of a passing run"`
	Sleep         time.Duration `key:"sleep" doc:"sleep this long in every run"`
	IgnoreContext bool          `key:"ignore_context" doc:"sleep through the run's deadline"`
	Panic         string        `key:"panic" doc:"panic with this value"`
	Observe       *float64      `key:"observe" doc:"record this observation (0 or null: none)"`
	Measurement   string        `key:"measurement" doc:"the observation's measurement"`
	Unit          string        `key:"unit" doc:"the observation's unit"`
	Hold          bool          `key:"hold" doc:"wait in every run until Release is called"`
	ResultFile    string        `key:"result_file" doc:"a file read on every run: \"fail MESSAGE\", \"warn MESSAGE\", or anything else to pass"`
	// Keys that let secret-redaction tests carry a credential.
	Password string `key:"password" secret:"true" doc:"a credential, for redaction tests"`
	DSN      string `key:"dsn" doc:"a connection string, for redaction tests"`
}

func (c *fakeConfig) Validate() error { return nil }

func (c *fakeConfig) Build(checks.Env) (checks.Checker, error) {
	f := &Fake{
		Fail:          c.Fail,
		Warn:          c.Warn,
		Note:          c.Note,
		Sleep:         c.Sleep,
		IgnoreContext: c.IgnoreContext,
		Panic:         c.Panic,
		Measurement:   c.Measurement,
		Unit:          c.Unit,
		Hold:          c.Hold,
		release:       make(chan struct{}),
		ResultFile:    c.ResultFile,
	}
	if c.Observe != nil {
		f.Observe = *c.Observe
	}
	return f, nil
}

// Registry returns the built-in types plus "fake".
func Registry() *checks.Registry {
	return checks.Builtin().MustRegister(Type)
}

// Load parses a config from yaml with the built-in types and "fake"; a
// config error fails the test.
func Load(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: Registry()})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// NewRunner builds cfg's checks into a runner that the test closes at its
// end; a build error fails the test.
func NewRunner(t testing.TB, cfg *config.Config, o runner.Options) *runner.Runner {
	t.Helper()
	r, err := runner.New(cfg, o)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// FakeOf returns the fake checker of r's check called name.
func FakeOf(r *runner.Runner, name string) *Fake {
	c := r.Lookup(name)
	if c == nil {
		panic("checkstest: no check " + name)
	}
	return c.Checker().(*Fake)
}
