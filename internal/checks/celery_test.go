package checks

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/healthd/healthd/internal/testsvc"
)

// celeryTestTimeout is the timeout of the checks the tests build: a
// deadline that must not fire however busy the machine is. A probe that
// waits out its deadline for a worker that never answers, while the broker
// and a live worker must answer within it, gets celeryWaitTimeout (as long
// as a busy machine may delay them, and the test waits for it); a probe
// expected to time out with nothing to wait for gets celeryShortTimeout.
const (
	celeryTestTimeout  = testsvc.AnswerTimeout
	celeryWaitTimeout  = testsvc.HangSlack
	celeryShortTimeout = 500 * time.Millisecond
)

func TestCelery_ConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys map[string]any
		want string
	}{
		{"broker missing", map[string]any{}, `key "broker": is required`},
		{"unknown scheme", map[string]any{"broker": "sqs://x"}, `key "broker": must be an amqp://, amqps://, redis:// or rediss:// URL`},
		{"negative min_workers", map[string]any{"broker": "amqp://h/", "min_workers": -1}, `key "min_workers": must not be negative`},
		{"min_workers with workers", map[string]any{"broker": "amqp://h/", "min_workers": 2, "workers": []any{"a@h"}}, `key "workers": every listed worker must answer`},
		{"round trip on redis", map[string]any{"broker": "redis://h:6379/0", "round_trip": true}, `key "round_trip": is not supported with a redis:// broker`},
		{"consumers on redis", map[string]any{"broker": "redis://h:6379/0", "queues": []any{map[string]any{"name": "celery", "min_consumers": 1}}}, `key "queues[0].min_consumers": is not supported with a redis:// broker`},
		{"misspelt key", map[string]any{"broker": "amqp://h/", "roundtrip": true}, `key "roundtrip": unknown key (did you mean "round_trip"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildTestCheck("celery", "celery", tc.keys, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCelery_BrokerFaultsFailWithinTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
		want string
	}{
		{"refused", func(t *testing.T) string { return testsvc.RefusedAddr(t) }, "unavailable: connection refused (%s)"},
		{"hanging", func(t *testing.T) string { return testsvc.HangingAddr(t) }, "unavailable: timed out after 500ms (%s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			c := newTestCheck(t, "celery", "celery", map[string]any{"broker": "amqp://guest:pw-s3cret@" + addr + "/", "round_trip": true}, celeryShortTimeout)
			msg, _, _, took := probe(c, celeryShortTimeout)
			if want := fmt.Sprintf(tc.want, addr); msg != want {
				t.Fatalf("message = %q, want %q", msg, want)
			}
			testsvc.NotHung(t, "the check", took, celeryShortTimeout)
		})
	}
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
	checkWithin := func(t *testing.T, timeout time.Duration, keys map[string]any) (string, string, []Observation, time.Duration) {
		t.Helper()
		keys["broker"] = broker
		c := newTestCheck(t, "celery", "celery", keys, timeout)
		msg, note, obs, took := probe(c, timeout)
		testsvc.NotHung(t, "the check", took, timeout)
		return msg, note, obs, took
	}
	check := func(t *testing.T, keys map[string]any) (string, string, []Observation, time.Duration) {
		t.Helper()
		return checkWithin(t, celeryTestTimeout, keys)
	}

	t.Run("ping passes with the worker up and names it", func(t *testing.T) {
		msg, note, obs, _ := check(t, map[string]any{})
		if msg != "" {
			t.Fatalf("check failed: %s\nworker log:\n%s", msg, w.Log())
		}
		if want := "1 worker replied: " + w.Node; note != want {
			t.Fatalf("note = %q, want %q", note, want)
		}
		if !slices.Contains(obs, Observation{"workers", 1, "workers"}) {
			t.Fatalf("observations = %v, want 1 worker", obs)
		}
	})
	t.Run("ping answers fast (measured, not asserted)", func(t *testing.T) {
		keys := map[string]any{"broker": broker}
		c := newTestCheck(t, "celery", "celery", keys, celeryTestTimeout)
		probe(c, celeryTestTimeout) // dial
		var took []time.Duration
		for i := 0; i < 20; i++ {
			msg, _, _, d := probe(c, celeryTestTimeout)
			if msg != "" {
				t.Fatalf("probe %d: %s", i, msg)
			}
			took = append(took, d)
		}
		slices.Sort(took)
		t.Logf("ping with a live worker over a warm connection: median %v, max %v (20 probes)", took[10], took[19])
	})
	t.Run("listed workers all answer", func(t *testing.T) {
		msg, note, _, _ := check(t, map[string]any{"workers": []any{w.Node}})
		if msg != "" || note != "1 of 1 workers replied: "+w.Node {
			t.Fatalf("message %q, note %q", msg, note)
		}
	})
	t.Run("a listed worker that is missing is named", func(t *testing.T) {
		msg, _, _, _ := checkWithin(t, celeryWaitTimeout, map[string]any{"workers": []any{w.Node, "ghost@nowhere"}})
		if want := "unavailable: no reply from ghost@nowhere (1 of 2 workers replied: " + w.Node + ")"; msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
	})
	t.Run("a broker slow to answer: the missing worker is still named", func(t *testing.T) {
		// Every answer of the broker is held 200 ms, as on a busy machine:
		// the ping must give up early enough for the channel to close
		// before the deadline, or the probe says only "timed out".
		proxy := testsvc.NewProxy(t, testsvc.RabbitMQAddr)
		proxy.Delay(200 * time.Millisecond)
		keys := map[string]any{"broker": "amqp://guest:guest@" + proxy.Addr() + "/" + testsvc.CeleryVhost, "workers": []any{w.Node, "ghost@nowhere"}}
		msg, _, _, _ := probe(newTestCheck(t, "celery", "celery", keys, celeryWaitTimeout), celeryWaitTimeout)
		if want := "unavailable: no reply from ghost@nowhere (1 of 2 workers replied: " + w.Node + ")"; msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
	})
	t.Run("min_workers 2 with one worker fails naming the count", func(t *testing.T) {
		msg, _, _, _ := checkWithin(t, celeryWaitTimeout, map[string]any{"min_workers": 2})
		if want := "unavailable: 1 worker replied (want at least 2): " + w.Node; msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
	})
	t.Run("queue has the worker as consumer", func(t *testing.T) {
		msg, note, obs, _ := check(t, map[string]any{"min_workers": 0, "queues": []any{map[string]any{"name": w.Queue}}})
		if msg != "" {
			t.Fatalf("check failed: %s", msg)
		}
		if !strings.Contains(note, w.Queue+" (1 consumers, 0 messages)") || !slices.Contains(obs, Observation{w.Queue + ":consumers", 1, "consumers"}) {
			t.Fatalf("note %q, observations %v", note, obs)
		}
	})
	t.Run("round trip passes", func(t *testing.T) {
		msg, note, _, took := check(t, map[string]any{"round_trip": true, "round_trip_queue": w.Queue})
		if msg != "" {
			t.Fatalf("check failed: %s\nworker log:\n%s", msg, w.Log())
		}
		if !regexp.MustCompile(`^1 worker replied: \S+; round trip on ` + w.Queue + ` in \d+ms$`).MatchString(note) {
			t.Fatalf("note = %q", note)
		}
		t.Logf("ping + round trip (cold connection): %v", took)
	})
	t.Run("process check counts the worker's processes", func(t *testing.T) {
		c := newTestCheck(t, "proc", "process", map[string]any{"pattern": w.Pattern(), "max": 1}, celeryTestTimeout)
		msg, note, obs, _ := probe(c, celeryTestTimeout)
		if msg != "" || note != fmt.Sprintf("1 process match %q", w.Pattern()) {
			t.Fatalf("message %q, note %q", msg, note)
		}
		if !slices.Contains(obs, Observation{"processes", 1, "processes"}) {
			t.Fatalf("observations = %v", obs)
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
		msg, _, obs, _ := checkWithin(t, celeryWaitTimeout, map[string]any{})
		if msg != "unavailable: no worker replied" {
			t.Fatalf("message = %q", msg)
		}
		if !slices.Contains(obs, Observation{"workers", 0, "workers"}) {
			t.Fatalf("observations = %v", obs)
		}
	})
	t.Run("after the worker stops, a listed worker is named", func(t *testing.T) {
		msg, _, _, _ := checkWithin(t, celeryWaitTimeout, map[string]any{"workers": []any{w.Node}})
		if msg != "unavailable: no worker replied: no reply from "+w.Node {
			t.Fatalf("message = %q", msg)
		}
	})
	t.Run("after the worker stops, the queue has 0 consumers", func(t *testing.T) {
		msg, _, _, _ := check(t, map[string]any{"min_workers": 0, "queues": []any{map[string]any{"name": w.Queue}}})
		if want := "unavailable: queue " + w.Queue + " has 0 consumers (want at least 1)"; msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
	})
	t.Run("after the worker stops, the round trip fails within its timeout and leaves no message", func(t *testing.T) {
		msg, _, _, _ := checkWithin(t, celeryWaitTimeout, map[string]any{"min_workers": 0, "round_trip": true, "round_trip_queue": w.Queue})
		if want := "unavailable: no reply to the round-trip task on queue " + w.Queue + " within " + celeryWaitTimeout.String(); msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
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
		c := newTestCheck(t, "proc", "process", map[string]any{"pattern": w.Pattern()}, celeryTestTimeout)
		msg, _, _, _ := probe(c, celeryTestTimeout)
		if want := fmt.Sprintf("unavailable: 0 processes match %q (want at least 1)", w.Pattern()); msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
	})
	t.Run("round trip to a missing queue is refused at once", func(t *testing.T) {
		// The timeout is longer than testsvc.HangSlack: a check that waited
		// for a reply instead of taking the refusal would be caught hanging.
		msg, _, _, took := check(t, map[string]any{"min_workers": 0, "round_trip": true, "round_trip_queue": "healthd-no-such-queue"})
		if msg != "unavailable: round-trip task unroutable: queue healthd-no-such-queue does not exist" {
			t.Fatalf("message = %q after %v", msg, took)
		}
		testsvc.NotHung(t, "the refused round trip", took, 0)
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
		c := newTestCheck(t, "celery", "celery", map[string]any{"broker": broker, "queues": []any{map[string]any{"name": key, "max_messages": tc.max}}}, celeryTestTimeout)
		msg, note, obs, _ := probe(c, celeryTestTimeout)
		if msg != tc.msg || note != tc.not {
			t.Fatalf("max %d: message %q note %q, want %q %q", tc.max, msg, note, tc.msg, tc.not)
		}
		if !slices.Contains(obs, Observation{key + ":messages", 3, "messages"}) {
			t.Fatalf("observations = %v", obs)
		}
	}
	refused := testsvc.RefusedAddr(t)
	c := newTestCheck(t, "celery", "celery", map[string]any{"broker": "redis://:s3cret@" + refused + "/0"}, celeryTestTimeout)
	if msg, _, _, _ := probe(c, celeryTestTimeout); msg != "unavailable: connection refused ("+refused+")" {
		t.Fatalf("refused: message = %q", msg)
	}
}

// A memory alarm blocks publishing connections (connection.blocked). The
// alarm is raised on the machine's broker for about a second and always
// lifted; the vhost lock keeps this package's other broker tests away.
func TestCelery_ResourceAlarmIsReported(t *testing.T) {
	testsvc.LockCeleryVhost(t)
	addr := testsvc.RabbitMQ(t)
	c := newTestCheck(t, "celery", "celery", map[string]any{"broker": testsvc.CeleryBrokerURL}, celeryShortTimeout)
	probe(c, celeryShortTimeout) // connect; the result depends on other workers
	testsvc.Rabbitmqctl(t, "set_vm_memory_high_watermark", "0.000001")
	t.Cleanup(func() { testsvc.Rabbitmqctl(t, "set_vm_memory_high_watermark", "0.4") })
	var msg string
	for i := 0; i < 5 && !strings.Contains(msg, "blocked"); i++ {
		msg, _, _, _ = probe(c, celeryShortTimeout)
	}
	if !strings.Contains(msg, "connection blocked by the broker: low on memory ("+addr+")") {
		t.Fatalf("message = %q, want it to name the block", msg)
	}
	testsvc.Rabbitmqctl(t, "set_vm_memory_high_watermark", "0.4")
	for i := 0; i < 10 && strings.Contains(msg, "blocked"); i++ {
		time.Sleep(50 * time.Millisecond)
		msg, _, _, _ = probe(c, celeryShortTimeout)
	}
	if strings.Contains(msg, "blocked") {
		t.Fatalf("still %q after the alarm cleared", msg)
	}
}
