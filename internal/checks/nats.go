package checks

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS checks a NATS server over one long-lived connection: each probe
// flushes (a PING answered by a PONG) and, optionally, reads a JetStream
// stream's info.
//
// nats.go's own reconnection is off. It retries in the background with a
// wait between attempts, so a probe right after the server is back would
// still find the connection down, and a probe while it is down could only
// repeat the last background error. Instead a lost connection is closed,
// and the next probe dials anew, bounded by its own deadline: it fails with
// the fault it met ("connection refused (…)") and passes as soon as the
// server answers again.
type NATS struct {
	opts    nats.Options // a template: each connection gets a copy
	addr    string       // host:port of the URL, for messages
	stream  string
	minCons int
	timeout time.Duration
	secrets []string

	sem    chan struct{} // one probe at a time owns conn
	mu     sync.Mutex
	conn   *nats.Conn
	closed bool
}

type natsJetStream struct {
	Stream       string `key:"stream" required:"true" doc:"stream that must exist"`
	MinConsumers int    `key:"min_consumers" doc:"fail when the stream has fewer consumers"`
}

type natsConfig struct {
	URL          string         `key:"url" required:"true" doc:"nats://[user:password@]host[:4222], or tls://… for TLS"`
	Username     string         `key:"username" doc:"user name (instead of the URL's)"`
	Password     string         `key:"password" secret:"true" doc:"password (instead of the URL's)"`
	Token        string         `key:"token" secret:"true" doc:"authentication token"`
	NkeySeedFile string         `key:"nkey_seed_file" doc:"file holding the user's nkey seed (SU…), to sign the server's nonce"`
	TLS          *brokerTLS     `key:"tls" doc:"TLS options (TLS is on with tls:// or with this section)"`
	JetStream    *natsJetStream `key:"jetstream" doc:"also check a JetStream stream"`

	addr string // set by Validate
}

func newNATSConfig(Settings) Config { return &natsConfig{} }

func (c *natsConfig) Validate() error {
	var p Problems
	c.addr = ""
	if c.URL != "" {
		addr, msg := parseBrokerURL(c.URL, map[string]string{"nats": "4222", "tls": "4222"})
		if msg != "" {
			p.Add("url", "%s", msg)
		}
		c.addr = addr
	}
	if c.Token != "" && (c.Username != "" || c.Password != "") {
		p.Add("token", "cannot be used with username and password")
	}
	if c.Password != "" && c.Username == "" {
		p.Add("password", "needs a username")
	}
	if j := c.JetStream; j != nil {
		if j.Stream != "" && strings.ContainsAny(j.Stream, " .*>\t") {
			p.Add("jetstream.stream", "must not contain spaces, '.', '*' or '>'")
		}
		if j.MinConsumers < 0 {
			p.Add("jetstream.min_consumers", "must not be negative")
		}
	}
	return p.Err()
}

// parseBrokerURL returns the host:port of a broker URL whose scheme is a
// key of ports (its default port), or what is wrong with it. The message
// never quotes the URL.
func parseBrokerURL(raw string, ports map[string]string) (string, string) {
	schemes := make([]string, 0, len(ports))
	for s := range ports {
		schemes = append(schemes, s+"://")
	}
	slices.Sort(schemes)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "must be a URL such as " + schemes[0] + "host:port"
	}
	port, ok := ports[u.Scheme]
	if !ok {
		return "", "must start with " + strings.Join(schemes, ", ")
	}
	if u.Hostname() == "" {
		return "", "must name a host"
	}
	if u.Port() != "" {
		port = u.Port()
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	if msg := checkHostPort(addr); msg != "" {
		return "", "must end with a port number from 1 to 65535"
	}
	return addr, ""
}

// Build makes the check; it connects on the first probe.
func (c *natsConfig) Build(env Env) (Checker, error) {
	o := nats.GetDefaultOptions()
	o.Url = c.URL
	o.Name = "healthd " + env.Name
	o.AllowReconnect = false
	o.RetryOnFailedConnect = false
	o.NoRandomize = true
	o.PingInterval = time.Hour // the probes are the pings
	o.User, o.Password, o.Token = c.Username, c.Password, c.Token
	secrets := SecretsIn("url", c.URL)
	secrets = append(secrets, c.Password, c.Token)
	if c.NkeySeedFile != "" {
		opt, err := nats.NkeyOptionFromSeed(c.NkeySeedFile)
		if err != nil {
			return nil, &KeyError{Key: "nkey_seed_file", Msg: "cannot read an nkey seed from the file"}
		}
		if err := opt(&o); err != nil {
			return nil, &KeyError{Key: "nkey_seed_file", Msg: "cannot use the nkey seed"}
		}
	}
	if c.TLS != nil || strings.HasPrefix(c.URL, "tls://") {
		cfg, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		o.Secure, o.TLSConfig = true, cfg
	}
	n := &NATS{opts: o, addr: c.addr, timeout: env.Timeout, secrets: secrets, sem: make(chan struct{}, 1)}
	if c.JetStream != nil {
		n.stream, n.minCons = c.JetStream.Stream, c.JetStream.MinConsumers
	}
	return n, nil
}

// natsDialer dials with the probe's context, so a black-holed server costs
// the probe its deadline and no more. It keeps the dial's error: nats.go
// reports a failed dial as "no servers available", which says nothing of
// why.
type natsDialer struct {
	ctx context.Context
	err error
}

func (d *natsDialer) Dial(network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(d.ctx, network, address)
	d.err = err
	return c, err
}

// connect returns the open connection, or dials a new one within ctx.
func (n *NATS) connect(ctx context.Context) (*nats.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, Unavailable("client is closed")
	}
	if n.conn != nil && n.conn.IsConnected() {
		return n.conn, nil
	}
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
	o := n.opts
	dialer := &natsDialer{ctx: ctx}
	o.CustomDialer = dialer
	o.Timeout = n.timeout // the handshake's deadline
	if dl, ok := ctx.Deadline(); ok {
		o.Timeout = time.Until(dl)
		if o.Timeout <= 0 {
			return nil, timeoutFailure(ctx, ctx.Err(), n.timeout, n.addr)
		}
	}
	conn, err := o.Connect()
	if errors.Is(err, nats.ErrNoServers) && dialer.err != nil {
		err = dialer.err
	}
	if err != nil {
		return nil, n.fail(ctx, err)
	}
	n.conn = conn
	return conn, nil
}

// drop closes conn after a failed probe, so the next dials anew rather
// than trust a connection that may still owe a late PONG.
func (n *NATS) drop(conn *nats.Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == conn {
		n.conn = nil
	}
	conn.Close()
}

// Close closes the connection.
func (n *NATS) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
	return nil
}

// Check runs one probe.
func (n *NATS) Check(ctx context.Context) error {
	select {
	case n.sem <- struct{}{}:
		defer func() { <-n.sem }()
	case <-ctx.Done():
		return timeoutFailure(ctx, ctx.Err(), n.timeout, n.addr)
	}
	// A kept connection the server closed is dropped and dialled again.
	return againIfClosed(ctx, func() error { return n.probe(ctx) })
}

func (n *NATS) probe(ctx context.Context) error {
	conn, err := n.connect(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := conn.FlushWithContext(ctx); err != nil {
		n.drop(conn)
		return n.fail(ctx, err)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	Observe(ctx, "roundTripTime", ms, "ms")
	if n.stream == "" {
		Note(ctx, "PING answered in %.1f ms (%s, nats-server %s)", ms, n.addr, conn.ConnectedServerVersion())
		return nil
	}
	js, err := jetstream.New(conn)
	if err != nil {
		return n.fail(ctx, err)
	}
	s, err := js.Stream(ctx, n.stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return Unexpected("stream %s does not exist (%s)", n.stream, n.addr)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return Unexpected("JetStream is not enabled (%s)", n.addr)
	case err != nil:
		if ctx.Err() != nil || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			n.drop(conn)
		}
		return n.fail(ctx, err)
	}
	consumers := s.CachedInfo().State.Consumers
	Observe(ctx, "consumers", float64(consumers), "consumers")
	if consumers < n.minCons {
		return Unexpected("stream %s has %d consumers, want at least %d (%s)", n.stream, consumers, n.minCons, n.addr)
	}
	Note(ctx, "PING answered in %.1f ms; stream %s has %d consumers (%s)", ms, n.stream, consumers, n.addr)
	return nil
}

// fail words a failed connect, flush or request.
func (n *NATS) fail(ctx context.Context, err error) error {
	wrap := func(msg string) error { return &Error{Kind: KindUnavailable, Msg: msg + " (" + n.addr + ")", Err: err} }
	switch {
	case ctx.Err() != nil, errors.Is(err, nats.ErrTimeout):
		return timeoutFailure(ctx, err, n.timeout, n.addr)
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return wrap("authorization failed: wrong user, password, token or nkey")
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrStaleConnection), errors.Is(err, nats.ErrConnectionDraining):
		return wrap(reasonClosed)
	case errors.Is(err, nats.ErrSecureConnRequired):
		return wrap("the server requires TLS: use tls:// or a tls section")
	case errors.Is(err, nats.ErrSecureConnWanted):
		return wrap("the server does not offer TLS")
	}
	if nf := netFailure(ctx, err, n.timeout, n.addr); nf != nil {
		return nf
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return otherFailure(err, n.addr)
	}
	return wrap(strings.TrimPrefix(Redact(err.Error(), n.secrets), "nats: "))
}
