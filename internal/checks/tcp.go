package checks

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"
)

// TCP passes when a TCP connection to host:port can be opened. It sends
// nothing and closes the connection at once.
type TCP struct {
	addr    string
	timeout time.Duration
	dialer  net.Dialer
}

type tcpConfig struct {
	Address string `key:"address" required:"true" doc:"host:port to connect to: IPv4, [IPv6] or a name, and a port number 1-65535"`
}

func newTCPConfig(Settings) Config { return &tcpConfig{} }

func (c *tcpConfig) Validate() error {
	var p Problems
	if c.Address != "" {
		if msg := checkHostPort(c.Address); msg != "" {
			p.Add("address", "%s", msg)
		}
	}
	return p.Err()
}

func (c *tcpConfig) Build(env Env) (Checker, error) {
	t := &TCP{addr: c.Address, timeout: env.Timeout}
	t.dialer.Timeout = env.Timeout // ctx's deadline bounds it too
	return t, nil
}

// checkHostPort returns what is wrong with a host:port address, or "".
func checkHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port, such as 127.0.0.1:5432 or db.internal:5432"
	}
	if host == "" {
		return "must name a host, such as 127.0.0.1:" + port
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "must end with a port number from 1 to 65535"
	}
	return ""
}

// Check dials the address with ctx, so a dropped SYN or a slow resolver
// ends at the deadline.
func (t *TCP) Check(ctx context.Context) error {
	start := time.Now()
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return dialFailure(ctx, err, t.timeout, t.addr)
	}
	elapsed := time.Since(start)
	c.Close()
	ms := float64(elapsed.Microseconds()) / 1000
	Observe(ctx, "responseTime", ms, "ms")
	Note(ctx, "connected to %s in %.1f ms", t.addr, ms)
	return nil
}

// dialFailure words a failed connection in the shared vocabulary, naming
// where: "connection refused (127.0.0.1:9)", "timed out after 1s (…)".
func dialFailure(ctx context.Context, err error, timeout time.Duration, where string) error {
	if nf := netFailure(ctx, err, timeout, where); nf != nil {
		return nf
	}
	return otherFailure(err, where)
}

// otherFailure words an error the shared vocabulary has no words for with
// the system's own, without the op/address prefixes net adds.
func otherFailure(err error, where string) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &Error{Kind: KindUnavailable, Msg: errno.Error() + " (" + where + ")", Err: err}
	}
	return &Error{Kind: KindUnavailable, Msg: innermost(err).Error() + " (" + where + ")", Err: err}
}

// innermost unwraps err to its first cause without a further cause,
// dropping the op/address prefixes net and os errors add.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
