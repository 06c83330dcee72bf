package checks_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// TestCelery_RedisPingAgainstARealWorker starts one real worker on a
// redis-server of the test's own, in database 5 so that the fanout channel's
// /5. prefix matters, and runs the live-worker cases against it; then it
// pauses the worker (subscribed, silent) and kills it. Every probe must
// leave no reply binding and no reply list behind.
func TestCelery_RedisPingAgainstARealWorker(t *testing.T) {
	srv := testsvc.StartRedis(t, "")
	broker := "redis://" + srv.Addr() + "/5"
	w := testsvc.StartCeleryWorkerOn(t, "testdata", "celeryapp", broker)
	t.Logf("celery worker %s on %s ready after %v", w.Node, broker, w.Startup)
	db := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: 5, DisableIdentity: true})
	t.Cleanup(func() { db.Close() })

	noLeftovers := func(t *testing.T) {
		t.Helper()
		ctx := context.Background()
		if n := db.SCard(ctx, "_kombu.binding.reply.celery.pidbox").Val(); n != 0 {
			t.Errorf("%d reply bindings left, want 0", n)
		}
		if keys := db.Keys(ctx, "*reply.celery.pidbox*").Val(); len(keys) != 0 {
			t.Errorf("reply lists left: %q", keys)
		}
	}
	run := func(t *testing.T, keys map[string]any, timeout time.Duration) checkstest.Result {
		t.Helper()
		if keys["broker"] == nil {
			keys["broker"] = broker
		}
		r := checkstest.New(t, "celery", keys, checkstest.Options{Timeout: timeout}).Run()
		r.NotHung(t)
		return r
	}

	for _, tc := range []struct {
		name      string
		keys      map[string]any
		timeout   time.Duration
		msg, note string
		fast      bool // must not wait for the deadline
	}{
		{name: "ping passes with the worker up and names it", keys: map[string]any{},
			note: "1 worker replied: " + w.Node, fast: true},
		{name: "listed workers all answer", keys: map[string]any{"workers": []any{w.Node}},
			note: "1 of 1 workers replied: " + w.Node, fast: true},
		{name: "a listed worker that is missing is named", keys: map[string]any{"workers": []any{w.Node, "ghost@nowhere"}}, timeout: celeryWaitTimeout,
			msg: "unavailable: no reply from ghost@nowhere (1 of 2 workers replied: " + w.Node + ")"},
		{name: "min_workers 2 with one worker fails naming the count", keys: map[string]any{"min_workers": 2}, timeout: celeryWaitTimeout,
			msg: "unavailable: 1 worker replied (want at least 2): " + w.Node},
		{name: "queue backlog and ping together", keys: map[string]any{"queues": []any{map[string]any{"name": w.Queue}}},
			note: "queues " + w.Queue + " (0 messages); 1 worker replied: " + w.Node, fast: true},
		{name: "min_workers 0 measures the backlog only", keys: map[string]any{"min_workers": 0, "queues": []any{map[string]any{"name": w.Queue}}},
			note: "queues " + w.Queue + " (0 messages)", fast: true},
		// The worker listens on /5.celery.pidbox only: no one receives the
		// publish on /6., and the probe says so at once.
		{name: "another database has no worker, known at once", keys: map[string]any{"broker": "redis://" + srv.Addr() + "/6"},
			msg: "unavailable: no worker replied", fast: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = checkstest.Timeout
			}
			r := run(t, tc.keys, timeout)
			if r.Message != tc.msg || r.Note != tc.note {
				t.Fatalf("message %q note %q, want %q %q\nworker log:\n%s", r.Message, r.Note, tc.msg, tc.note, w.Log())
			}
			if tc.fast {
				testsvc.NotHung(t, "the probe", r.Took, 0)
			}
			noLeftovers(t)
		})
	}
	t.Run("ping answers fast (measured, not asserted)", func(t *testing.T) {
		logPingTimes(t, broker, "Redis ping")
		noLeftovers(t)
	})
	t.Run("a Redis slow to answer: the missing worker is still named", func(t *testing.T) {
		// Every answer is held 200 ms: the ping must give up early enough
		// to clean up and say who was missing before the deadline.
		proxy := testsvc.NewProxy(t, srv.Addr())
		proxy.Delay(200 * time.Millisecond)
		r := run(t, map[string]any{"broker": "redis://" + proxy.Addr() + "/5", "workers": []any{w.Node, "ghost@nowhere"}}, celeryWaitTimeout)
		if want := "unavailable: no reply from ghost@nowhere (1 of 2 workers replied: " + w.Node + ")"; r.Message != want {
			t.Fatalf("message = %q, want %q", r.Message, want)
		}
		noLeftovers(t)
	})
	t.Run("a Redis slower than the ping's margin: the probe ends on time, the binding goes after", func(t *testing.T) {
		// Every answer is held 400 ms, more than the tenth of the 1 s
		// timeout the ping leaves itself: the deadline comes while it waits
		// for the missing worker, before it can clean up.
		proxy := testsvc.NewProxy(t, srv.Addr())
		proxy.Delay(400 * time.Millisecond)
		r := run(t, map[string]any{"broker": "redis://" + proxy.Addr() + "/5", "workers": []any{w.Node, "ghost@nowhere"}}, time.Second)
		t.Logf("%q after %v", r.Message, r.Took)
		if r.Message == "" {
			t.Fatalf("passed; want the deadline to end the probe (note %q)", r.Note)
		}
		deadline := time.Now().Add(5 * time.Second)
		for db.SCard(context.Background(), "_kombu.binding.reply.celery.pidbox").Val() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the reply binding is still there 5 s after the probe (%q)", r.Message)
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // a reply in flight finds no binding
		noLeftovers(t)
	})
	t.Run("a worker that is subscribed but silent fails within the timeout", func(t *testing.T) {
		// The ping leaves a tenth of the timeout for its last BRPOP to
		// return and the cleanup: 300 ms, where 100 ms was too little
		// for a race-instrumented run on a loaded CI machine.
		const timeout = 3 * time.Second
		w.Pause()
		r := run(t, map[string]any{}, timeout)
		w.Resume()
		if r.Message != "unavailable: no worker replied" {
			t.Fatalf("message = %q", r.Message)
		}
		if r.Took < timeout*8/10 {
			t.Fatalf("took %v, want the ping to wait until a tenth of the %v timeout before the deadline", r.Took, timeout)
		}
		if !slices.Contains(r.Observations, workers(0)) {
			t.Fatalf("observations = %v", r.Observations)
		}
		// The resumed worker answers the stale ping; with the binding gone
		// its reply is dropped, not left in a list. The next ping's reply
		// comes after the stale one's.
		run(t, map[string]any{}, checkstest.Timeout)
		noLeftovers(t)
	})

	w.Stop()
	// Redis drops a dead worker's subscription when its socket closes; wait
	// for it, so the cases below see the worker gone rather than a race.
	for i := 0; db.PubSubNumPat(context.Background()).Val() != 0; i++ {
		if i == 100 {
			t.Fatalf("the worker's pattern subscription is still there 5s after it was killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		keys map[string]any
		msg  string
	}{
		{"after the worker stops, ping fails at once: no worker replied", map[string]any{}, "unavailable: no worker replied"},
		{"after the worker stops, a listed worker is named", map[string]any{"workers": []any{w.Node}}, "unavailable: no worker replied: no reply from " + w.Node},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.keys, checkstest.Timeout)
			if r.Message != tc.msg {
				t.Fatalf("message = %q, want %q", r.Message, tc.msg)
			}
			if !slices.Contains(r.Observations, workers(0)) {
				t.Fatalf("observations = %v", r.Observations)
			}
			testsvc.NotHung(t, "the probe with no worker subscribed", r.Took, 0)
			noLeftovers(t)
		})
	}
}

// The ping on a Redis broker fails within its timeout, in the shared words,
// when Redis refuses, hangs or is black-holed.
func TestCelery_RedisBrokerFaultsFailWithinTimeout(t *testing.T) {
	checkstest.Unreachable(t, 2, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "celery", map[string]any{"broker": "redis://:" + checkstest.Secret + "@" + addr + "/0", "min_workers": 1},
			checkstest.Options{Timeout: celeryShortTimeout})
	})
}
