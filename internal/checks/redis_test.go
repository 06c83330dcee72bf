package checks_test

import (
	"io"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/testsvc"
)

// redisTestTimeout is the timeout of the checks the tests build: a
// deadline that must not fire however busy the machine is. A test that
// expects a check to time out gives it redisShortTimeout, and waits for it.
const (
	redisTestTimeout  = testsvc.AnswerTimeout
	redisShortTimeout = 300 * time.Millisecond
)

func newRedisCheck(t *testing.T, params map[string]any) checks.Checker {
	t.Helper()
	return svcCheck(t, "redis", params, redisTestTimeout)
}

func TestRedis_ConfigErrors(t *testing.T) {
	tests := []svcConfigCase{
		{"url is required", map[string]any{}, `key "url": is required`},
		{"wrong scheme", map[string]any{"url": "http://:s3cr3t-pw-XYZ@127.0.0.1:6379"}, `key "url": must start with redis://, rediss:// or unix://`},
		{"malformed url", map[string]any{"url": "redis://:s3cr3t-pw-XYZ%zz@127.0.0.1:6379/0"}, `key "url": is not a valid Redis URL`},
		{"bad database", map[string]any{"url": "redis://:s3cr3t-pw-XYZ@127.0.0.1:6379/abc"}, `key "url": is not a valid Redis URL`},
		{"bad write_test", map[string]any{"url": "redis://127.0.0.1:6379", "write_test": "yes please"}, `key "write_test": must be true or false`},
		{"unknown key", map[string]any{"url": "redis://127.0.0.1:6379", "write_tset": true}, `key "write_tset": unknown key (did you mean "write_test"?)`},
	}
	svcConfigErrors(t, "redis", tests)
}

func TestRedis_PingAndWriteTestPassOnRunningServer(t *testing.T) {
	addr := testsvc.MachineRedis(t)
	for _, params := range []map[string]any{
		{"url": "redis://" + addr},
		{"url": "redis://" + addr + "/1", "write_test": true},
	} {
		c := newRedisCheck(t, params)
		for i := 0; i < 3; i++ {
			if msg, _ := svcRun(c); msg != "" {
				t.Fatalf("Check(%v): %s", params, msg)
			}
		}
	}
}

func TestRedis_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	svcUnreachable(t, redisShortTimeout, 3, func(t *testing.T, addr string) checks.Checker {
		return svcCheck(t, "redis", map[string]any{"url": "redis://user:" + testsvc.PostgresPassword + "@" + addr, "write_test": true}, redisShortTimeout)
	})
}

// TestRedis_RecoversWhenTheConnectionComesBack: the first probe after the
// connection comes back passes, however many failed while it was gone.
func TestRedis_RecoversWhenTheConnectionComesBack(t *testing.T) {
	proxy := testsvc.NewProxy(t, testsvc.MachineRedis(t))
	c := newRedisCheck(t, map[string]any{"url": "redis://" + proxy.Addr()})
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("first Check: %s", msg)
	}
	proxy.Hang()
	svcExpectFailure(t, c, redisTestTimeout, "unavailable: ")
	proxy.Restore()
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("first Check after the hang: %s", msg)
	}
	proxy.Cut()
	for range svcProbesWhileDown {
		svcExpectFailure(t, c, redisTestTimeout, "unavailable: ")
	}
	proxy.Restore()
	if msg, _ := svcRun(c); msg != "" {
		t.Fatalf("first Check after the cut: %s", msg)
	}
}

// TestRedis_OwnServer shares one password-protected redis-server between the
// subtests that need one.
func TestRedis_OwnServer(t *testing.T) {
	srv := testsvc.StartRedis(t, testsvc.PostgresPassword)
	t.Logf("own redis-server: start took %v", srv.Startup)
	good := "redis://:" + testsvc.PostgresPassword + "@" + srv.Addr()

	t.Run("right password passes the write test", func(t *testing.T) {
		c := newRedisCheck(t, map[string]any{"url": good, "write_test": true})
		if msg, _ := svcRun(c); msg != "" {
			t.Fatalf("Check: %s", msg)
		}
	})
	t.Run("wrong password is reported without the password", func(t *testing.T) {
		for _, url := range []string{
			"redis://:wrong-" + testsvc.PostgresPassword + "@" + srv.Addr(),
			"redis://default:wrong-" + testsvc.PostgresPassword + "@" + srv.Addr() + "/0",
		} {
			c := newRedisCheck(t, map[string]any{"url": url})
			want := "unavailable: password authentication failed"
			if msg := svcExpectFailure(t, c, redisTestTimeout, want); msg != want {
				t.Errorf("message = %q, want %q", msg, want)
			}
		}
	})
	t.Run("missing password is reported", func(t *testing.T) {
		c := newRedisCheck(t, map[string]any{"url": "redis://" + srv.Addr()})
		want := "unavailable: authentication required: the URL has no password"
		if msg := svcExpectFailure(t, c, redisTestTimeout, want); msg != want {
			t.Errorf("message = %q, want %q", msg, want)
		}
	})
	t.Run("many probes keep one connection", func(t *testing.T) {
		c := newRedisCheck(t, map[string]any{"url": good + "/0?client_name=healthd-leaktest", "write_test": true})
		for i := 0; i < 20; i++ {
			if msg, _ := svcRun(c); msg != "" {
				t.Fatalf("Check %d: %s", i, msg)
			}
		}
		before := srv.ClientsNamed("healthd-leaktest")
		for i := 0; i < 200; i++ {
			if msg, _ := svcRun(c); msg != "" {
				t.Fatalf("Check %d: %s", i, msg)
			}
		}
		after := srv.ClientsNamed("healthd-leaktest")
		if before < 1 || before > 2 || after != before {
			t.Errorf("connections named healthd-leaktest: %d after 20 probes, %d after 220; want 1 or 2, unchanged", before, after)
		}
		c.(io.Closer).Close()
		if n := srv.ClientsNamed("healthd-leaktest"); n != 0 {
			t.Errorf("%d connections left after Close", n)
		}
	})
	t.Run("a restart between probes is not a failure", func(t *testing.T) {
		svcRestartBetweenProbes(t, newRedisCheck(t, map[string]any{"url": good}), srv.Stop, srv.Start)
	})
	t.Run("recovers after the server is killed and restarted", func(t *testing.T) {
		c := newRedisCheck(t, map[string]any{"url": good, "write_test": true})
		svcRecoversFromRestart(t, c, redisTestTimeout, srv.Addr(), srv.Stop, srv.Start)
	})
	t.Run("celery on this broker recovers on the first probe after a restart", func(t *testing.T) {
		for _, params := range []map[string]any{
			{"broker": good + "/0"}, // PING
			{"broker": good + "/0", "queues": []any{map[string]any{"name": "celery"}}}, // LLEN
		} {
			c := svcCheck(t, "celery", params, redisTestTimeout)
			svcRecoversFromRestart(t, c, redisTestTimeout, srv.Addr(), srv.Stop, srv.Start)
		}
	})
}
