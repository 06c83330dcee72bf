package checks

import (
	"context"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitMQ checks an AMQP 0-9-1 broker over one long-lived connection: each
// probe opens a channel, passive-declares the configured queues, and closes
// the channel. It never declares, creates or publishes anything.
type RabbitMQ struct {
	conn    *amqpConn
	queues  []queueSpec
	timeout time.Duration
}

type rabbitMQConfig struct {
	URL    string        `key:"url" required:"true" doc:"amqp://user:password@host:5672/vhost or amqps://… (TLS, system roots); an empty vhost is /; amqp091's URL options apply"`
	Queues []queueConfig `key:"queues" doc:"queues to inspect (passive declare: nothing is created)"`

	addr string // host:port of URL, set by Validate
}

func newRabbitMQConfig(Settings) Config { return &rabbitMQConfig{} }

func (c *rabbitMQConfig) Validate() error {
	var p Problems
	if c.URL != "" {
		var err error
		if c.addr, err = parseAMQPURL(c.URL); err != nil {
			p.Add("url", "%v", err)
		}
	}
	validateQueues(&p, c.Queues)
	return p.Err()
}

// Build makes the check's connection, which dials on the first probe.
func (c *rabbitMQConfig) Build(env Env) (Checker, error) {
	t := env.Timeout
	return &RabbitMQ{conn: newAMQPConn(c.URL, c.addr, env.Name, t), queues: queueSpecs(c.Queues, 0), timeout: t}, nil
}

// amqpSecrets returns the password amqp091 reads from a URL, for
// redaction; none when it rejects the URL.
func amqpSecrets(rawURL string) []string {
	if uri, err := amqp.ParseURI(rawURL); err == nil {
		return []string{uri.Password}
	}
	return nil
}

// Check implements Checker.
func (r *RabbitMQ) Check(ctx context.Context) error {
	var res *queueProblems
	var version string
	err := r.conn.withChannel(ctx, func(c *amqp.Connection, ch *amqp.Channel) error {
		version, _ = c.Properties["version"].(string)
		if len(r.queues) == 0 {
			return nil
		}
		var err error
		if res, err = inspectQueues(ctx, c, ch, r.queues); err != nil {
			return r.conn.describe(err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if reason := r.conn.blockedReason(); reason != "" {
		return Unavailable("connection blocked by the broker: %s (%s)", reason, r.conn.addr)
	}
	if res != nil {
		if err := res.err(); err != nil {
			return err
		}
	}
	note := "connected to " + r.conn.addr
	if version != "" {
		note += fmt.Sprintf(" (RabbitMQ %s)", version)
	}
	if res != nil && len(res.ok) > 0 {
		note += "; queues " + strings.Join(res.ok, ", ")
	}
	Note(ctx, "%s", note)
	return nil
}

// Close closes the connection.
func (r *RabbitMQ) Close() error { return r.conn.close() }
