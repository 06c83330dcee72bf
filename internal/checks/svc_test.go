package checks_test

// Helpers shared by the tests of the checks that talk to a server
// (postgres, redis, memcached): build, probe, and the failures every one of
// them must report the same way.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/testsvc"
)

// svcNew builds a check of type typ through the builtin registry.
func svcNew(typ string, params map[string]any, timeout time.Duration) (checks.Checker, error) {
	ty, ok := checks.Builtin().Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("type %q is not registered", typ)
	}
	c, err := ty.Build(params, checks.Env{Name: typ + "-test", Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return deadlined{c, timeout}, nil
}

// deadlined gives every Check a context with the check's deadline, as the
// runner does: checks rely on it and set none of their own.
type deadlined struct {
	checks.Checker
	timeout time.Duration
}

func (d deadlined) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return d.Checker.Check(ctx)
}

func (d deadlined) Close() error {
	if cl, ok := d.Checker.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// svcConfigCase is a bad config and a part of the error it must give.
type svcConfigCase struct {
	name   string
	params map[string]any
	want   string
}

// svcConfigErrors builds each case's check of type typ and asserts the
// constructor refuses it with the expected error, which never contains the
// test password.
func svcConfigErrors(t *testing.T, typ string, tests []svcConfigCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := svcNew(typ, tt.params, time.Second)
			if err == nil {
				svcClose(t, c)
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// svcClose closes c, if it holds connections, when the test ends.
func svcClose(t *testing.T, c checks.Checker) {
	t.Cleanup(func() {
		if cl, ok := c.(io.Closer); ok {
			cl.Close()
		}
	})
}

// svcRun runs one probe and returns its message ("" when it passed) and how
// long it took.
func svcRun(c checks.Checker) (string, time.Duration) {
	start := time.Now()
	err := c.Check(context.Background())
	took := time.Since(start)
	if err == nil {
		return "", took
	}
	return checks.Message(err), took
}

// svcExpectFailure asserts a probe fails, without hanging past the deadline,
// with a message that starts with want and does not contain the test
// password.
func svcExpectFailure(t *testing.T, c checks.Checker, timeout time.Duration, want string) string {
	t.Helper()
	msg, took := svcRun(c)
	if msg == "" {
		t.Fatalf("Check passed, want failure %q", want)
	}
	if !strings.HasPrefix(msg, want) {
		t.Errorf("message = %q, want prefix %q", msg, want)
	}
	if strings.Contains(msg, testsvc.PostgresPassword) || strings.Contains(msg, "s3cr3t") {
		t.Errorf("message %q contains the password", msg)
	}
	testsvc.NotHung(t, "Check", took, timeout)
	return msg
}

// svcEventually probes c until it passes, for within plus the margin a
// busy machine is allowed (testsvc.HangSlack).
func svcEventually(t *testing.T, c checks.Checker, within time.Duration) {
	t.Helper()
	within += testsvc.HangSlack
	deadline := time.Now().Add(within)
	for {
		msg, _ := svcRun(c)
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("check did not recover within %v: %s", within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// svcCheck builds a check of type typ, failing the test on a config error,
// and closes it when the test ends.
func svcCheck(t *testing.T, typ string, params map[string]any, timeout time.Duration) checks.Checker {
	t.Helper()
	c, err := svcNew(typ, params, timeout)
	if err != nil {
		t.Fatalf("new %s(%v): %v", typ, params, err)
	}
	svcClose(t, c)
	return c
}

// svcUnreachable asserts that a check whose server refuses connections,
// accepts them and never answers, or is black-holed fails each of probes
// probes within its timeout, with exactly "connection refused (addr)" or
// "timed out after <timeout> (addr)". Later probes must not wait on the
// first's connection attempt. mk builds the check for addr.
func svcUnreachable(t *testing.T, timeout time.Duration, probes int, mk func(t *testing.T, addr string) checks.Checker) {
	t.Helper()
	for _, tc := range []struct {
		name string
		addr func(testing.TB) string
		want string
	}{
		{"refused", testsvc.RefusedAddr, "unavailable: connection refused (%s)"},
		{"accepts and never answers", testsvc.HangingAddr, "unavailable: timed out after " + timeout.String() + " (%s)"},
		{"black-holed", testsvc.BlackholeAddr, "unavailable: timed out after " + timeout.String() + " (%s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			c := mk(t, addr)
			want := fmt.Sprintf(tc.want, addr)
			for i := range probes {
				if msg := svcExpectFailure(t, c, timeout, want); msg != want {
					t.Errorf("probe %d: message = %q, want %q", i, msg, want)
				}
			}
		})
	}
}

// svcRecoversFromRestart asserts that c passes, fails once the server at addr
// is stopped and then, on each of svcProbesWhileDown probes, with exactly
// "connection refused (addr)", and passes on the very first probe after the
// server is started again (start returns once it answers). No retry: a client
// that remembers its failed dials and waits before dialling again (as
// go-redis's pool does after as many failed dials as it has connections)
// fails here.
func svcRecoversFromRestart(t *testing.T, c checks.Checker, timeout time.Duration, addr string, stop, start func()) {
	t.Helper()
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("Check: %s", msg)
	}
	stop()
	svcExpectFailure(t, c, timeout, "unavailable: ")
	want := "unavailable: connection refused (" + addr + ")"
	for i := range svcProbesWhileDown {
		if msg := svcExpectFailure(t, c, timeout, want); msg != want {
			t.Errorf("probe %d while stopped: message = %q, want %q", i+1, msg, want)
		}
	}
	start()
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("first Check after the server is back: %s", msg)
	}
}

// svcProbesWhileDown is how many probes svcRecoversFromRestart makes while the
// server refuses connections: more failed dials than a probe client has
// connections (two).
const svcProbesWhileDown = 3

// svcRestartBetweenProbes asserts that a server restarted between two
// probes fails neither: the check drops the dead connection and dials anew.
func svcRestartBetweenProbes(t *testing.T, c checks.Checker, stop, start func()) {
	t.Helper()
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("Check: %s", msg)
	}
	stop()
	start()
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("first Check after the restart: %s", msg)
	}
}
