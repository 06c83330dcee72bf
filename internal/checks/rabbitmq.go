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

// defaultTimeout applies when a Spec carries no timeout (tests, tools).
const defaultTimeout = 5 * time.Second

func specTimeout(s Spec) time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return defaultTimeout
}

func newRabbitMQ(s Spec) (Checker, error) {
	p := s.Params
	raw := p.Required("url")
	var addr string
	if raw != "" {
		var err error
		if addr, err = parseAMQPURL(raw); err != nil {
			p.Errorf("url", "%v", err)
		}
	}
	queues := readQueues(p, 0)
	if err := p.Err(); err != nil {
		return nil, err
	}
	t := specTimeout(s)
	return &RabbitMQ{conn: newAMQPConn(raw, addr, s.Name, t), queues: queues, timeout: t}, nil
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
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
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
