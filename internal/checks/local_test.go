package checks

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

// Helpers shared by the tests of the local check types (disk, memory,
// storage, tcp, http). Named local* to stay clear of other types' helpers.

// localTimeout is the timeout of the checks the tests build and run: a
// deadline that must not fire however busy the machine is (see
// testsvc.AnswerTimeout). A test that expects a check to time out builds
// and runs it with localShortTimeout instead, and waits for that.
const (
	localTimeout      = testsvc.AnswerTimeout
	localShortTimeout = 300 * time.Millisecond
)

// localNew builds a check of type typ through the built-in registry, as the
// config loader would, and fails the test on a config error.
func localNew(t *testing.T, typ string, params map[string]any, settings Settings) Checker {
	t.Helper()
	return localNewWithin(t, typ, params, settings, localTimeout)
}

// localNewWithin is localNew with the check's timeout.
func localNewWithin(t *testing.T, typ string, params map[string]any, settings Settings, timeout time.Duration) Checker {
	t.Helper()
	c, err := localBuildWithin(typ, params, settings, timeout)
	if err != nil {
		t.Fatalf("%s: unexpected config error: %v", typ, err)
	}
	if cl, ok := c.(interface{ Close() error }); ok {
		t.Cleanup(func() { cl.Close() })
	}
	return c
}

func localBuild(typ string, params map[string]any, settings Settings) (Checker, error) {
	return localBuildWithin(typ, params, settings, localTimeout)
}

func localBuildWithin(typ string, params map[string]any, settings Settings, timeout time.Duration) (Checker, error) {
	ty, ok := Builtin().Lookup(typ)
	if !ok {
		panic("type " + typ + " is not registered")
	}
	return ty.Build(params, Env{
		Name:     "test-" + typ,
		Timeout:  timeout,
		Settings: settings,
		Logger:   slog.New(slog.DiscardHandler),
	})
}

// localResult is one run of a check, as the runner would record it.
type localResult struct {
	err     error
	msg     string // checks.Message(err), "" when it passed
	note    string
	obs     []Observation
	elapsed time.Duration
	timeout time.Duration // the run's deadline
}

// localRun runs c once under the test timeout, the way the runner does.
func localRun(c Checker) localResult { return localRunWithin(c, localTimeout) }

// localRunWithin runs c once under timeout, which must be the one c was
// built with, as the runner would.
func localRunWithin(c Checker, timeout time.Duration) localResult {
	var d Details
	ctx, cancel := context.WithTimeout(WithDetails(context.Background(), &d), timeout)
	defer cancel()
	start := time.Now()
	err := c.Check(ctx)
	r := localResult{err: err, elapsed: time.Since(start), timeout: timeout}
	if err != nil {
		r.msg = Message(err)
	}
	r.note, r.obs = d.Snapshot()
	return r
}

// localPasses runs c and fails the test unless it passed.
func localPasses(t *testing.T, c Checker) localResult {
	t.Helper()
	r := localRun(c)
	if r.err != nil {
		t.Fatalf("check failed: %s", r.msg)
	}
	return r
}

// localWithinDeadline fails the test when a run did not return at its
// deadline: it hung (see testsvc.HangSlack for the margin).
func localWithinDeadline(t *testing.T, r localResult) {
	t.Helper()
	testsvc.NotHung(t, "the check", r.elapsed, r.timeout)
}

func localObservation(t *testing.T, r localResult, measurement, unit string) float64 {
	t.Helper()
	for _, o := range r.obs {
		if o.Measurement == measurement {
			if o.Unit != unit {
				t.Errorf("observation %s has unit %q, want %q", measurement, o.Unit, unit)
			}
			return o.Value
		}
	}
	t.Fatalf("no observation %q in %+v", measurement, r.obs)
	return 0
}

// localConfigCase is one row of a config validation table: the keys, and
// the exact error Params.Err() gives ("" when valid).
type localConfigCase struct {
	name   string
	params map[string]any
	want   string
}

func localConfigTable(t *testing.T, typ string, cases []localConfigCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := localBuild(typ, tc.params, Settings{})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tc.want)
			}
			if (err == nil) != (c != nil) {
				t.Errorf("constructor returned checker %v with error %v", c, err)
			}
			if cl, ok := c.(interface{ Close() error }); ok {
				cl.Close()
			}
		})
	}
}

func localPtr(f float64) *float64 { return &f }

func localWantPrefix(t *testing.T, r localResult, prefix string) {
	t.Helper()
	if !strings.HasPrefix(r.msg, prefix) {
		t.Fatalf("message = %q, want it to start with %q", r.msg, prefix)
	}
}
