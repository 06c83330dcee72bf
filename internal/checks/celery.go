package checks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// The celery check looks at Celery workers from the outside, over the
// broker, without Python (wire format: health-standards.md section 5). Build
// picks one of two checkers by the broker URL's scheme: CeleryAMQP, which
// can inspect queues (passive declare), broadcast the remote-control ping
// and wait for the workers' pongs, and send the built-in celery.accumulate
// task and wait for its rpc:// result; or CeleryRedis (celeryredis.go),
// which measures queue backlogs (LLEN) and broadcasts the same ping the way
// kombu's Redis transport carries it.

// celeryBroker is what both checkers share: the broker's host:port, the
// check's timeout and the queues to inspect.
type celeryBroker struct {
	addr    string
	timeout time.Duration
	queues  []queueSpec
}

// celeryPing is what a probe wants of the remote-control ping, the same on
// both brokers.
type celeryPing struct {
	minWorkers int      // 0 with no workers: no ping
	workers    []string // when set, ping these and want every one
}

// CeleryAMQP is the celery check on an amqp:// or amqps:// broker.
type CeleryAMQP struct {
	celeryBroker
	celeryPing
	conn *amqpConn

	roundTrip      bool
	roundTripQueue string
}

const (
	pidboxExchange      = "celery.pidbox"
	pidboxReplyExchange = "reply.celery.pidbox"
	directReplyTo       = "amq.rabbitmq.reply-to"
)

type celeryConfig struct {
	Broker         string        `key:"broker" required:"true" doc:"amqp://user:pass@host:5672/vhost, amqps://… or Celery's pyamqp://…; or redis://:pass@host:6379/0, rediss://… (ping and queue backlogs, no round trip)"`
	MinWorkers     *int          `key:"min_workers" default:"1" doc:"pass when at least this many workers answer the ping; 0 (with no workers) disables the ping"`
	Workers        []string      `key:"workers" doc:"node names (celery@host1) to ping, every one of which must answer; not with min_workers"`
	Queues         []celeryQueue `key:"queues" doc:"queues to inspect, as in the rabbitmq check, but min_consumers defaults to 1"`
	RoundTrip      *bool         `key:"round_trip" default:"false" doc:"also send the celery.accumulate task and wait for its result"`
	RoundTripQueue *string       `key:"round_trip_queue" default:"celery" doc:"the queue (routing key on the default exchange) the round-trip task is sent to: one your workers consume"`

	// Set by Validate: the broker URL's scheme, and the AMQP broker's
	// host:port or the Redis broker's options.
	scheme    string
	amqpAddr  string
	redisOpts *redis.Options
}

func newCeleryConfig(Settings) Config { return &celeryConfig{} }

func (c *celeryConfig) queues() []queueConfig {
	out := make([]queueConfig, len(c.Queues))
	for i, q := range c.Queues {
		out[i] = queueConfig(q)
	}
	return out
}

func (c *celeryConfig) Validate() error {
	var p Problems
	c.scheme, c.amqpAddr, c.redisOpts = "", "", nil
	if c.Broker != "" {
		if u, err := url.Parse(c.Broker); err == nil {
			c.scheme = u.Scheme
		}
		switch c.scheme {
		case "amqp", "amqps", "pyamqp":
			addr, err := parseAMQPURL(c.Broker)
			if err != nil {
				p.Add("broker", "%v", err)
			}
			c.amqpAddr = addr
		case "redis", "rediss":
			opt, err := redis.ParseURL(c.Broker)
			if err != nil {
				p.Add("broker", "must be a valid redis:// URL")
				break
			}
			c.redisOpts = opt
		default:
			p.Add("broker", "must be an amqp://, amqps://, redis:// or rediss:// URL")
		}
	}
	validateQueues(&p, c.queues())
	if c.MinWorkers != nil && *c.MinWorkers < 0 {
		p.Add("min_workers", "must not be negative")
	}
	if c.MinWorkers != nil && len(c.Workers) > 0 {
		p.Add("workers", "every listed worker must answer: leave out min_workers")
	}
	if c.RoundTripQueue != nil && *c.RoundTripQueue == "" {
		p.Add("round_trip_queue", "must not be empty")
	}
	if c.redisOpts != nil {
		const why = "is not supported with a redis:// broker (only the ping and queue backlogs are)"
		if c.RoundTrip != nil {
			p.Add("round_trip", "%s", why)
		}
		if c.RoundTripQueue != nil {
			p.Add("round_trip_queue", "%s", why)
		}
		for i, q := range c.Queues {
			if q.MinConsumers != nil {
				p.Add(fmt.Sprintf("queues[%d].min_consumers", i), "%s", why)
			}
		}
	}
	return p.Err()
}

// ping is what the probes want of the ping: min_workers (1 by default), or
// every listed worker.
func (c *celeryConfig) ping() celeryPing {
	p := celeryPing{minWorkers: 1, workers: c.Workers}
	if c.MinWorkers != nil {
		p.minWorkers = *c.MinWorkers
	}
	if len(c.Workers) > 0 {
		p.minWorkers = len(c.Workers)
	}
	return p
}

// Build makes the checker for the broker's scheme, and its broker client,
// which connects on the first probe.
func (c *celeryConfig) Build(env Env) (Checker, error) {
	b := celeryBroker{timeout: env.Timeout, queues: queueSpecs(c.queues(), 1)}
	if c.scheme == "redis" || c.scheme == "rediss" {
		opt := *c.redisOpts // Build may be called again on the same config
		redisForProbes(&opt, b.timeout)
		b.addr = opt.Addr
		client, release, err := Share(env.Clients, "celery-redis", []string{c.Broker, b.timeout.String()}, func() (*redisClient, error) {
			return newRedisClient(&opt), nil
		})
		if err != nil {
			return nil, err
		}
		return &CeleryRedis{celeryBroker: b, celeryPing: c.ping(), db: opt.DB, client: client, release: release}, nil
	}
	b.addr = c.amqpAddr
	ce := &CeleryAMQP{
		celeryBroker:   b,
		celeryPing:     c.ping(),
		conn:           newAMQPConn(c.Broker, c.amqpAddr, env.Name, b.timeout),
		roundTripQueue: "celery",
	}
	if c.RoundTrip != nil {
		ce.roundTrip = *c.RoundTrip
	}
	if c.RoundTripQueue != nil {
		ce.roundTripQueue = *c.RoundTripQueue
	}
	return ce, nil
}

// Close releases the broker connection.
func (c *CeleryAMQP) Close() error { return c.conn.close() }

// Check implements Checker.
func (c *CeleryAMQP) Check(ctx context.Context) error {
	// The ping and the round trip give up a tenth of the timeout before the
	// deadline, so the probe can say what was missing instead of just "timed
	// out": closing the channel afterwards is a round trip to the broker,
	// which takes far more than a fixed 50 ms on a busy machine.
	deadline, _ := ctx.Deadline()
	until := deadline.Add(-c.timeout / 10)

	var problems queueProblems
	var notes []string
	// step records a ping's or a round trip's outcome: a note, or its
	// failure among the problems (then ok is false: no time is left for the
	// next step). An error that is not the check's own is the connection's.
	step := func(note string, err error) (ok bool, connErr error) {
		var e *Error
		switch {
		case err == nil:
			notes = append(notes, note)
			return true, nil
		case errors.As(err, &e):
			problems.add(e.Kind, "%s", e.Msg)
			return false, nil
		}
		return false, c.conn.describe(err)
	}
	err := c.conn.withChannel(ctx, func(conn *amqp.Connection, ch *amqp.Channel) error {
		if len(c.queues) > 0 {
			res, err := inspectQueues(ctx, conn, nil, c.queues)
			if err != nil {
				return c.conn.describe(err)
			}
			problems.kind, problems.msgs = res.kind, res.msgs
			if len(res.ok) > 0 {
				notes = append(notes, "queues "+strings.Join(res.ok, ", "))
			}
		}
		if c.minWorkers > 0 {
			if ok, err := step(c.ping(ctx, ch, until)); !ok {
				return err
			}
		}
		if c.roundTrip {
			rt, err := conn.Channel()
			if err != nil {
				return c.conn.describe(err)
			}
			defer rt.Close()
			_, err = step(c.roundTripTask(ctx, rt, until))
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if reason := c.conn.blockedReason(); reason != "" {
		problems.add(KindUnavailable, "connection blocked by the broker: %s (%s)", reason, c.addr)
	}
	if err := problems.err(); err != nil {
		return err
	}
	if len(notes) == 0 {
		notes = append(notes, "connected to "+c.addr)
	}
	Note(ctx, "%s", strings.Join(notes, "; "))
	return nil
}

// ping broadcasts the remote-control ping (to the listed workers only, when
// set) and collects pongs carrying its ticket on an exclusive, auto-delete
// reply queue. It returns as soon as enough workers answered.
func (c *CeleryAMQP) ping(ctx context.Context, ch *amqp.Channel, until time.Time) (string, error) {
	start := time.Now()
	// A worker declares celery.pidbox when it starts; if it is missing, no
	// worker ever ran on this vhost. Passive, so nothing is created.
	if err := ch.ExchangeDeclarePassive(pidboxExchange, "fanout", false, false, false, false, nil); err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			Observe(ctx, "workers", 0, "workers")
			return "", Unavailable("no worker replied (exchange %s does not exist: no worker has run on this vhost)", pidboxExchange)
		}
		return "", err
	}
	// The reply exchange, exactly as kombu and the workers declare it.
	if err := ch.ExchangeDeclare(pidboxReplyExchange, "direct", false, false, false, false, nil); err != nil {
		return "", err
	}
	oid, ticket := newUUID(), newUUID()
	q, err := ch.QueueDeclare(oid+"."+pidboxReplyExchange, false, true, true, false,
		amqp.Table{"x-expires": int32(10000), "x-message-ttl": int32(300000)})
	if err != nil {
		return "", err
	}
	defer ch.QueueDelete(q.Name, false, false, true)
	if err := ch.QueueBind(q.Name, oid, pidboxReplyExchange, false, nil); err != nil {
		return "", err
	}
	msgs, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		return "", err
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	body := pingRequest(c.workers, ticket, oid)
	err = ch.PublishWithContext(ctx, pidboxExchange, "", true, false, amqp.Publishing{
		ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Transient,
		Headers: amqp.Table{"clock": int64(1), "expires": float64(until.UnixNano()) / 1e9},
		Body:    body,
	})
	if err != nil {
		return "", err
	}
	var replied []string
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
wait:
	for len(replied) < c.minWorkers {
		select {
		case m, ok := <-msgs:
			if !ok {
				return "", amqp.ErrClosed
			}
			if t, _ := m.Headers["ticket"].(string); t != ticket {
				continue
			}
			replied = pongs(m.Body, replied)
		case _, ok := <-returns:
			if ok { // unroutable: no worker's pidbox queue is bound
				break wait
			}
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	Observe(ctx, "workers", float64(len(replied)), "workers")
	Observe(ctx, "ping", time.Since(start).Seconds(), "s")
	return c.result(replied)
}

// pongs adds to replied the nodes that answered "pong" in a reply body,
// {"<node>": {"ok": "pong"}}; a body it cannot read adds none.
func pongs(body []byte, replied []string) []string {
	var r map[string]map[string]any
	if json.Unmarshal(body, &r) != nil {
		return replied
	}
	for node, reply := range r {
		if reply["ok"] == "pong" && !slices.Contains(replied, node) {
			replied = append(replied, node)
		}
	}
	return replied
}

// result words the ping's outcome from the workers that replied: the note
// when enough did, else the failure.
func (c celeryPing) result(replied []string) (string, error) {
	slices.Sort(replied)
	names := strings.Join(replied, ", ")
	if len(c.workers) > 0 {
		var missing []string
		for _, w := range c.workers {
			if !slices.Contains(replied, w) {
				missing = append(missing, w)
			}
		}
		switch {
		case len(replied) == 0:
			return "", Unavailable("no worker replied: no reply from %s", strings.Join(missing, ", "))
		case len(missing) > 0:
			return "", Unavailable("no reply from %s (%d of %d workers replied: %s)", strings.Join(missing, ", "), len(replied), len(c.workers), names)
		}
		return fmt.Sprintf("%d of %d workers replied: %s", len(replied), len(c.workers), names), nil
	}
	switch {
	case len(replied) == 0:
		return "", Unavailable("no worker replied")
	case len(replied) < c.minWorkers:
		return "", Unavailable("%s replied (want at least %d): %s", workersWord(len(replied)), c.minWorkers, names)
	}
	return fmt.Sprintf("%s replied: %s", workersWord(len(replied)), names), nil
}

func workersWord(n int) string {
	if n == 1 {
		return "1 worker"
	}
	return fmt.Sprintf("%d workers", n)
}

// roundTripTask sends celery.accumulate("pong", index=0) in task protocol v2
// to the round-trip queue and waits for its rpc:// result through RabbitMQ's
// direct reply-to. The message expires (AMQP expiration and Celery's expires
// header) when the probe gives up, so probes never pile up while workers are
// down.
func (c *CeleryAMQP) roundTripTask(ctx context.Context, ch *amqp.Channel, until time.Time) (string, error) {
	start := time.Now()
	msgs, err := ch.Consume(directReplyTo, "", true, false, false, false, nil)
	if err != nil {
		return "", err
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	id := newUUID()
	host, _ := os.Hostname()
	ttl := max(time.Until(until), time.Millisecond)
	headers := amqp.Table{
		"lang": "py", "task": "celery.accumulate", "id": id, "shadow": nil, "eta": nil,
		"expires": until.UTC().Format("2006-01-02T15:04:05.000000-07:00"),
		"group":   nil, "group_index": nil, "retries": int32(0), "timelimit": []any{nil, nil},
		"root_id": id, "parent_id": nil, "argsrepr": "('pong',)", "kwargsrepr": "{'index': 0}",
		"origin": fmt.Sprintf("healthd%d@%s", os.Getpid(), host), "ignore_result": false,
	}
	err = ch.PublishWithContext(ctx, "", c.roundTripQueue, true, false, amqp.Publishing{
		ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Transient,
		CorrelationId: id, ReplyTo: directReplyTo, Expiration: strconv.FormatInt(ttl.Milliseconds()+1, 10),
		Headers: headers,
		Body:    []byte(`[["pong"], {"index": 0}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]`),
	})
	if err != nil {
		return "", err
	}
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return "", amqp.ErrClosed
			}
			if m.CorrelationId != id {
				continue
			}
			var r struct {
				Status string          `json:"status"`
				Result json.RawMessage `json:"result"`
			}
			if err := json.Unmarshal(m.Body, &r); err != nil {
				return "", Unexpected("round-trip task: unreadable result (%s)", m.ContentType)
			}
			switch r.Status {
			case "SUCCESS":
				took := time.Since(start)
				Observe(ctx, "round_trip", took.Seconds(), "s")
				if string(r.Result) != `"pong"` {
					return "", Unexpected("round-trip task returned %.40s, want \"pong\"", r.Result)
				}
				return fmt.Sprintf("round trip on %s in %s", c.roundTripQueue, took.Round(time.Millisecond)), nil
			case "FAILURE", "REVOKED":
				var exc struct {
					Type string `json:"exc_type"`
				}
				json.Unmarshal(r.Result, &exc)
				if exc.Type != "" {
					return "", Unexpected("round-trip task %s: %s", strings.ToLower(r.Status), exc.Type)
				}
				return "", Unexpected("round-trip task %s", strings.ToLower(r.Status))
			}
			// STARTED, RETRY: wait for a ready state.
		case _, ok := <-returns:
			if ok {
				return "", Unavailable("round-trip task unroutable: queue %s does not exist", c.roundTripQueue)
			}
		case <-timer.C:
			return "", Unavailable("no reply to the round-trip task on queue %s within %s", c.roundTripQueue, c.timeout)
		case <-ctx.Done():
			return "", Unavailable("no reply to the round-trip task on queue %s within %s", c.roundTripQueue, c.timeout)
		}
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// pingRequest is the body of Celery's control ping (kombu's Mailbox
// message), the same on every broker: the listed workers or all of them
// answer to the reply exchange with oid as the routing key.
func pingRequest(workers []string, ticket, oid string) []byte {
	var destination any
	if len(workers) > 0 {
		destination = workers
	}
	body, _ := json.Marshal(map[string]any{
		"method": "ping", "arguments": map[string]any{}, "destination": destination,
		"pattern": nil, "matcher": nil, "ticket": ticket,
		"reply_to": map[string]string{"exchange": pidboxReplyExchange, "routing_key": oid},
	})
	return body
}
