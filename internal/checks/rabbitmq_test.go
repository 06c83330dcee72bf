package checks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/healthd/healthd/internal/testsvc"
)

// rabbitTestTimeout is the timeout of the checks the tests build: a
// deadline that must not fire however busy the machine is. A test that
// expects a check to time out gives it rabbitShortTimeout, and waits for it.
const (
	rabbitTestTimeout  = testsvc.AnswerTimeout
	rabbitShortTimeout = 400 * time.Millisecond
)

// newTestCheck builds a check of type typ from keys through the built-in
// registry, failing the test on a config error, and closes it when the test
// ends.
func newTestCheck(t *testing.T, name, typ string, keys map[string]any, timeout time.Duration) Checker {
	t.Helper()
	c, err := buildTestCheck(name, typ, keys, timeout)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if cl, ok := c.(io.Closer); ok {
		t.Cleanup(func() { cl.Close() })
	}
	return c
}

// buildTestCheck builds a check of type typ from keys, as the config loader
// does (Parse, then Build).
func buildTestCheck(name, typ string, keys map[string]any, timeout time.Duration) (Checker, error) {
	ty, ok := Builtin().Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("type %q is not registered", typ)
	}
	return ty.Build(keys, Env{Name: name, Timeout: timeout})
}

// probe runs one Check like the runner does and returns its message ("" on
// pass), the note and how long it took.
func probe(c Checker, timeout time.Duration) (msg, note string, obs []Observation, took time.Duration) {
	d := &Details{}
	ctx, cancel := context.WithTimeout(WithDetails(context.Background(), d), timeout)
	defer cancel()
	start := time.Now()
	err := c.Check(ctx)
	took = time.Since(start)
	if err != nil {
		msg = Message(err)
	}
	note, obs = d.Snapshot()
	return msg, note, obs, took
}

func rabbitURL(addr string) string { return "amqp://guest:guest@" + addr + "/" }

func TestRabbitMQ_ConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys map[string]any
		want string
	}{
		{"url missing", map[string]any{}, `key "url": is required`},
		{"wrong scheme", map[string]any{"url": "http://h:1/"}, `key "url": must be an amqp:// or amqps:// URL, not http://`},
		{"queue without name", map[string]any{"url": "amqp://h/", "queues": []any{map[string]any{"min_consumers": 1}}}, `key "queues[0].name": is required`},
		{"negative bound", map[string]any{"url": "amqp://h/", "queues": []any{map[string]any{"name": "q", "max_messages": -1}}}, `key "queues[0].max_messages": must not be negative`},
		{"misspelt key", map[string]any{"url": "amqp://h/", "queus": []any{}}, `key "queus": unknown key (did you mean "queues"?)`},
		{"password not echoed", map[string]any{"url": "amqp://u:s3cret@h:port/"}, `key "url"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildTestCheck("mq", "rabbitmq", tc.keys, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

func TestRabbitMQ_PassesOnTheMachineBroker(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	c := newTestCheck(t, "mq", "rabbitmq", map[string]any{"url": rabbitURL(addr)}, rabbitTestTimeout)
	msg, note, _, _ := probe(c, rabbitTestTimeout)
	if msg != "" {
		t.Fatalf("check failed: %s", msg)
	}
	if !strings.HasPrefix(note, "connected to "+addr+" (RabbitMQ ") {
		t.Fatalf("note = %q", note)
	}
}

// testQueue declares a durable queue of the test's own on the healthd_test
// vhost (the check never creates queues) and deletes it afterwards.
func testQueue(t *testing.T, url string) (*amqp.Channel, string) {
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
	ch, q := testQueue(t, url)
	for i := 0; i < 2; i++ {
		if err := ch.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	rabbitWaitQueue(t, ch, q, "2 messages ready", func(s amqp.Queue) bool { return s.Messages == 2 })

	check := func(queues []any) (string, string, []Observation) {
		c := newTestCheck(t, "mq", "rabbitmq", map[string]any{"url": url, "queues": queues}, rabbitTestTimeout)
		msg, note, obs, _ := probe(c, rabbitTestTimeout)
		return msg, note, obs
	}
	t.Run("backlog over max_messages warns", func(t *testing.T) {
		msg, _, obs := check([]any{map[string]any{"name": q, "max_messages": 1}})
		if want := fmt.Sprintf("warning: queue %s has 2 messages ready (more than 1)", q); msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
		want := []Observation{{q + ":consumers", 0, "consumers"}, {q + ":messages", 2, "messages"}}
		if fmt.Sprint(obs) != fmt.Sprint(want) {
			t.Fatalf("observations = %v, want %v", obs, want)
		}
	})
	t.Run("too few consumers fails", func(t *testing.T) {
		msg, _, _ := check([]any{map[string]any{"name": q, "min_consumers": 1}})
		if want := fmt.Sprintf("unavailable: queue %s has 0 consumers (want at least 1)", q); msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
	})
	t.Run("missing queue fails and the next queue is still checked", func(t *testing.T) {
		msg, _, obs := check([]any{map[string]any{"name": "healthd-no-such-queue"}, map[string]any{"name": q, "max_messages": 1}})
		want := fmt.Sprintf("unavailable: queue healthd-no-such-queue does not exist; queue %s has 2 messages ready (more than 1)", q)
		if msg != want {
			t.Fatalf("message = %q, want %q", msg, want)
		}
		if len(obs) != 2 {
			t.Fatalf("observations = %v, want the second queue's", obs)
		}
	})
	t.Run("consumer present passes", func(t *testing.T) {
		if _, err := ch.Consume(q, "", false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		rabbitWaitQueue(t, ch, q, "1 consumer", func(s amqp.Queue) bool { return s.Consumers == 1 })
		msg, note, _ := check([]any{map[string]any{"name": q, "min_consumers": 1, "max_messages": 1}})
		if msg != "" {
			t.Fatalf("check failed: %s", msg)
		}
		if !strings.Contains(note, "queues "+q+" (1 consumers, 0 messages)") {
			t.Fatalf("note = %q", note)
		}
	})
}

func TestRabbitMQ_FaultsFailWithinTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
		want string
	}{
		{"refused", func(t *testing.T) string { return testsvc.RefusedAddr(t) }, "unavailable: connection refused (%s)"},
		{"hanging server", func(t *testing.T) string { return testsvc.HangingAddr(t) }, "unavailable: timed out after 400ms (%s)"},
		{"black-holed", func(t *testing.T) string { return testsvc.BlackholeAddr(t) }, "unavailable: timed out after 400ms (%s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			c := newTestCheck(t, "mq", "rabbitmq", map[string]any{"url": "amqp://guest:pw-s3cret@" + addr + "/"}, rabbitShortTimeout)
			msg, _, _, took := probe(c, rabbitShortTimeout)
			if want := fmt.Sprintf(tc.want, addr); msg != want {
				t.Fatalf("message = %q, want %q", msg, want)
			}
			testsvc.NotHung(t, "the check", took, rabbitShortTimeout)
		})
	}
}

func TestRabbitMQ_WrongPasswordIsNamedWithoutThePassword(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	url := "amqp://guest:wrong-s3cret@" + addr + "/"
	// RabbitMQ answers a wrong password by silence, and drops the socket
	// after 3 s: a short timeout sees the unanswered login, a long one the
	// refusal itself.
	for _, tc := range []struct {
		timeout time.Duration
		want    string
	}{
		{rabbitShortTimeout, "unavailable: no answer to the login within 400ms: username or password likely rejected (" + addr + ")"},
		{rabbitTestTimeout, "unavailable: access refused (username or password rejected) (" + addr + ")"},
	} {
		c := newTestCheck(t, "mq", "rabbitmq", map[string]any{"url": url}, tc.timeout)
		msg, _, _, took := probe(c, tc.timeout)
		// RabbitMQ usually stays silent for 3 s, but sometimes refuses at
		// once: the plain refusal is right for any timeout.
		refused := "unavailable: access refused (username or password rejected) (" + addr + ")"
		if msg != tc.want && msg != refused {
			t.Fatalf("timeout %v: message = %q, want %q", tc.timeout, msg, tc.want)
		}
		if strings.Contains(msg, "s3cret") {
			t.Fatalf("message %q shows the password", msg)
		}
		testsvc.NotHung(t, "the check", took, tc.timeout)
	}
}

func TestRabbitMQ_UnknownVhostIsNamed(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	c := newTestCheck(t, "mq", "rabbitmq", map[string]any{"url": "amqp://guest:guest@" + addr + "/healthd-no-such-vhost"}, rabbitTestTimeout)
	msg, _, _, _ := probe(c, rabbitTestTimeout)
	if !strings.HasPrefix(msg, "unavailable: vhost not allowed: ") || !strings.Contains(msg, "healthd-no-such-vhost") {
		t.Fatalf("message = %q", msg)
	}
}

func TestRabbitMQ_RecoversAfterTheConnectionDrops(t *testing.T) {
	proxy := testsvc.NewProxy(t, testsvc.RabbitMQ(t))
	c := newTestCheck(t, "mq", "rabbitmq", map[string]any{"url": rabbitURL(proxy.Addr())}, rabbitTestTimeout)
	r := c.(*RabbitMQ)
	if msg, _, _, _ := probe(c, rabbitTestTimeout); msg != "" {
		t.Fatalf("before the cut: %s", msg)
	}
	first := r.conn.current()

	proxy.Cut()
	msg, _, _, took := probe(c, rabbitTestTimeout)
	if want := "unavailable: connection refused (" + proxy.Addr() + ")"; msg != want {
		t.Fatalf("while cut: message = %q, want %q", msg, want)
	}
	testsvc.NotHung(t, "the refused check", took, 0)

	proxy.Restore()
	if msg, _, _, _ := probe(c, rabbitTestTimeout); msg != "" {
		t.Fatalf("after restore: %s", msg)
	}
	if r.conn.current() == first || !first.IsClosed() {
		t.Fatalf("the connection was not redialled")
	}
}

func TestRabbitMQ_HundredProbesUseOneConnectionAndCloseTheirChannels(t *testing.T) {
	addr := testsvc.RabbitMQ(t)
	name := fmt.Sprintf("leak-%d", time.Now().UnixNano())
	c := newTestCheck(t, name, "rabbitmq", map[string]any{
		"url": rabbitURL(addr), "queues": []any{map[string]any{"name": "healthd-no-such-queue"}},
	}, rabbitTestTimeout)
	probe(c, rabbitTestTimeout)
	before := testsvc.RabbitMQConnections(t, "healthd "+name)
	for i := 0; i < 100; i++ {
		if msg, _, _, _ := probe(c, rabbitTestTimeout); msg != "unavailable: queue healthd-no-such-queue does not exist" {
			t.Fatalf("probe %d: %s", i, msg)
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
