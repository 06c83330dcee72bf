package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Memcached checks memcached servers the way django-health-check's cache
// check does (set a unique key, get it back, compare) and then pings every
// server, since a key lives on only one of them. Its client is shared by the
// memcached checks of a runner with the same servers and timeout.
type Memcached struct {
	client  *memcache.Client
	release func() error // gives back the shared client
	servers memcachedServers
	timeout time.Duration
	// busy holds a token while a probe runs. gomemcache takes no context,
	// so a probe abandoned at the deadline finishes in the background
	// (bounded by the client's timeouts); the next probe waits for it
	// rather than piling up connections.
	busy chan struct{}
}

// memcachedKeyTTL is how long a probe's key lives if its delete fails.
const memcachedKeyTTL = 5 // seconds

type memcachedConfig struct {
	Servers []string `key:"servers" required:"true" doc:"host:port of each server, or a unix socket path; names are resolved when a probe dials"`

	addrs memcachedServers // Servers, parsed by Validate
}

func newMemcachedConfig(Settings) Config { return &memcachedConfig{} }

func (c *memcachedConfig) Validate() error {
	var p Problems
	if c.Servers != nil && len(c.Servers) == 0 {
		p.Add("servers", "must list at least one host:port")
	}
	c.addrs = nil
	for i, s := range c.Servers {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "/") {
			c.addrs = append(c.addrs, memcachedAddr{"unix", s})
			continue
		}
		host, port, err := net.SplitHostPort(s)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.Add(fmt.Sprintf("servers[%d]", i), "must be host:port or a unix socket path, not %q", s)
			continue
		}
		c.addrs = append(c.addrs, memcachedAddr{"tcp", s})
	}
	return p.Err()
}

func (c *memcachedConfig) Build(env Env) (Checker, error) {
	timeout := env.Timeout
	// Names are resolved when dialing, not here: memcache.New would resolve
	// every name at once.
	client, release, err := Share(env.Clients, "memcached", append([]string{timeout.String()}, c.Servers...), func() (*memcache.Client, error) {
		client := memcache.NewFromSelector(c.addrs)
		client.Timeout = timeout
		// Per server: a check's probes run one at a time, and the checks
		// that share the client keep a spare for an overlapping probe.
		// gomemcache has no bound on the connections in use; a busy moment
		// dials more and closes them after.
		client.MaxIdleConns = 2
		return client, nil
	})
	if err != nil {
		return nil, err
	}
	return &Memcached{client: client, release: release, servers: c.addrs, timeout: timeout, busy: make(chan struct{}, 1)}, nil
}

// Close releases the check's client, whose idle connections close when no
// other check holds it.
func (c *Memcached) Close() error { return c.release() }

// Check runs one probe, bounded by ctx and by the client's timeouts.
func (c *Memcached) Check(ctx context.Context) error {
	select {
	case c.busy <- struct{}{}:
	case <-ctx.Done():
		return Unavailable("timed out after %s waiting for the previous probe (%s)", c.timeout, c.servers)
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-c.busy }()
		done <- c.probe()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return Unavailable("timed out after %s (%s)", c.timeout, c.servers)
	}
}

// probe runs the probe, and once more when it failed on a connection the
// server had closed while it sat idle (a restart, a proxy's idle timeout):
// gomemcache drops such a connection, so the second run dials afresh. A
// server that is really down fails both runs.
func (c *Memcached) probe() error {
	err := c.probeOnce()
	if err != nil && memcachedStaleConn(err) {
		err = c.probeOnce()
	}
	return err
}

func memcachedStaleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

func (c *Memcached) probeOnce() error {
	var b [12]byte
	rand.Read(b[:])
	key := "healthd:check:" + hex.EncodeToString(b[:])
	value := []byte("itworks-" + time.Now().UTC().Format(time.RFC3339Nano))
	owner, _ := c.servers.PickServer(key)

	if err := c.client.Set(&memcache.Item{Key: key, Value: value, Expiration: memcachedKeyTTL}); err != nil {
		return c.fail(err, owner)
	}
	item, err := c.client.Get(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return Unavailable("cache key %s was not found after it was set (%s)", key, owner)
	}
	if err != nil {
		return c.fail(err, owner)
	}
	if !bytes.Equal(item.Value, value) {
		return Unavailable("cache key %s does not match (%s)", key, owner)
	}
	if err := c.client.Delete(key); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return c.fail(err, owner)
	}
	if err := c.client.Ping(); err != nil {
		var se memcachedServerErrors
		if errors.As(err, &se) {
			msgs := make([]string, len(se))
			for i, e := range se {
				msgs[i] = c.fail(e.err, e.addr).(*Error).Msg
			}
			return &Error{Kind: KindUnavailable, Msg: strings.Join(msgs, "; "), Err: err}
		}
		return c.fail(err, nil)
	}
	return nil
}

func (c *Memcached) fail(err error, addr net.Addr) error {
	where := c.servers.String()
	if addr != nil {
		where = addr.String()
	}
	var opErr *net.OpError
	if addr == nil && errors.As(err, &opErr) && opErr.Addr != nil {
		where = opErr.Addr.String()
	}
	var cte *memcache.ConnectTimeoutError
	switch {
	case errors.As(err, &cte):
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("timed out after %s (%s)", c.timeout, cte.Addr), Err: err}
	case errors.Is(err, memcache.ErrServerError):
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("server error (%s)", where), Err: err}
	case errors.Is(err, memcache.ErrNotStored):
		return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf("server did not store the key (%s)", where), Err: err}
	}
	// gomemcache takes no context: Check's select words the deadline.
	if nf := netFailure(context.Background(), err, c.timeout, where); nf != nil {
		return nf
	}
	if strings.HasPrefix(err.Error(), "memcache: unexpected response line") {
		return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf("not a memcached server: unexpected reply (%s)", where), Err: err}
	}
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", strings.TrimPrefix(err.Error(), "memcache: "), where), Err: err}
}

// memcachedAddr is a server address resolved at dial time.
type memcachedAddr struct{ network, addr string }

func (a memcachedAddr) Network() string { return a.network }
func (a memcachedAddr) String() string  { return a.addr }

// memcachedServers is gomemcache's ServerList without name resolution at
// construction, and with an Each that visits every server and reports every
// failure, so Ping names all the servers that are down.
type memcachedServers []net.Addr

func (s memcachedServers) String() string {
	names := make([]string, len(s))
	for i, a := range s {
		names[i] = a.String()
	}
	return strings.Join(names, ", ")
}

// PickServer hashes like gomemcache's ServerList, so keys land on the same
// servers as in applications that use it.
func (s memcachedServers) PickServer(key string) (net.Addr, error) {
	switch len(s) {
	case 0:
		return nil, memcache.ErrNoServers
	case 1:
		return s[0], nil
	}
	return s[crc32.ChecksumIEEE([]byte(key))%uint32(len(s))], nil
}

func (s memcachedServers) Each(f func(net.Addr) error) error {
	var errs memcachedServerErrors
	for _, a := range s {
		if err := f(a); err != nil {
			errs = append(errs, memcachedServerError{a, err})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

type memcachedServerError struct {
	addr net.Addr
	err  error
}

type memcachedServerErrors []memcachedServerError

func (e memcachedServerErrors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, se := range e {
		errs[i] = se.err
	}
	return errs
}

func (e memcachedServerErrors) Error() string {
	msgs := make([]string, len(e))
	for i, se := range e {
		msgs[i] = se.addr.String() + ": " + se.err.Error()
	}
	return strings.Join(msgs, "; ")
}
