package checks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// rabbitShortTimeout is the timeout of a check a test expects to time out
// (the others have checkstest.Timeout); the test waits for it.
const rabbitShortTimeout = 400 * time.Millisecond

// newRabbitMQCheck builds a rabbitmq check with checkstest.Timeout; it is
// closed when the test ends.
func newRabbitMQCheck(t *testing.T, keys map[string]any) *checkstest.Check {
	t.Helper()
	return checkstest.New(t, "rabbitmq", keys, checkstest.Options{})
}

func rabbitURL(addr string) string { return "amqp://guest:guest@" + addr + "/" }

func TestRabbitMQ_ConfigErrors(t *testing.T) {
	// ConfigTable also fails a case whose error shows checkstest.Secret.
	checkstest.ConfigTable(t, "rabbitmq", []checkstest.ConfigCase{
		{Name: "url missing", Keys: map[string]any{}, Want: `key "url": is required`, Contains: true},
		{Name: "wrong scheme", Keys: map[string]any{"url": "http://h:1/"}, Want: `key "url": must be an amqp:// or amqps:// URL, not http://`, Contains: true},
		{Name: "queue without name", Keys: map[string]any{"url": "amqp://h/", "queues": []any{map[string]any{"min_consumers": 1}}}, Want: `key "queues[0].name": is required`, Contains: true},
		{Name: "negative bound", Keys: map[string]any{"url": "amqp://h/", "queues": []any{map[string]any{"name": "q", "max_messages": -1}}}, Want: `key "queues[0].max_messages": must not be negative`, Contains: true},
		{Name: "misspelt key", Keys: map[string]any{"url": "amqp://h/", "queus": []any{}}, Want: `key "queus": unknown key (did you mean "queues"?)`, Contains: true},
		{Name: "password not echoed", Keys: map[string]any{"url": "amqp://u:" + checkstest.Secret + "@h:port/"}, Want: `key "url"`, Contains: true},
	})
}

func TestRabbitMQ_PassesOnTheMachineBroker(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	r := newRabbitMQCheck(t, map[string]any{"url": rabbitURL(addr)}).Passes(t)
	if !strings.HasPrefix(r.Note, "connected to "+addr+" (RabbitMQ ") {
		t.Fatalf("note = %q", r.Note)
	}
}

// Celery's pyamqp:// (its default transport) names the same broker: a
// CELERY_BROKER_URL works in the rabbitmq and celery checks as it is.
func TestRabbitMQ_CeleryPyamqpURL(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	url := "pyamqp://guest:guest@" + addr + "/"
	newRabbitMQCheck(t, map[string]any{"url": url}).Passes(t)
	checkstest.New(t, "celery", map[string]any{"broker": url, "min_workers": 0}, checkstest.Options{}).Passes(t)
}

// rabbitQueue declares a durable queue of the test's own on the healthd_test
// vhost (the check never creates queues) and deletes it afterwards.
func rabbitQueue(t *testing.T, url string) (*amqp.Channel, string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v (run scripts/test-setup.sh)", testsvc.RabbitMQAddr, err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("healthd-test-%d", time.Now().UnixNano())
	if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch, err := conn.Channel(); err == nil {
			ch.QueueDelete(name, false, false, false)
		}
	})
	return ch, name
}

// rabbitWaitQueue waits until the broker's count of queue q satisfies ok:
// the broker counts what it was sent in its own time.
func rabbitWaitQueue(t *testing.T, ch *amqp.Channel, q, what string, ok func(amqp.Queue) bool) {
	t.Helper()
	deadline := time.Now().Add(testsvc.HangSlack)
	for {
		s, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			t.Fatalf("inspect %s: %v", q, err)
		}
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s: want %s, the broker counts %d messages and %d consumers", q, what, s.Messages, s.Consumers)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRabbitMQ_QueuesPassiveDeclare(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	url := "amqp://guest:guest@" + addr + "/healthd_test"
	ch, q := rabbitQueue(t, url)
	for i := 0; i < 2; i++ {
		if err := ch.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	rabbitWaitQueue(t, ch, q, "2 messages ready", func(s amqp.Queue) bool { return s.Messages == 2 })

	check := func(t *testing.T, queues []any) *checkstest.Check {
		return newRabbitMQCheck(t, map[string]any{"url": url, "queues": queues})
	}
	t.Run("backlog over max_messages warns", func(t *testing.T) {
		r := check(t, []any{map[string]any{"name": q, "max_messages": 1}}).FailsWith(t, fmt.Sprintf("warning: queue %s has 2 messages ready (more than 1)", q))
		want := []checks.Observation{{Measurement: q + ":consumers", Value: 0, Unit: "consumers"}, {Measurement: q + ":messages", Value: 2, Unit: "messages"}}
		if fmt.Sprint(r.Observations) != fmt.Sprint(want) {
			t.Fatalf("observations = %v, want %v", r.Observations, want)
		}
	})
	t.Run("too few consumers fails", func(t *testing.T) {
		check(t, []any{map[string]any{"name": q, "min_consumers": 1}}).FailsWith(t, fmt.Sprintf("unavailable: queue %s has 0 consumers (want at least 1)", q))
	})
	t.Run("missing queue fails and the next queue is still checked", func(t *testing.T) {
		c := check(t, []any{map[string]any{"name": "healthd-no-such-queue"}, map[string]any{"name": q, "max_messages": 1}})
		r := c.FailsWith(t, fmt.Sprintf("unavailable: queue healthd-no-such-queue does not exist; queue %s has 2 messages ready (more than 1)", q))
		if len(r.Observations) != 2 {
			t.Fatalf("observations = %v, want the second queue's", r.Observations)
		}
	})
	t.Run("consumer present passes", func(t *testing.T) {
		if _, err := ch.Consume(q, "", false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		rabbitWaitQueue(t, ch, q, "1 consumer", func(s amqp.Queue) bool { return s.Consumers == 1 })
		r := check(t, []any{map[string]any{"name": q, "min_consumers": 1, "max_messages": 1}}).Passes(t)
		if !strings.Contains(r.Note, "queues "+q+" (1 consumers, 0 messages)") {
			t.Fatalf("note = %q", r.Note)
		}
	})
}

func TestRabbitMQ_FaultsFailWithinTimeout(t *testing.T) {
	checkstest.Unreachable(t, 1, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "rabbitmq", map[string]any{"url": "amqp://guest:pw-" + checkstest.Secret + "@" + addr + "/"}, checkstest.Options{Timeout: rabbitShortTimeout})
	})
}

func TestRabbitMQ_WrongPasswordIsNamedWithoutThePassword(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	url := "amqp://guest:wrong-" + checkstest.Secret + "@" + addr + "/"
	// RabbitMQ answers a wrong password by silence, and drops the socket
	// after 3 s: a short timeout sees the unanswered login, a long one the
	// refusal itself.
	for _, tc := range []struct {
		timeout time.Duration
		want    string
	}{
		{rabbitShortTimeout, "unavailable: no answer to the login within 400ms: username or password likely rejected (" + addr + ")"},
		{checkstest.Timeout, "unavailable: access refused (username or password rejected) (" + addr + ")"},
	} {
		// Fails also asserts that the message does not show the password and
		// came within the timeout.
		r := checkstest.New(t, "rabbitmq", map[string]any{"url": url}, checkstest.Options{Timeout: tc.timeout}).Fails(t, "unavailable: ")
		// RabbitMQ usually stays silent for 3 s, but sometimes refuses at
		// once: the plain refusal is right for any timeout.
		refused := "unavailable: access refused (username or password rejected) (" + addr + ")"
		if r.Message != tc.want && r.Message != refused {
			t.Fatalf("timeout %v: message = %q, want %q", tc.timeout, r.Message, tc.want)
		}
	}
}

func TestRabbitMQ_UnknownVhostIsNamed(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	r := newRabbitMQCheck(t, map[string]any{"url": "amqp://guest:guest@" + addr + "/healthd-no-such-vhost"}).Fails(t, "unavailable: vhost not allowed: ")
	if !strings.Contains(r.Message, "healthd-no-such-vhost") {
		t.Fatalf("message = %q", r.Message)
	}
}

func TestRabbitMQ_RecoversAfterTheConnectionDrops(t *testing.T) {
	proxy := testsvc.NewProxy(t, testsvc.RabbitMQ(t))
	c := newRabbitMQCheck(t, map[string]any{"url": rabbitURL(proxy.Addr())})
	if r := c.Run(); r.Err != nil {
		t.Fatalf("before the cut: %s", r.Message)
	}
	first := checks.RabbitMQConnection(c.Checker)

	proxy.Cut()
	r := c.FailsWith(t, "unavailable: connection refused ("+proxy.Addr()+")")
	testsvc.NotHung(t, "the refused check", r.Took, 0)

	proxy.Restore()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("after restore: %s", r.Message)
	}
	if checks.RabbitMQConnection(c.Checker) == first || !first.IsClosed() {
		t.Fatalf("the connection was not redialled")
	}
}

func TestRabbitMQ_HundredProbesUseOneConnectionAndCloseTheirChannels(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	name := fmt.Sprintf("leak-%d", time.Now().UnixNano())
	c := checkstest.New(t, "rabbitmq", map[string]any{
		"url": rabbitURL(addr), "queues": []any{map[string]any{"name": "healthd-no-such-queue"}},
	}, checkstest.Options{Name: name})
	c.Run()
	before := testsvc.RabbitMQConnections(t, "healthd "+name)
	for i := range 100 {
		if r := c.Run(); r.Message != "unavailable: queue healthd-no-such-queue does not exist" {
			t.Fatalf("probe %d: %s", i, r.Message)
		}
	}
	after := testsvc.RabbitMQConnections(t, "healthd "+name)
	if len(before) != 1 || len(after) != 1 || before[0].Name != after[0].Name {
		t.Fatalf("connections before %v, after 100 probes %v: want the same single one", before, after)
	}
	if after[0].Channels != 0 {
		t.Fatalf("%d channels left open after 100 probes", after[0].Channels)
	}
}
