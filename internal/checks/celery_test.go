package checks_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// The checks the tests build have checkstest.Timeout, a deadline that must
// not fire however busy the machine is. A probe that waits out its deadline
// for a worker that never answers, while the broker and a live worker must
// answer within it, gets celeryWaitTimeout (as long as a busy machine may
// delay them, and the test waits for it); a probe expected to time out with
// nothing to wait for gets celeryShortTimeout.
const (
	celeryWaitTimeout  = testsvc.HangSlack
	celeryShortTimeout = 500 * time.Millisecond
)

// workers is the observation of a ping that n workers answered.
func workers(n float64) checks.Observation {
	return checks.Observation{Measurement: "workers", Value: n, Unit: "workers"}
}

func TestCelery_ConfigErrors(t *testing.T) {
	checkstest.ConfigTable(t, "celery", []checkstest.ConfigCase{
		{Name: "broker missing", Keys: map[string]any{}, Want: `key "broker": is required`, Contains: true},
		{Name: "unknown scheme", Keys: map[string]any{"broker": "sqs://x"}, Want: `key "broker": must be an amqp://, amqps://, redis:// or rediss:// URL`, Contains: true},
		{Name: "negative min_workers", Keys: map[string]any{"broker": "amqp://h/", "min_workers": -1}, Want: `key "min_workers": must not be negative`, Contains: true},
		{Name: "min_workers with workers", Keys: map[string]any{"broker": "amqp://h/", "min_workers": 2, "workers": []any{"a@h"}}, Want: `key "workers": every listed worker must answer`, Contains: true},
		{Name: "min_workers with workers on redis", Keys: map[string]any{"broker": "redis://h:6379/0", "min_workers": 1, "workers": []any{"a@h"}}, Want: `key "workers": every listed worker must answer`, Contains: true},
		{Name: "round trip on redis", Keys: map[string]any{"broker": "redis://h:6379/0", "round_trip": true}, Want: `key "round_trip": is not supported with a redis:// broker`, Contains: true},
		{Name: "consumers on redis", Keys: map[string]any{"broker": "redis://h:6379/0", "queues": []any{map[string]any{"name": "celery", "min_consumers": 1}}}, Want: `key "queues[0].min_consumers": is not supported with a redis:// broker`, Contains: true},
		{Name: "misspelt key", Keys: map[string]any{"broker": "amqp://h/", "roundtrip": true}, Want: `key "roundtrip": unknown key (did you mean "round_trip"?)`, Contains: true},
	})
}

func TestCelery_BrokerFaultsFailWithinTimeout(t *testing.T) {
	checkstest.Unreachable(t, 1, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "celery", map[string]any{"broker": "amqp://guest:pw-" + checkstest.Secret + "@" + addr + "/", "round_trip": true}, checkstest.Options{Timeout: celeryShortTimeout})
	})
}

// TestCelery_AgainstARealWorker starts one real worker (about a second) and
// runs every live-worker case against it, then stops it and runs the
// no-worker cases. The vhost lock keeps other test runs' workers away.
func TestCelery_AgainstARealWorker(t *testing.T) {
	testsvc.LockCeleryVhost(t)
	w := testsvc.StartCeleryWorker(t, "testdata", "celeryapp")
	t.Logf("celery worker %s ready after %v", w.Node, w.Startup)
	cleanupCeleryQueue(t, w.Queue)
	broker := testsvc.CeleryBrokerURL
	checkWithin := func(t *testing.T, timeout time.Duration, keys map[string]any) checkstest.Result {
		t.Helper()
		keys["broker"] = broker
		r := checkstest.New(t, "celery", keys, checkstest.Options{Timeout: timeout}).Run()
		r.NotHung(t)
		return r
	}
	check := func(t *testing.T, keys map[string]any) checkstest.Result {
		t.Helper()
		return checkWithin(t, checkstest.Timeout, keys)
	}

	t.Run("ping passes with the worker up and names it", func(t *testing.T) {
		r := check(t, map[string]any{})
		if r.Err != nil {
			t.Fatalf("check failed: %s\nworker log:\n%s", r.Message, w.Log())
		}
		if want := "1 worker replied: " + w.Node; r.Note != want {
			t.Fatalf("note = %q, want %q", r.Note, want)
		}
		if !slices.Contains(r.Observations, workers(1)) {
			t.Fatalf("observations = %v, want 1 worker", r.Observations)
		}
	})
	t.Run("ping answers fast (measured, not asserted)", func(t *testing.T) {
		logPingTimes(t, broker, "ping")
	})
	t.Run("listed workers all answer", func(t *testing.T) {
		r := check(t, map[string]any{"workers": []any{w.Node}})
		if r.Message != "" || r.Note != "1 of 1 workers replied: "+w.Node {
			t.Fatalf("message %q, note %q", r.Message, r.Note)
		}
	})
	t.Run("a listed worker that is missing is named", func(t *testing.T) {
		r := checkWithin(t, celeryWaitTimeout, map[string]any{"workers": []any{w.Node, "ghost@nowhere"}})
		if want := "unavailable: no reply from ghost@nowhere (1 of 2 workers replied: " + w.Node + ")"; r.Message != want {
			t.Fatalf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("a broker slow to answer: the missing worker is still named", func(t *testing.T) {
		// Every answer of the broker is held 200 ms, as on a busy machine:
		// the ping must give up early enough for the channel to close
		// before the deadline, or the probe says only "timed out".
		proxy := testsvc.NewProxy(t, testsvc.RabbitMQAddr)
		proxy.Delay(200 * time.Millisecond)
		keys := map[string]any{"broker": "amqp://guest:guest@" + proxy.Addr() + "/" + testsvc.CeleryVhost, "workers": []any{w.Node, "ghost@nowhere"}}
		r := checkstest.New(t, "celery", keys, checkstest.Options{Timeout: celeryWaitTimeout}).Run()
		if want := "unavailable: no reply from ghost@nowhere (1 of 2 workers replied: " + w.Node + ")"; r.Message != want {
			t.Fatalf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("min_workers 2 with one worker fails naming the count", func(t *testing.T) {
		r := checkWithin(t, celeryWaitTimeout, map[string]any{"min_workers": 2})
		if want := "unavailable: 1 worker replied (want at least 2): " + w.Node; r.Message != want {
			t.Fatalf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("queue has the worker as consumer", func(t *testing.T) {
		r := check(t, map[string]any{"min_workers": 0, "queues": []any{map[string]any{"name": w.Queue}}})
		if r.Err != nil {
			t.Fatalf("check failed: %s", r.Message)
		}
		consumers := checks.Observation{Measurement: w.Queue + ":consumers", Value: 1, Unit: "consumers"}
		if !strings.Contains(r.Note, w.Queue+" (1 consumers, 0 messages)") || !slices.Contains(r.Observations, consumers) {
			t.Fatalf("note %q, observations %v", r.Note, r.Observations)
		}
	})
	t.Run("round trip passes", func(t *testing.T) {
		r := check(t, map[string]any{"round_trip": true, "round_trip_queue": w.Queue})
		if r.Err != nil {
			t.Fatalf("check failed: %s\nworker log:\n%s", r.Message, w.Log())
		}
		if !regexp.MustCompile(`^1 worker replied: \S+; round trip on ` + w.Queue + ` in \d+ms$`).MatchString(r.Note) {
			t.Fatalf("note = %q", r.Note)
		}
		t.Logf("ping + round trip (cold connection): %v", r.Took)
	})
	t.Run("process check counts the worker's processes", func(t *testing.T) {
		r := checkstest.New(t, "process", map[string]any{"pattern": w.Pattern(), "max": 1}, checkstest.Options{}).Run()
		if r.Message != "" || r.Note != fmt.Sprintf("1 process matches %q", w.Pattern()) {
			t.Fatalf("message %q, note %q", r.Message, r.Note)
		}
		if !slices.Contains(r.Observations, checks.Observation{Measurement: "processes", Value: 1, Unit: "processes"}) {
			t.Fatalf("observations = %v", r.Observations)
		}
	})

	w.Stop()
	// The broker drops a dead worker's consumers asynchronously: wait for
	// it, so the cases below see the worker gone rather than a race.
	for i := 0; queueConsumers(t, w.Queue) != 0; i++ {
		if i == 100 {
			t.Fatalf("queue %s still has consumers 5s after the worker was killed", w.Queue)
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("after the worker stops, ping fails: no worker replied", func(t *testing.T) {
		r := checkWithin(t, celeryWaitTimeout, map[string]any{})
		if r.Message != "unavailable: no worker replied" {
			t.Fatalf("message = %q", r.Message)
		}
		if !slices.Contains(r.Observations, workers(0)) {
			t.Fatalf("observations = %v", r.Observations)
		}
	})
	t.Run("after the worker stops, a listed worker is named", func(t *testing.T) {
		r := checkWithin(t, celeryWaitTimeout, map[string]any{"workers": []any{w.Node}})
		if r.Message != "unavailable: no worker replied: no reply from "+w.Node {
			t.Fatalf("message = %q", r.Message)
		}
	})
	t.Run("after the worker stops, the queue has 0 consumers", func(t *testing.T) {
		r := check(t, map[string]any{"min_workers": 0, "queues": []any{map[string]any{"name": w.Queue}}})
		if want := "unavailable: queue " + w.Queue + " has 0 consumers (want at least 1)"; r.Message != want {
			t.Fatalf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("after the worker stops, the round trip fails within its timeout and leaves no message", func(t *testing.T) {
		r := checkWithin(t, celeryWaitTimeout, map[string]any{"min_workers": 0, "round_trip": true, "round_trip_queue": w.Queue})
		if want := "unavailable: no reply to the round-trip task on queue " + w.Queue + " within " + celeryWaitTimeout.String(); r.Message != want {
			t.Fatalf("message = %q, want %q", r.Message, want)
		}
		// The broker drops the expired message in its own time.
		deadline := time.Now().Add(testsvc.HangSlack)
		for n := queueMessages(t, w.Queue); n != 0; n = queueMessages(t, w.Queue) {
			if time.Now().After(deadline) {
				t.Fatalf("%d probe messages left in %s, want 0 (expired)", n, w.Queue)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("after the worker stops, the process check counts 0", func(t *testing.T) {
		r := checkstest.New(t, "process", map[string]any{"pattern": w.Pattern()}, checkstest.Options{}).Run()
		if want := fmt.Sprintf("unavailable: 0 processes match %q (want at least 1)", w.Pattern()); r.Message != want {
			t.Fatalf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("round trip to a missing queue is refused at once", func(t *testing.T) {
		// The timeout is longer than testsvc.HangSlack: a check that waited
		// for a reply instead of taking the refusal would be caught hanging.
		r := check(t, map[string]any{"min_workers": 0, "round_trip": true, "round_trip_queue": "healthd-no-such-queue"})
		if r.Message != "unavailable: round-trip task unroutable: queue healthd-no-such-queue does not exist" {
			t.Fatalf("message = %q after %v", r.Message, r.Took)
		}
		testsvc.NotHung(t, "the refused round trip", r.Took, 0)
	})
}

// queueMessages passive-declares queue on the test vhost and returns its ready messages.
func queueMessages(t *testing.T, queue string) int { return queueState(t, queue).Messages }

// queueConsumers returns the consumers of queue on the test vhost.
func queueConsumers(t *testing.T, queue string) int { return queueState(t, queue).Consumers }

func queueState(t *testing.T, queue string) amqp.Queue {
	t.Helper()
	conn, err := amqp.Dial(testsvc.CeleryBrokerURL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare %s: %v", queue, err)
	}
	return q
}

// cleanupCeleryQueue deletes the worker's queue and exchange (durable, made
// by Celery) when the test ends.
func cleanupCeleryQueue(t *testing.T, queue string) {
	t.Cleanup(func() {
		conn, err := amqp.Dial(testsvc.CeleryBrokerURL)
		if err != nil {
			return
		}
		defer conn.Close()
		if ch, err := conn.Channel(); err == nil {
			ch.QueueDelete(queue, false, false, false)
			ch.ExchangeDelete(queue, false, false)
		}
	})
}

func TestCelery_RedisBrokerMeasuresBacklog(t *testing.T) {
	client := testsvc.CeleryRedis(t)
	key := fmt.Sprintf("healthd-test-queue-%d", time.Now().UnixNano())
	if err := client.RPush(context.Background(), key, "a", "b", "c").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Del(context.Background(), key) })
	broker := "redis://" + testsvc.CeleryRedisAddr + "/0"
	for _, tc := range []struct {
		max      int
		msg, not string
	}{
		{2, fmt.Sprintf("warning: queue %s has 3 messages ready (more than 2)", key), ""},
		{3, "", fmt.Sprintf("queues %s (3 messages)", key)},
	} {
		r := checkstest.New(t, "celery", map[string]any{"broker": broker, "min_workers": 0, "queues": []any{map[string]any{"name": key, "max_messages": tc.max}}}, checkstest.Options{}).Run()
		if r.Message != tc.msg || r.Note != tc.not {
			t.Fatalf("max %d: message %q note %q, want %q %q", tc.max, r.Message, r.Note, tc.msg, tc.not)
		}
		if !slices.Contains(r.Observations, checks.Observation{Measurement: key + ":messages", Value: 3, Unit: "messages"}) {
			t.Fatalf("observations = %v", r.Observations)
		}
	}
	refused := testsvc.RefusedAddr(t)
	c := checkstest.New(t, "celery", map[string]any{"broker": "redis://:" + checkstest.Secret + "@" + refused + "/0"}, checkstest.Options{})
	c.FailsWith(t, "unavailable: connection refused ("+refused+")")
}

// A memory alarm blocks publishing connections (connection.blocked). The
// alarm is raised on the machine's broker for about a second and always
// lifted; the vhost lock keeps this package's other broker tests away.
func TestCelery_ResourceAlarmIsReported(t *testing.T) {
	testsvc.LockCeleryVhost(t)
	addr := testsvc.RabbitMQ(t)
	c := checkstest.New(t, "celery", map[string]any{"broker": testsvc.CeleryBrokerURL}, checkstest.Options{Timeout: celeryShortTimeout})
	c.Run() // connect; the result depends on other workers
	testsvc.Rabbitmqctl(t, "set_vm_memory_high_watermark", "0.000001")
	t.Cleanup(func() { testsvc.Rabbitmqctl(t, "set_vm_memory_high_watermark", "0.4") })
	var msg string
	for i := 0; i < 5 && !strings.Contains(msg, "blocked"); i++ {
		msg = c.Run().Message
	}
	if !strings.Contains(msg, "connection blocked by the broker: low on memory ("+addr+")") {
		t.Fatalf("message = %q, want it to name the block", msg)
	}
	testsvc.Rabbitmqctl(t, "set_vm_memory_high_watermark", "0.4")
	for i := 0; i < 10 && strings.Contains(msg, "blocked"); i++ {
		time.Sleep(50 * time.Millisecond)
		msg = c.Run().Message
	}
	if strings.Contains(msg, "blocked") {
		t.Fatalf("still %q after the alarm cleared", msg)
	}
}

// logPingTimes runs a celery ping on broker 20 times over a warm connection,
// each of which must pass, and logs the median and the longest.
func logPingTimes(t *testing.T, broker, what string) {
	t.Helper()
	c := checkstest.New(t, "celery", map[string]any{"broker": broker}, checkstest.Options{})
	c.Run() // dial
	var took []time.Duration
	for i := range 20 {
		r := c.Run()
		if r.Err != nil {
			t.Fatalf("probe %d: %s", i, r.Message)
		}
		took = append(took, r.Took)
	}
	slices.Sort(took)
	t.Logf("%s with a live worker over a warm connection: median %v, max %v (20 probes)", what, took[10], took[19])
}
