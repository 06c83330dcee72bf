package checks_test

import (
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// redisShortTimeout is the timeout of a check a test expects to time out
// (the others have checkstest.Timeout); the test waits for it.
const redisShortTimeout = 300 * time.Millisecond

// newRedisCheck builds a redis check with checkstest.Timeout; it is closed
// when the test ends.
func newRedisCheck(t *testing.T, keys map[string]any) *checkstest.Check {
	t.Helper()
	return checkstest.New(t, "redis", keys, checkstest.Options{})
}

func TestRedis_ConfigErrors(t *testing.T) {
	checkstest.ConfigTable(t, "redis", []checkstest.ConfigCase{
		{Name: "url is required", Keys: map[string]any{}, Want: `key "url": is required`, Contains: true},
		{Name: "wrong scheme", Keys: map[string]any{"url": "http://:s3cr3t-pw-XYZ@127.0.0.1:6379"}, Want: `key "url": must start with redis://, rediss:// or unix://`, Contains: true},
		{Name: "malformed url", Keys: map[string]any{"url": "redis://:s3cr3t-pw-XYZ%zz@127.0.0.1:6379/0"}, Want: `key "url": is not a valid Redis URL`, Contains: true},
		{Name: "bad database", Keys: map[string]any{"url": "redis://:s3cr3t-pw-XYZ@127.0.0.1:6379/abc"}, Want: `key "url": is not a valid Redis URL`, Contains: true},
		{Name: "bad write_test", Keys: map[string]any{"url": "redis://127.0.0.1:6379", "write_test": "yes please"}, Want: `key "write_test": must be true or false`, Contains: true},
		{Name: "unknown key", Keys: map[string]any{"url": "redis://127.0.0.1:6379", "write_tset": true}, Want: `key "write_tset": unknown key (did you mean "write_test"?)`, Contains: true},
	})
}

func TestRedis_PingAndWriteTestPassOnRunningServer(t *testing.T) {
	addr := testsvc.MachineRedis(t)
	for _, keys := range []map[string]any{
		{"url": "redis://" + addr},
		{"url": "redis://" + addr + "/1", "write_test": true},
	} {
		c := newRedisCheck(t, keys)
		for range 3 {
			c.Passes(t)
		}
	}
}

func TestRedis_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	checkstest.Unreachable(t, 3, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "redis", map[string]any{"url": "redis://user:" + testsvc.PostgresPassword + "@" + addr, "write_test": true}, checkstest.Options{Timeout: redisShortTimeout})
	})
}

// TestRedis_RecoversWhenTheConnectionComesBack: the first probe after the
// connection comes back passes, however many failed while it was gone.
func TestRedis_RecoversWhenTheConnectionComesBack(t *testing.T) {
	proxy := testsvc.NewProxy(t, testsvc.MachineRedis(t))
	c := newRedisCheck(t, map[string]any{"url": "redis://" + proxy.Addr()})
	c.Passes(t)
	proxy.Hang()
	c.Fails(t, "unavailable: ")
	proxy.Restore()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("first Check after the hang: %s", r.Message)
	}
	proxy.Cut()
	for range checkstest.ProbesWhileDown {
		c.Fails(t, "unavailable: ")
	}
	proxy.Restore()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("first Check after the cut: %s", r.Message)
	}
}

// TestRedis_OwnServer shares one password-protected redis-server between the
// subtests that need one.
func TestRedis_OwnServer(t *testing.T) {
	srv := testsvc.StartRedis(t, testsvc.PostgresPassword)
	t.Logf("own redis-server: start took %v", srv.Startup)
	good := "redis://:" + testsvc.PostgresPassword + "@" + srv.Addr()

	t.Run("right password passes the write test", func(t *testing.T) {
		newRedisCheck(t, map[string]any{"url": good, "write_test": true}).Passes(t)
	})
	t.Run("wrong password is reported without the password", func(t *testing.T) {
		for _, url := range []string{
			"redis://:wrong-" + testsvc.PostgresPassword + "@" + srv.Addr(),
			"redis://default:wrong-" + testsvc.PostgresPassword + "@" + srv.Addr() + "/0",
		} {
			newRedisCheck(t, map[string]any{"url": url}).FailsWith(t, "unavailable: password authentication failed")
		}
	})
	t.Run("missing password is reported", func(t *testing.T) {
		newRedisCheck(t, map[string]any{"url": "redis://" + srv.Addr()}).FailsWith(t, "unavailable: authentication required: the URL has no password")
	})
	t.Run("many probes keep one connection", func(t *testing.T) {
		c := newRedisCheck(t, map[string]any{"url": good + "/0?client_name=healthd-leaktest", "write_test": true})
		for range 20 {
			c.Passes(t)
		}
		before := srv.ClientsNamed("healthd-leaktest")
		for range 200 {
			c.Passes(t)
		}
		after := srv.ClientsNamed("healthd-leaktest")
		if before < 1 || before > 2 || after != before {
			t.Errorf("connections named healthd-leaktest: %d after 20 probes, %d after 220; want 1 or 2, unchanged", before, after)
		}
		c.Close()
		if n := srv.ClientsNamed("healthd-leaktest"); n != 0 {
			t.Errorf("%d connections left after Close", n)
		}
	})
	t.Run("a restart between probes is not a failure", func(t *testing.T) {
		newRedisCheck(t, map[string]any{"url": good}).RestartBetweenProbes(t, srv.Stop, srv.Start)
	})
	t.Run("recovers after the server is killed and restarted", func(t *testing.T) {
		newRedisCheck(t, map[string]any{"url": good, "write_test": true}).RecoversFromRestart(t, srv.Addr(), srv.Stop, srv.Start)
	})
	t.Run("celery on this broker recovers on the first probe after a restart", func(t *testing.T) {
		for _, keys := range []map[string]any{
			{"broker": good + "/0", "min_workers": 0},                                                    // PING
			{"broker": good + "/0", "min_workers": 0, "queues": []any{map[string]any{"name": "celery"}}}, // LLEN
		} {
			checkstest.New(t, "celery", keys, checkstest.Options{}).RecoversFromRestart(t, srv.Addr(), srv.Stop, srv.Start)
		}
	})
}
