package checks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// mcShortTimeout is the timeout of a check a test expects to time out (the
// others have checkstest.Timeout); the test waits for it.
const mcShortTimeout = 300 * time.Millisecond

// newMemcachedCheck builds a memcached check of servers with
// checkstest.Timeout; it is closed when the test ends.
func newMemcachedCheck(t *testing.T, servers ...string) *checkstest.Check {
	t.Helper()
	list := make([]any, len(servers))
	for i, s := range servers {
		list[i] = s
	}
	return checkstest.New(t, "memcached", map[string]any{"servers": list}, checkstest.Options{})
}

func TestMemcached_ConfigErrors(t *testing.T) {
	checkstest.ConfigTable(t, "memcached", []checkstest.ConfigCase{
		{Name: "servers is required", Keys: map[string]any{}, Want: `key "servers": is required`, Contains: true},
		{Name: "empty list", Keys: map[string]any{"servers": []any{}}, Want: `key "servers": must list at least one host:port`, Contains: true},
		{Name: "no port", Keys: map[string]any{"servers": []any{"127.0.0.1"}}, Want: `key "servers[0]": must be host:port or a unix socket path, not "127.0.0.1"`, Contains: true},
		{Name: "bad port", Keys: map[string]any{"servers": []any{"127.0.0.1:11211", "cache:http"}}, Want: `key "servers[1]": must be host:port`, Contains: true},
		{Name: "not a string", Keys: map[string]any{"servers": []any{11211}}, Want: `key "servers[0]": must be a string`, Contains: true},
		{Name: "unknown key", Keys: map[string]any{"servers": "127.0.0.1:11211", "server": "x"}, Want: `key "server": unknown key (did you mean "servers"?)`, Contains: true},
	})
}

func TestMemcached_NamesAreResolvedWhenProbing(t *testing.T) {
	// The constructor does not resolve the name; the probe fails, at once
	// or when its (short) timeout ends.
	c := checkstest.New(t, "memcached", map[string]any{"servers": []any{"no-such-host.invalid:11211"}}, checkstest.Options{Timeout: mcShortTimeout})
	c.Fails(t, "unavailable: ")
}

func TestMemcached_SetGetDeleteAndPingPass(t *testing.T) {
	a, b := testsvc.StartMemcached(t), testsvc.StartMemcached(t)
	t.Logf("own memcached: start took %v", a.Startup)
	c := newMemcachedCheck(t, a.Addr(), b.Addr())
	for range 10 { // keys land on both servers
		c.Passes(t)
	}
}

func TestMemcached_EveryServerIsPinged(t *testing.T) {
	a, b := testsvc.StartMemcached(t), testsvc.StartMemcached(t)
	down := testsvc.RefusedAddr(t)
	c := newMemcachedCheck(t, a.Addr(), b.Addr(), down)
	// Whichever server the key lands on, the down one must be named.
	for range 5 {
		r := c.Fails(t, "unavailable: connection refused ("+down+")")
		if strings.Contains(r.Message, a.Addr()) || strings.Contains(r.Message, b.Addr()) {
			t.Errorf("message %q names a server that is up", r.Message)
		}
	}
}

func TestMemcached_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	checkstest.Unreachable(t, 3, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "memcached", map[string]any{"servers": []any{addr}}, checkstest.Options{Timeout: mcShortTimeout})
	})
}

func TestMemcached_RecoversAfterTheServerIsKilledAndRestarted(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	newMemcachedCheck(t, srv.Addr()).RecoversFromRestart(t, srv.Addr(), srv.Stop, srv.Start)
}

func TestMemcached_RecoversWhenTheConnectionComesBack(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	proxy := testsvc.NewProxy(t, srv.Addr())
	c := newMemcachedCheck(t, proxy.Addr())
	c.Passes(t)
	proxy.Hang()
	c.Fails(t, "unavailable: timed out after "+checkstest.Timeout.String()+" ("+proxy.Addr()+")")
	proxy.Restore()
	c.Eventually(t, 3*time.Second)
}

func TestMemcached_ManyProbesKeepConnectionsUnchanged(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	c := newMemcachedCheck(t, srv.Addr())
	for range 20 {
		c.Passes(t)
	}
	before := srv.CurrConnections()
	for range 200 {
		c.Passes(t)
	}
	if after := srv.CurrConnections(); after != before {
		t.Errorf("curr_connections: %d after 20 probes, %d after 220; want unchanged", before, after)
	}
	c.Close()
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
	newMemcachedCheck(t, srv.Addr()).RestartBetweenProbes(t, srv.Stop, srv.Start)
}
