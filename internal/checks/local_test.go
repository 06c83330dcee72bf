package checks

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Helpers shared by the tests of the local check types (disk, memory,
// storage, tcp, http). Named local* to stay clear of other types' helpers.

const localTimeout = 300 * time.Millisecond

// localNew builds a check of type typ through the built-in registry, as the
// config loader would, and fails the test on a config error.
func localNew(t *testing.T, typ string, params map[string]any, settings Settings) Checker {
	t.Helper()
	c, err := localBuild(typ, params, settings)
	if err != nil {
		t.Fatalf("%s: unexpected config error: %v", typ, err)
	}
	if cl, ok := c.(interface{ Close() error }); ok {
		t.Cleanup(func() { cl.Close() })
	}
	return c
}

func localBuild(typ string, params map[string]any, settings Settings) (Checker, error) {
	ty, ok := Builtin().Lookup(typ)
	if !ok {
		panic("type " + typ + " is not registered")
	}
	return ty.Build(params, Env{
		Name:     "test-" + typ,
		Timeout:  localTimeout,
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
}

// localRun runs c once under the test timeout, the way the runner does.
func localRun(c Checker) localResult {
	var d Details
	ctx, cancel := context.WithTimeout(WithDetails(context.Background(), &d), localTimeout)
	defer cancel()
	start := time.Now()
	err := c.Check(ctx)
	r := localResult{err: err, elapsed: time.Since(start)}
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

// localWithinDeadline fails the test when a run took longer than the
// timeout plus 100 ms.
func localWithinDeadline(t *testing.T, r localResult) {
	t.Helper()
	if r.elapsed > localTimeout+100*time.Millisecond {
		t.Errorf("check returned after %v; the deadline was %v", r.elapsed, localTimeout)
	}
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
