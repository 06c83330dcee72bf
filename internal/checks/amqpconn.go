package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// amqpConn is the one long-lived AMQP connection of a check (rabbitmq,
// celery). It dials lazily on the first probe and again on the first probe
// after the connection dropped (NotifyClose); it never dials in the
// background. Every phase of a dial (TCP, TLS, AMQP handshake, auth, vhost)
// is bounded by the probe's context, so a server that accepts and never
// answers cannot hold a probe past its deadline.
type amqpConn struct {
	url       string // with credentials: never put it in a message
	addr      string // host:port, for messages
	name      string // client property connection_name
	timeout   time.Duration
	heartbeat time.Duration

	dialSem chan struct{} // one dial at a time; acquiring it honours ctx

	mu       sync.Mutex
	conn     *amqp.Connection
	blocked  string // reason of connection.blocked, "" when not blocked
	closed   bool   // Close was called
	dialFunc func(network, addr string) (net.Conn, error)
}

// parseAMQPURL validates an amqp:// or amqps:// URL without touching the
// network and returns the host:port to name in messages.
// Celery's pyamqp:// (its default transport's name) is the same broker as
// amqp://, so a CELERY_BROKER_URL works as it is.
func parseAMQPURL(raw string) (addr string, err error) {
	raw = amqpURL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("must be an amqp:// or amqps:// URL")
	}
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return "", fmt.Errorf("must be an amqp:// or amqps:// URL, not %s://", u.Scheme)
	}
	uri, err := amqp.ParseURI(raw)
	if err != nil {
		// amqp.ParseURI's errors do not echo the URL.
		return "", fmt.Errorf("invalid AMQP URL: %v", err)
	}
	return net.JoinHostPort(uri.Host, fmt.Sprint(uri.Port)), nil
}

// amqpURL is raw with Celery's pyamqp:// scheme written as amqp://.
func amqpURL(raw string) string {
	if rest, ok := strings.CutPrefix(raw, "pyamqp://"); ok {
		return "amqp://" + rest
	}
	return raw
}

func newAMQPConn(rawURL, addr, checkName string, timeout time.Duration) *amqpConn {
	return &amqpConn{
		url:       amqpURL(rawURL),
		addr:      addr,
		name:      "healthd " + checkName,
		timeout:   timeout,
		heartbeat: 10 * time.Second,
		dialSem:   make(chan struct{}, 1),
	}
}

// get returns the live connection, dialling a new one when there is none.
func (m *amqpConn) get(ctx context.Context) (*amqp.Connection, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, Unavailable("check is closed")
	}
	if c := m.conn; c != nil && !c.IsClosed() {
		m.mu.Unlock()
		return c, nil
	}
	m.mu.Unlock()

	select {
	case m.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, m.ctxErr(ctx)
	}
	defer func() { <-m.dialSem }()

	// Another probe may have dialled while this one waited.
	m.mu.Lock()
	if c := m.conn; c != nil && !c.IsClosed() {
		m.mu.Unlock()
		return c, nil
	}
	m.conn, m.blocked = nil, ""
	m.mu.Unlock()

	c, err := m.dial(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		// Not the probe's ctx: this Close must end even when ctx has.
		c.CloseDeadline(time.Now().Add(time.Second))
		return nil, Unavailable("check is closed")
	}
	m.conn = c
	m.mu.Unlock()
	m.watch(c)
	return c, nil
}

// dial opens a connection bounded by ctx: the TCP dial uses ctx, the socket
// gets ctx's deadline for the TLS and AMQP handshakes (amqp091 clears it once
// the connection is open), and the caller selects on ctx besides, closing a
// connection that arrives after it gave up.
func (m *amqpConn) dial(ctx context.Context) (*amqp.Connection, error) {
	deadline, _ := ctx.Deadline()        // zero, no deadline, only when a caller gives none
	var hc atomic.Pointer[handshakeConn] // the socket, to tell a silent login from a hung server
	dialer := m.dialFunc
	if dialer == nil {
		dialer = func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Deadline: deadline, KeepAlive: 30 * time.Second}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if err := c.SetDeadline(deadline); err != nil {
				c.Close()
				return nil, err
			}
			h := &handshakeConn{Conn: c}
			hc.Store(h)
			return h, nil
		}
	}
	cfg := amqp.Config{
		Heartbeat:  m.heartbeat,
		Locale:     "en_US",
		Dial:       dialer,
		Properties: amqp.Table{"connection_name": m.name, "product": "healthd"},
	}
	type result struct {
		c   *amqp.Connection
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := amqp.DialConfig(m.url, cfg)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			// The socket deadline equals ctx's: either may fire first.
			if ctx.Err() != nil || isTimeout(r.err) || !deadline.IsZero() && !time.Now().Before(deadline) {
				return nil, m.timeoutErr(ctx, hc.Load())
			}
			return nil, m.describe(r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.c != nil {
				// ctx is done: only this bound keeps a hung broker from holding the goroutine.
				r.c.CloseDeadline(time.Now().Add(time.Second))
			}
		}()
		return nil, m.timeoutErr(ctx, hc.Load())
	}
}

func (m *amqpConn) timeoutErr(ctx context.Context, hc *handshakeConn) error {
	if hc != nil && !strings.HasPrefix(m.url, "amqps:") && hc.loginUnanswered() && !errors.Is(ctx.Err(), context.Canceled) {
		return m.loginTimeout()
	}
	return m.ctxErr(ctx)
}

// loginTimeout is the message for a broker that went silent after the login
// (connection.start-ok). RabbitMQ answers a wrong username or password that
// way: amqp091 does not advertise authentication_failure_close, so the
// broker waits 3 s and then drops the socket without a reason.
func (m *amqpConn) loginTimeout() error {
	return Unavailable("no answer to the login within %s: username or password likely rejected (%s)", m.timeout, m.addr)
}

// handshakeConn tells, on a plain amqp:// connection, whether the client's
// last write (the login, once the protocol header and start-ok were sent) is
// still unanswered.
type handshakeConn struct {
	net.Conn
	writes         atomic.Int32
	readSinceWrite atomic.Bool
}

func (c *handshakeConn) Write(b []byte) (int, error) {
	c.readSinceWrite.Store(false)
	c.writes.Add(1)
	return c.Conn.Write(b)
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.readSinceWrite.Store(true)
	}
	return n, err
}

func (c *handshakeConn) loginUnanswered() bool {
	return c.writes.Load() >= 2 && !c.readSinceWrite.Load()
}

// watch follows a connection's close and blocked notifications. A closed
// connection is forgotten, so the next probe redials.
func (m *amqpConn) watch(c *amqp.Connection) {
	closes := c.NotifyClose(make(chan *amqp.Error, 1))
	blocks := c.NotifyBlocked(make(chan amqp.Blocking, 4))
	go func() {
		for b := range blocks {
			m.mu.Lock()
			if m.conn == c {
				if b.Active {
					m.blocked = b.Reason
					if m.blocked == "" {
						m.blocked = "no reason given"
					}
				} else {
					m.blocked = ""
				}
			}
			m.mu.Unlock()
		}
	}()
	go func() {
		<-closes
		m.mu.Lock()
		if m.conn == c {
			m.conn, m.blocked = nil, ""
		}
		m.mu.Unlock()
	}()
}

// current returns the connection in use, or nil.
func (m *amqpConn) current() *amqp.Connection {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conn
}

// blockedReason returns the reason of a connection.blocked notification on
// the current connection, or "".
func (m *amqpConn) blockedReason() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blocked
}

// drop closes c (when it is still the current connection) without waiting
// for a hung server: used when a probe timed out on an open connection.
func (m *amqpConn) drop(c *amqp.Connection) {
	m.mu.Lock()
	if m.conn == c {
		m.conn, m.blocked = nil, ""
	}
	m.mu.Unlock()
	go c.CloseDeadline(time.Now().Add(100 * time.Millisecond))
}

// withChannel runs fn on a fresh channel of the shared connection, bounded
// by ctx. A connection found closed while opening the channel is redialled
// once. If ctx ends while fn runs, the connection is treated as hung and
// dropped, which also ends fn. The channel is closed afterwards.
func (m *amqpConn) withChannel(ctx context.Context, fn func(c *amqp.Connection, ch *amqp.Channel) error) error {
	var c *amqp.Connection
	var ch *amqp.Channel
	for attempt := 0; ; attempt++ {
		var err error
		if c, err = m.get(ctx); err != nil {
			return err
		}
		// A blocked connection stalls every call until the alarm clears:
		// report it at once, and keep the connection (the broker unblocks it).
		if err := m.blockedErr(); err != nil {
			return err
		}
		ch, err = m.openChannel(ctx, c)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return m.ctxErr(ctx)
		}
		m.drop(c)
		if attempt > 0 || !errors.Is(err, amqp.ErrClosed) && !c.IsClosed() {
			return m.describe(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		err := fn(c, ch)
		ch.Close()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if err := m.blockedErr(); err != nil {
			return err // fn ends when the broker unblocks the connection
		}
		m.drop(c)
		return m.ctxErr(ctx)
	}
}

func (m *amqpConn) blockedErr() error {
	if reason := m.blockedReason(); reason != "" {
		return Unavailable("connection blocked by the broker: %s (%s)", reason, m.addr)
	}
	return nil
}

func (m *amqpConn) openChannel(ctx context.Context, c *amqp.Connection) (*amqp.Channel, error) {
	type result struct {
		ch  *amqp.Channel
		err error
	}
	done := make(chan result, 1)
	go func() {
		ch, err := c.Channel()
		done <- result{ch, err}
	}()
	select {
	case r := <-done:
		return r.ch, r.err
	case <-ctx.Done():
		m.drop(c)
		go func() {
			if r := <-done; r.ch != nil {
				r.ch.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// close closes the connection; later probes fail.
func (m *amqpConn) close() error {
	m.mu.Lock()
	c := m.conn
	m.conn, m.closed = nil, true
	m.mu.Unlock()
	if c != nil && !c.IsClosed() {
		// close has no ctx: a hung broker must not stall a reload.
		if err := c.CloseDeadline(time.Now().Add(time.Second)); err != nil && !errors.Is(err, amqp.ErrClosed) {
			return err
		}
	}
	return nil
}

func (m *amqpConn) ctxErr(ctx context.Context) error {
	return timeoutFailure(ctx, ctx.Err(), m.timeout, m.addr)
}

// describe turns a dial or protocol error into a message that names
// host:port and never the URL or its password. Its callers word an ended
// ctx themselves (ctxErr), so describe words only the error.
func (m *amqpConn) describe(err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch {
		case ae == amqp.ErrCredentials || ae.Code == amqp.AccessRefused && strings.Contains(ae.Reason, "Login was refused"):
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("access refused (username or password rejected) (%s)", m.addr), Err: err}
		case ae.Code == amqp.AccessRefused && ae != amqp.ErrVhost:
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("access refused: %s (%s)", amqpReason(ae), m.addr), Err: err}
		case ae == amqp.ErrVhost || ae.Code == amqp.NotAllowed:
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("vhost not allowed: %s (%s)", amqpReason(ae), m.addr), Err: err}
		case ae.Code == amqp.FrameError:
			// amqp091 reports a failed socket read or write as a
			// FrameError carrying only the error's text.
			if reason, ok := frameErrorReason(ae.Reason); ok {
				if reason == reasonTimedOut {
					return timeoutFailure(context.Background(), err, m.timeout, m.addr)
				}
				return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", reason, m.addr), Err: err}
			}
		case ae == amqp.ErrClosed:
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", reasonClosed, m.addr), Err: err}
		}
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", amqpReason(ae), m.addr), Err: err}
	}
	if nf := netFailure(context.Background(), err, m.timeout, m.addr); nf != nil {
		return nf
	}
	if strings.Contains(err.Error(), "EOF") { // amqp091's handshake wraps a closed socket in text
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", reasonClosed, m.addr), Err: err}
	}
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%v (%s)", err, m.addr), Err: err}
}

// frameErrorReason maps the text of a socket error, as amqp091 passes it on,
// to the shared vocabulary.
func frameErrorReason(text string) (string, bool) {
	switch {
	case strings.HasSuffix(text, "i/o timeout"):
		return reasonTimedOut, true
	case strings.HasSuffix(text, "connection reset by peer"):
		return reasonReset, true
	case strings.HasSuffix(text, "EOF"), strings.HasSuffix(text, "broken pipe"), strings.HasSuffix(text, "use of closed network connection"):
		return reasonClosed, true
	}
	return "", false
}

// amqpReason shortens a broker's reply text: "NOT_FOUND - no queue 'x' in
// vhost '/'" becomes "no queue 'x' in vhost '/'".
func amqpReason(e *amqp.Error) string {
	r := e.Reason
	if i := strings.Index(r, " - "); i > 0 && strings.ToUpper(r[:i]) == r[:i] {
		r = r[i+3:]
	}
	if r == "" {
		r = fmt.Sprintf("amqp error %d", e.Code)
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// queueSpec is one entry of a `queues:` list, as a probe uses it.
type queueSpec struct {
	name         string
	minConsumers int
	maxMessages  int  // -1 when unset
	minSet       bool // min_consumers was given
}

// queueConfig is one entry of a `queues:` list as the rabbitmq check
// declares it; celeryQueue is the same with another default.
type queueConfig struct {
	Name         string `key:"name" required:"true" doc:"queue name"`
	MinConsumers *int   `key:"min_consumers" default:"0" doc:"fail when fewer consumers are attached"`
	MaxMessages  *int   `key:"max_messages" doc:"warn when more messages are ready (unacknowledged ones are not counted)"`
}

type celeryQueue struct {
	Name         string `key:"name" required:"true" doc:"queue name"`
	MinConsumers *int   `key:"min_consumers" default:"1" doc:"fail when fewer consumers are attached"`
	MaxMessages  *int   `key:"max_messages" doc:"warn when more messages are ready (unacknowledged ones are not counted)"`
}

// validateQueues checks the bounds of a `queues:` list.
func validateQueues(p *Problems, queues []queueConfig) {
	for i, q := range queues {
		if q.MinConsumers != nil && *q.MinConsumers < 0 {
			p.Add(fmt.Sprintf("queues[%d].min_consumers", i), "must not be negative")
		}
		if q.MaxMessages != nil && *q.MaxMessages < 0 {
			p.Add(fmt.Sprintf("queues[%d].max_messages", i), "must not be negative")
		}
	}
}

// queueSpecs turns a `queues:` list into what a probe uses.
func queueSpecs(queues []queueConfig, defMinConsumers int) []queueSpec {
	var out []queueSpec
	for _, q := range queues {
		s := queueSpec{name: q.Name, minConsumers: defMinConsumers, maxMessages: -1, minSet: q.MinConsumers != nil}
		if q.MinConsumers != nil {
			s.minConsumers = *q.MinConsumers
		}
		if q.MaxMessages != nil {
			s.maxMessages = *q.MaxMessages
		}
		out = append(out, s)
	}
	return out
}

// queueProblems collects what is wrong with queues, worst kind first.
type queueProblems struct {
	kind Kind
	msgs []string
	ok   []string
}

func (q *queueProblems) add(kind Kind, format string, args ...any) {
	if len(q.msgs) == 0 || kind < q.kind {
		q.kind = kind
	}
	q.msgs = append(q.msgs, fmt.Sprintf(format, args...))
}

func (q *queueProblems) err() error {
	if len(q.msgs) == 0 {
		return nil
	}
	return &Error{Kind: q.kind, Msg: strings.Join(q.msgs, "; ")}
}

// inspectQueues passive-declares each queue (which creates nothing) on
// channels of c, observes consumers and ready messages, and checks the
// bounds. A missing queue closes its channel, so the next queue gets a new one.
func inspectQueues(ctx context.Context, c *amqp.Connection, ch *amqp.Channel, queues []queueSpec) (*queueProblems, error) {
	res := &queueProblems{}
	for _, q := range queues {
		if ch == nil || ch.IsClosed() {
			var err error
			if ch, err = c.Channel(); err != nil {
				return nil, err
			}
			defer ch.Close()
		}
		st, err := ch.QueueDeclarePassive(q.name, false, false, false, false, nil)
		if err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) && ae.Code == amqp.NotFound {
				res.add(KindUnavailable, "queue %s does not exist", q.name)
				continue
			}
			if errors.As(err, &ae) && ae.Code == amqp.ResourceLocked {
				res.add(KindUnavailable, "queue %s is exclusive to another connection", q.name)
				continue
			}
			return nil, err
		}
		Observe(ctx, q.name+":consumers", float64(st.Consumers), "consumers")
		Observe(ctx, q.name+":messages", float64(st.Messages), "messages")
		bad := false
		if st.Consumers < q.minConsumers {
			res.add(KindUnavailable, "queue %s has %d consumers (want at least %d)", q.name, st.Consumers, q.minConsumers)
			bad = true
		}
		if q.maxMessages >= 0 && st.Messages > q.maxMessages {
			res.add(KindWarning, "queue %s has %d messages ready (more than %d)", q.name, st.Messages, q.maxMessages)
			bad = true
		}
		if !bad {
			res.ok = append(res.ok, fmt.Sprintf("%s (%d consumers, %d messages)", q.name, st.Consumers, st.Messages))
		}
	}
	return res, nil
}
