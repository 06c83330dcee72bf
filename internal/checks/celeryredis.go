package checks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// CeleryRedis is the celery check on a redis:// or rediss:// broker: queue
// backlogs and the remote-control ping, as kombu's Redis transport
// (kombu/transport/redis.py) carries them.
type CeleryRedis struct {
	celeryBroker
	celeryPing
	db      int          // the broker URL's database: kombu prefixes fanout channels with it
	client  *redisClient // shared by the checks on the same broker URL and timeout
	release func() error
}

// kombu's Redis transport keeps an exchange's bindings in the set
// _kombu.binding.<exchange>, each member routing key, pattern and queue
// joined by kombuSep; a queue's messages at priority 3, 6 and 9 are in the
// lists <queue><sep>3… beside the queue's own.
const (
	kombuBindingPrefix = "_kombu.binding."
	kombuSep           = "\x06\x16"
)

// Close releases the broker's client, which closes when no other check
// holds it.
func (c *CeleryRedis) Close() error { return c.release() }

// Check measures the backlog of each queue on the Redis broker (kombu keeps
// a queue as a list named after it) and pings the workers; with neither, it
// pings Redis.
func (c *CeleryRedis) Check(ctx context.Context) error {
	client, done := c.client.acquire()
	defer done()
	if len(c.queues) == 0 && c.minWorkers == 0 {
		if err := client.Ping(ctx).Err(); err != nil {
			return c.describe(ctx, err)
		}
		Note(ctx, "connected to %s", c.addr)
		return nil
	}
	var problems queueProblems
	var notes []string
	if len(c.queues) > 0 {
		var ok []string
		for _, q := range c.queues {
			n, err := client.LLen(ctx, q.name).Result()
			if err != nil {
				return c.describe(ctx, err)
			}
			Observe(ctx, q.name+":messages", float64(n), "messages")
			if q.maxMessages >= 0 && n > int64(q.maxMessages) {
				problems.add(KindWarning, "queue %s has %d messages ready (more than %d)", q.name, n, q.maxMessages)
				continue
			}
			ok = append(ok, fmt.Sprintf("%s (%d messages)", q.name, n))
		}
		if len(ok) > 0 {
			notes = append(notes, "queues "+strings.Join(ok, ", "))
		}
	}
	if c.minWorkers > 0 {
		// As on AMQP, the ping gives up a tenth of the timeout before the
		// deadline, which leaves time to clean up and say who was missing.
		deadline, _ := ctx.Deadline()
		note, err := c.ping(ctx, client, deadline.Add(-c.timeout/10))
		var e *Error
		switch {
		case err == nil:
			notes = append(notes, note)
		case errors.As(err, &e):
			problems.add(e.Kind, "%s", e.Msg)
		default:
			return c.describe(ctx, err)
		}
	}
	if err := problems.err(); err != nil {
		return err
	}
	Note(ctx, "%s", strings.Join(notes, "; "))
	return nil
}

// ping broadcasts the remote-control ping as kombu's Redis transport does
// and collects the pongs that carry its ticket:
//   - the request is PUBLISHed on the fanout channel /<db>.celery.pidbox
//     (Celery's default fanout_prefix and fanout_patterns), in kombu's JSON
//     envelope with a base64 body; each worker PSUBSCRIBEs to it;
//   - a worker replies through the direct exchange reply.celery.pidbox: it
//     looks the routing key up in _kombu.binding.reply.celery.pidbox and
//     LPUSHes the reply to the bound list, which the probe BRPOPs.
//
// PUBLISH counts its receivers, so with no worker subscribed the probe fails
// at once. The binding and the reply list are removed before it returns; a
// reply that comes later finds no binding and is dropped by the worker
// (kombu's Redis transport has no dead-letter queue by default).
func (c *CeleryRedis) ping(ctx context.Context, client *redis.Client, until time.Time) (string, error) {
	start := time.Now()
	oid, ticket := newUUID(), newUUID()
	replyQueue := oid + "." + pidboxReplyExchange
	bindings := kombuBindingPrefix + pidboxReplyExchange
	binding := oid + kombuSep + kombuSep + replyQueue // a direct binding has no pattern
	body := pingRequest(c.workers, ticket, oid)
	request, _ := json.Marshal(kombuEnvelope(body, pidboxExchange, "",
		map[string]any{"clock": 1, "expires": float64(until.UnixNano()) / 1e9}))

	var published *redis.IntCmd
	_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, bindings, binding) // before the request, so no reply is dropped
		published = p.Publish(ctx, "/"+strconv.Itoa(c.db)+"."+pidboxExchange, request)
		return nil
	})
	// The cleanup, as kombu's after_reply_message_received, runs within the
	// tenth of the timeout the ping leaves. A Redis slower than that leaves
	// the probe at its deadline with the binding still there, and every
	// worker would go on answering into a list no one reads: the probe
	// returns on time and the cleanup goes on in the background, bounded
	// by the check's timeout as a probe is.
	defer func() {
		cleanup := func(ctx context.Context) {
			client.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.SRem(ctx, bindings, binding)
				p.Del(ctx, replyQueue, replyQueue+kombuSep+"3", replyQueue+kombuSep+"6", replyQueue+kombuSep+"9")
				return nil
			})
		}
		if ctx.Err() == nil {
			cleanup(ctx)
			return
		}
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
			defer cancel()
			cleanup(cctx)
		}()
	}()
	if err != nil {
		return "", err
	}
	var replied []string
	for receivers := published.Val(); receivers > 0 && len(replied) < c.minWorkers; {
		wait := time.Until(until).Milliseconds()
		if wait < 1 {
			break // "0" would block for ever
		}
		// BRPOP's timeout in seconds with a fraction (Redis 6 or later);
		// go-redis's BRPop rounds it to whole seconds.
		item, err := client.Do(ctx, "BRPOP", replyQueue, strconv.FormatFloat(float64(wait)/1000, 'f', 3, 64)).StringSlice()
		if errors.Is(err, redis.Nil) {
			break
		}
		if err != nil {
			return "", err
		}
		if b, ok := kombuReply(item[1], ticket); ok {
			replied = pongs(b, replied)
		}
	}
	Observe(ctx, "workers", float64(len(replied)), "workers")
	Observe(ctx, "ping", time.Since(start).Seconds(), "s")
	return c.result(replied)
}

// kombuEnvelope is a message as kombu's virtual transports store it: the
// body base64-encoded, the delivery info and a delivery tag in properties.
func kombuEnvelope(body []byte, exchange, routingKey string, headers map[string]any) map[string]any {
	return map[string]any{
		"body":             base64.StdEncoding.EncodeToString(body),
		"content-encoding": "utf-8",
		"content-type":     "application/json",
		"headers":          headers,
		"properties": map[string]any{
			"delivery_mode": 1, "priority": 0, "body_encoding": "base64", "delivery_tag": newUUID(),
			"delivery_info": map[string]string{"exchange": exchange, "routing_key": routingKey},
		},
	}
}

// kombuReply returns the body of a reply envelope that carries ticket.
func kombuReply(raw, ticket string) ([]byte, bool) {
	var m struct {
		Body       string         `json:"body"`
		Headers    map[string]any `json:"headers"`
		Properties struct {
			BodyEncoding string `json:"body_encoding"`
		} `json:"properties"`
	}
	if json.Unmarshal([]byte(raw), &m) != nil || m.Headers["ticket"] != ticket {
		return nil, false
	}
	if m.Properties.BodyEncoding != "base64" {
		return []byte(m.Body), true
	}
	b, err := base64.StdEncoding.DecodeString(m.Body)
	return b, err == nil
}

// describe words a Redis broker's error: its login refusal, or a network
// failure in the shared vocabulary.
func (c *CeleryRedis) describe(ctx context.Context, err error) error {
	msg := err.Error()
	if ctx.Err() == nil && (strings.HasPrefix(msg, "WRONGPASS") || strings.HasPrefix(msg, "NOAUTH") ||
		strings.Contains(msg, "invalid password") || strings.Contains(msg, "invalid username-password")) {
		return Unavailable("access refused (username or password rejected) (%s)", c.addr)
	}
	if nf := netFailure(ctx, err, c.timeout, c.addr); nf != nil {
		return nf
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return Unavailable("%s failed (%s)", ne.Op, c.addr)
	}
	return Unavailable("%s (%s)", msg, c.addr)
}
