package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// GRPC calls grpc.health.v1.Health/Check on a gRPC server: SERVING passes.
// One long-lived channel (one HTTP/2 connection) serves every probe.
type GRPC struct {
	addr    string
	service string
	timeout time.Duration
	opts    []grpc.DialOption
	creds   credentials.TransportCredentials

	mu      sync.Mutex
	current *grpcChannel
	stale   bool // the last probe failed: replace current unless it is ready
	closed  bool
}

// grpcChannel is a channel and the last error its dialer (or TLS
// handshake) met, which grpc hides inside a status text ("connection error:
// desc = …"): the check words that error itself, in the shared vocabulary.
type grpcChannel struct {
	conn    *grpc.ClientConn
	dialErr atomic.Pointer[error]
}

type grpcConfig struct {
	Address            string `key:"address" required:"true" doc:"host:port of the gRPC server"`
	Service            string `key:"service" doc:"the service name to ask about; empty asks about the server as a whole"`
	TLS                bool   `key:"tls" doc:"connect with TLS, certificate verified"`
	CAFile             string `key:"ca_file" default:"system roots" doc:"PEM file of the CA certificates to verify the server's against (with tls)"`
	ServerName         string `key:"server_name" default:"the address's host" doc:"the name the certificate must be valid for (with tls)"`
	InsecureSkipVerify bool   `key:"insecure_skip_verify" doc:"with tls, accept any certificate (encrypts, but proves nothing about the server)"`
}

func newGRPCConfig(Settings) Config { return &grpcConfig{} }

func (c *grpcConfig) Validate() error {
	var p Problems
	if c.Address != "" {
		if msg := checkHostPort(c.Address); msg != "" {
			p.Add("address", "%s", msg)
		}
	}
	if !c.TLS {
		for key, set := range map[string]bool{"ca_file": c.CAFile != "", "server_name": c.ServerName != "", "insecure_skip_verify": c.InsecureSkipVerify} {
			if set {
				p.Add(key, "has no effect without tls: true")
			}
		}
	}
	if c.InsecureSkipVerify && c.CAFile != "" {
		p.Add("insecure_skip_verify", "cannot be used with ca_file, which would not be checked")
	}
	return p.Err()
}

func (c *grpcConfig) Build(env Env) (Checker, error) {
	creds := insecure.NewCredentials()
	if c.TLS {
		roots, err := loadCAFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(&tls.Config{
			ServerName: serverNameFor(c.ServerName, c.Address), RootCAs: roots,
			InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12, //nolint:gosec // the user's choice
		})
	}
	g := &GRPC{addr: c.Address, service: c.Service, timeout: env.Timeout, creds: creds}
	g.opts = []grpc.DialOption{grpc.WithUserAgent("healthd")}
	ch, err := g.newChannel()
	if err != nil {
		return nil, err
	}
	g.current = ch
	return g, nil
}

func (g *GRPC) newChannel() (*grpcChannel, error) {
	ch := &grpcChannel{}
	var d net.Dialer
	dial := grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			ch.dialErr.Store(&err)
		} else {
			ch.dialErr.Store(nil)
		}
		return conn, err
	})
	// passthrough: the address is dialled as written, resolved by the
	// dialer at each connection, as every other type does.
	creds := grpc.WithTransportCredentials(&recordingCreds{g.creds, ch})
	conn, err := grpc.NewClient("passthrough:///"+g.addr, append(g.opts, dial, creds)...)
	if err != nil {
		return nil, fmt.Errorf("grpc: %w", err)
	}
	ch.conn = conn
	return ch, nil
}

// channel returns the channel for the next probe. After a failed probe, a
// channel that is not connected is replaced: grpc would wait out its
// reconnect backoff (up to two minutes) and answer every call with the old
// error meanwhile, or be in the middle of a reconnect begun while the
// server was down, so the first probe after the server is back would still
// fail. One still connecting when the last probe's time ran out (a server
// that accepts and never speaks HTTP/2, a dropped SYN) is replaced too:
// each probe makes its own attempt, as every other type's dial does, and
// closing the channel ends the old one.
func (g *GRPC) channel() (*grpcChannel, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errors.New("check is closed")
	}
	if st := g.current.conn.GetState(); g.stale && st != connectivity.Ready {
		g.stale = false
		g.current.conn.Close()
		ch, err := g.newChannel()
		if err != nil {
			return nil, err
		}
		g.current = ch
	}
	return g.current, nil
}

// Close closes the channel.
func (g *GRPC) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.current.conn.Close()
}

// Check asks the health service once.
func (g *GRPC) Check(ctx context.Context) error {
	ch, err := g.channel()
	if err != nil {
		return Unavailable("%s (%s)", err, g.addr)
	}
	start := time.Now()
	client := healthpb.NewHealthClient(ch.conn)
	req := &healthpb.HealthCheckRequest{Service: g.service}
	wasReady := ch.conn.GetState() == connectivity.Ready
	resp, err := client.Check(ctx, req)
	if err != nil && wasReady && ctx.Err() == nil && status.Code(err) == codes.Unavailable && ch.dialErr.Load() == nil {
		// The server closed the connection the channel held (a restart
		// between probes) before grpc noticed: once more, on a new one.
		resp, err = client.Check(ctx, req)
	}
	if err != nil {
		g.mu.Lock()
		g.stale = true
		g.mu.Unlock()
		return g.fail(ctx, ch, err)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	Observe(ctx, "callTime", ms, "ms")
	what := "server"
	if g.service != "" {
		what = "service " + g.service
	}
	switch st := resp.GetStatus(); st {
	case healthpb.HealthCheckResponse_SERVING:
		Note(ctx, "%s is SERVING (%s, %.1f ms)", what, g.addr, ms)
		return nil
	case healthpb.HealthCheckResponse_NOT_SERVING:
		return Unavailable("%s is NOT_SERVING (%s)", what, g.addr)
	default:
		return Unavailable("%s is %s (%s)", what, st, g.addr)
	}
}

func (g *GRPC) fail(ctx context.Context, ch *grpcChannel, err error) error {
	if ctx.Err() != nil {
		return timeoutFailure(ctx, err, g.timeout, g.addr)
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf("service %q is unknown to the server: check the service key (%s)", g.service, g.addr), Err: err}
	case codes.Unimplemented:
		return &Error{Kind: KindUnexpected, Msg: "server does not implement grpc.health.v1.Health (" + g.addr + ")", Err: err}
	case codes.DeadlineExceeded, codes.Canceled:
		return timeoutFailure(ctx, err, g.timeout, g.addr)
	case codes.Unavailable:
		if p := ch.dialErr.Load(); p != nil {
			if nf := netFailure(ctx, *p, g.timeout, g.addr); nf != nil {
				return nf
			}
			return otherFailure(*p, g.addr)
		}
		// Connected, then lost: the server closed or reset the
		// connection, or the TLS handshake failed.
		return &Error{Kind: KindUnavailable, Msg: grpcUnavailable(st.Message()) + " (" + g.addr + ")", Err: err}
	}
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s: %s (%s)", st.Code(), st.Message(), g.addr), Err: err}
}

// grpcUnavailable words an Unavailable status that is not a failed dial.
// grpc gives only text here; the words are the shared ones where the text
// is recognisably one of their faults.
func grpcUnavailable(msg string) string {
	switch {
	case containsAny(msg, "EOF", "connection closed", "transport is closing", "error reading server preface"):
		return reasonClosed
	case containsAny(msg, "connection reset"):
		return reasonReset
	case containsAny(msg, "first record does not look like a TLS handshake"):
		return reasonNotTLS
	case containsAny(msg, "certificate"):
		return "TLS certificate not accepted: " + msg
	}
	return "server unavailable: " + msg
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// recordingCreds keeps the TLS handshake's error on the channel, as the
// dialer keeps the dial's.
type recordingCreds struct {
	credentials.TransportCredentials
	ch *grpcChannel
}

func (r *recordingCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := r.TransportCredentials.ClientHandshake(ctx, authority, conn)
	if err != nil {
		r.ch.dialErr.Store(&err)
	}
	return c, info, err
}

func (r *recordingCreds) Clone() credentials.TransportCredentials {
	return &recordingCreds{r.TransportCredentials.Clone(), r.ch}
}
