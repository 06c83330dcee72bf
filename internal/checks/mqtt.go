package checks

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// MQTT checks an MQTT broker (protocol 3.1.1, paho.mqtt.golang): each probe
// connects and waits for the CONNACK and, optionally, subscribes to a topic,
// publishes a unique message there with QoS 1 and waits for it to come
// back; then it disconnects.
//
// A connection per probe, not a kept one: a CONNACK is the only answer an
// MQTT 3.1.1 broker gives a client that publishes nothing (paho sends its
// PINGREQs on its own schedule and exposes none), and a kept connection
// looks open to paho until its keepalive fails, long after a probe's
// deadline, so a hung broker would pass. A connect costs one TCP handshake
// and two small packets, and the runner's cache bounds how often it runs.
type MQTT struct {
	opts     *mqtt.ClientOptions // a template: each probe's client gets a copy
	url      *url.URL
	addr     string
	tls      *tls.Config // nil for plain TCP
	topic    string
	timeout  time.Duration
	secrets  []string
	clientID string
}

type mqttConfig struct {
	URL            string     `key:"url" required:"true" doc:"mqtt://host[:1883] or tcp://…; mqtts://host[:8883] or ssl://… for TLS"`
	ClientID       string     `key:"client_id" default:"healthd-<name>-<random>" doc:"MQTT client identifier"`
	Username       string     `key:"username" doc:"user name"`
	Password       string     `key:"password" secret:"true" doc:"password"`
	RoundTripTopic string     `key:"round_trip_topic" doc:"subscribe to this topic, publish a unique message to it with QoS 1 and wait for it (needs read and write permission on it)"`
	TLS            *brokerTLS `key:"tls" doc:"TLS options (TLS is on with mqtts:// or ssl://)"`

	addr string // set by Validate
}

func newMQTTConfig(Settings) Config { return &mqttConfig{} }

var mqttPorts = map[string]string{"mqtt": "1883", "tcp": "1883", "mqtts": "8883", "ssl": "8883"}

func (c *mqttConfig) Validate() error {
	var p Problems
	c.addr = ""
	if c.URL != "" {
		addr, msg := parseBrokerURL(c.URL, mqttPorts)
		if msg != "" {
			p.Add("url", "%s", msg)
		} else if u, _ := url.Parse(c.URL); u.User != nil {
			p.Add("url", "must not contain credentials; use username and password")
		}
		c.addr = addr
	}
	if c.Password != "" && c.Username == "" {
		p.Add("password", "needs a username")
	}
	if t := c.RoundTripTopic; t != "" && (strings.ContainsAny(t, "+#") || strings.HasPrefix(t, "$")) {
		p.Add("round_trip_topic", "must be a plain topic: no wildcard (+, #) and not a $ topic")
	}
	return p.Err()
}

// Build makes the check; it connects at each probe.
func (c *mqttConfig) Build(env Env) (Checker, error) {
	u, _ := url.Parse(c.URL)
	m := &MQTT{url: u, addr: c.addr, topic: c.RoundTripTopic, timeout: env.Timeout, secrets: []string{c.Password}, clientID: c.ClientID}
	if m.clientID == "" {
		var b [4]byte
		rand.Read(b[:])
		m.clientID = "healthd-" + env.Name + "-" + hex.EncodeToString(b[:])
	}
	if c.TLS != nil || u.Scheme == "mqtts" || u.Scheme == "ssl" {
		cfg, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		m.tls = cfg
	}
	o := mqtt.NewClientOptions()
	o.AddBroker("tcp://" + c.addr) // the scheme matters not: the probe's dialer connects
	o.SetClientID(m.clientID)
	o.SetUsername(c.Username)
	o.SetPassword(c.Password)
	o.SetProtocolVersion(4)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetOrderMatters(false)
	o.SetWriteTimeout(env.Timeout)
	m.opts = o
	return m, nil
}

// Check runs one probe.
func (m *MQTT) Check(ctx context.Context) error {
	o := *m.opts
	timeout := m.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return timeoutFailure(ctx, ctx.Err(), m.timeout, m.addr)
	}
	o.SetConnectTimeout(timeout)
	// paho reports a failed dial in its own words; the dial's error
	// says why, in the shared vocabulary.
	dialErr := make(chan error, 1)
	o.SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
		conn, err := m.dial(ctx)
		if err != nil {
			dialErr <- err
		}
		return conn, err
	})
	received := make(chan struct{})
	var payload string
	if m.topic != "" {
		var b [16]byte
		rand.Read(b[:])
		payload = "healthd-" + hex.EncodeToString(b[:])
		o.SetDefaultPublishHandler(func(mqtt.Client, mqtt.Message) {})
	}
	client := mqtt.NewClient(&o)
	start := time.Now()
	tok := client.Connect()
	if err := m.wait(ctx, tok); err != nil {
		// An abandoned connect ends by its ConnectTimeout (the deadline);
		// one that gets through late is closed at once.
		go func() { <-tok.Done(); client.Disconnect(0) }()
		select {
		case err = <-dialErr:
		default:
		}
		return m.fail(ctx, err)
	}
	defer client.Disconnect(0)
	connectMs := float64(time.Since(start).Microseconds()) / 1000
	Observe(ctx, "connectTime", connectMs, "ms")
	if m.topic == "" {
		Note(ctx, "connected in %.1f ms (%s)", connectMs, m.addr)
		return nil
	}
	start = time.Now()
	sub := client.Subscribe(m.topic, 1, func(_ mqtt.Client, msg mqtt.Message) {
		if string(msg.Payload()) == payload {
			select {
			case <-received:
			default:
				close(received)
			}
		}
	})
	if err := m.wait(ctx, sub); err != nil {
		return m.fail(ctx, err)
	}
	if st, ok := sub.(*mqtt.SubscribeToken); ok {
		if code := st.Result()[m.topic]; code == 0x80 {
			return Unavailable("not authorized to subscribe to %s (%s)", m.topic, m.addr)
		}
	}
	if err := m.wait(ctx, client.Publish(m.topic, 1, false, payload)); err != nil {
		return m.fail(ctx, err)
	}
	select {
	case <-received:
	case <-ctx.Done():
		return timeoutFailure(ctx, ctx.Err(), m.timeout, m.addr)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	Observe(ctx, "roundTripTime", ms, "ms")
	Note(ctx, "connected in %.1f ms; message published and received back on %s in %.1f ms (%s)", connectMs, m.topic, ms, m.addr)
	return nil
}

// dial opens the probe's connection within ctx, with TLS when asked.
func (m *MQTT) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil || m.tls == nil {
		return conn, err
	}
	tc := tls.Client(conn, m.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// wait waits for tok within ctx.
func (m *MQTT) wait(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail words a failed connect, subscribe or publish.
func (m *MQTT) fail(ctx context.Context, err error) error {
	wrap := func(msg string) error { return &Error{Kind: KindUnavailable, Msg: msg + " (" + m.addr + ")", Err: err} }
	switch {
	case ctx.Err() != nil:
		return timeoutFailure(ctx, err, m.timeout, m.addr)
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return wrap("broker refused the connection: bad user name or password")
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return wrap("broker refused the connection: not authorized (wrong user name or password?)")
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return wrap("broker refused the connection: client identifier rejected")
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return wrap("broker refused the connection: server unavailable")
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return wrap("broker refused the connection: MQTT 3.1.1 not accepted")
	}
	if nf := netFailure(ctx, err, m.timeout, m.addr); nf != nil {
		return nf
	}
	if errors.Is(err, mqtt.ErrNotConnected) || errors.Is(err, packets.ErrorNetworkError) {
		return wrap(reasonClosed)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return otherFailure(err, m.addr)
	}
	return wrap(Redact(err.Error(), m.secrets))
}
