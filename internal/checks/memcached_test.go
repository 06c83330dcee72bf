package checks_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/testsvc"
)

// mcTestTimeout is the timeout of the checks the tests build: a
// deadline that must not fire however busy the machine is. A test that
// expects a check to time out gives it mcShortTimeout, and waits for it.
const (
	mcTestTimeout  = testsvc.AnswerTimeout
	mcShortTimeout = 300 * time.Millisecond
)

func newMemcachedCheck(t *testing.T, servers ...string) checks.Checker {
	t.Helper()
	list := make([]any, len(servers))
	for i, s := range servers {
		list[i] = s
	}
	return svcCheck(t, "memcached", map[string]any{"servers": list}, mcTestTimeout)
}

func TestMemcached_ConfigErrors(t *testing.T) {
	tests := []svcConfigCase{
		{"servers is required", map[string]any{}, `key "servers": is required`},
		{"empty list", map[string]any{"servers": []any{}}, `key "servers": must list at least one host:port`},
		{"no port", map[string]any{"servers": []any{"127.0.0.1"}}, `key "servers[0]": must be host:port or a unix socket path, not "127.0.0.1"`},
		{"bad port", map[string]any{"servers": []any{"127.0.0.1:11211", "cache:http"}}, `key "servers[1]": must be host:port`},
		{"not a string", map[string]any{"servers": []any{11211}}, `key "servers[0]": must be a string`},
		{"unknown key", map[string]any{"servers": "127.0.0.1:11211", "server": "x"}, `key "server": unknown key (did you mean "servers"?)`},
	}
	svcConfigErrors(t, "memcached", tests)
}

func TestMemcached_NamesAreResolvedWhenProbing(t *testing.T) {
	// The constructor does not resolve the name; the probe fails, at once
	// or when its (short) timeout ends.
	c := svcCheck(t, "memcached", map[string]any{"servers": []any{"no-such-host.invalid:11211"}}, mcShortTimeout)
	svcExpectFailure(t, c, mcShortTimeout, "unavailable: ")
}

func TestMemcached_SetGetDeleteAndPingPass(t *testing.T) {
	a, b := testsvc.StartMemcached(t), testsvc.StartMemcached(t)
	t.Logf("own memcached: start took %v", a.Startup)
	c := newMemcachedCheck(t, a.Addr(), b.Addr())
	for i := 0; i < 10; i++ { // keys land on both servers
		if msg, _ := svcRun(c); msg != "" {
			t.Fatalf("Check %d: %s", i, msg)
		}
	}
}

func TestMemcached_EveryServerIsPinged(t *testing.T) {
	a, b := testsvc.StartMemcached(t), testsvc.StartMemcached(t)
	down := testsvc.RefusedAddr(t)
	c := newMemcachedCheck(t, a.Addr(), b.Addr(), down)
	// Whichever server the key lands on, the down one must be named.
	for i := 0; i < 5; i++ {
		msg := svcExpectFailure(t, c, mcTestTimeout, "unavailable: connection refused ("+down+")")
		if strings.Contains(msg, a.Addr()) || strings.Contains(msg, b.Addr()) {
			t.Errorf("message %q names a server that is up", msg)
		}
	}
}

func TestMemcached_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	svcUnreachable(t, mcShortTimeout, 3, func(t *testing.T, addr string) checks.Checker {
		return svcCheck(t, "memcached", map[string]any{"servers": []any{addr}}, mcShortTimeout)
	})
}

func TestMemcached_RecoversAfterTheServerIsKilledAndRestarted(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	c := newMemcachedCheck(t, srv.Addr())
	svcRecoversFromRestart(t, c, mcTestTimeout, srv.Addr(), srv.Stop, srv.Start)
}

func TestMemcached_RecoversWhenTheConnectionComesBack(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	proxy := testsvc.NewProxy(t, srv.Addr())
	c := newMemcachedCheck(t, proxy.Addr())
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("Check: %s", msg)
	}
	proxy.Hang()
	svcExpectFailure(t, c, mcTestTimeout, "unavailable: timed out after "+mcTestTimeout.String()+" ("+proxy.Addr()+")")
	proxy.Restore()
	svcEventually(t, c, 3*time.Second)
}

func TestMemcached_ManyProbesKeepConnectionsUnchanged(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	c := newMemcachedCheck(t, srv.Addr())
	for i := 0; i < 20; i++ {
		if msg, _ := svcRun(c); msg != "" {
			t.Fatalf("Check %d: %s", i, msg)
		}
	}
	before := srv.CurrConnections()
	for i := 0; i < 200; i++ {
		if msg, _ := svcRun(c); msg != "" {
			t.Fatalf("Check %d: %s", i, msg)
		}
	}
	if after := srv.CurrConnections(); after != before {
		t.Errorf("curr_connections: %d after 20 probes, %d after 220; want unchanged", before, after)
	}
	c.(io.Closer).Close()
	deadline := time.Now().Add(testsvc.HangSlack)
	for srv.CurrConnections() != before-1 {
		if time.Now().After(deadline) {
			t.Fatalf("curr_connections %d %v after Close, want %d", srv.CurrConnections(), testsvc.HangSlack, before-1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemcached_RestartBetweenProbesIsNotAFailure(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	svcRestartBetweenProbes(t, newMemcachedCheck(t, srv.Addr()), srv.Stop, srv.Start)
}
