package checks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis checks a Redis server with PING and, optionally, a write and read
// back of a short-lived key.
type Redis struct {
	client    *redisClient
	addr      string
	secrets   []string // the password, redacted from library text
	timeout   time.Duration
	writeTest bool
}

// redisForProbes sets what a Redis client used by probes needs (the redis check's
// and the celery check's on a Redis broker): deadlines from the timeout,
// one attempt with one dial, two connections at most, no CLIENT SETINFO
// (old servers refuse it), and 4 KiB buffers, not the library's 32 KiB each
// way, since replies to a probe are short.
func redisForProbes(o *redis.Options, timeout time.Duration) {
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
	o.ContextTimeoutEnabled = true // ctx deadlines bound every read and write
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.PoolSize, o.MinIdleConns = 2, 0
	o.DisableIdentity = true
	o.ReadBufferSize, o.WriteBufferSize = 4<<10, 4<<10
}

// redisClient is a long-lived Redis client for probes that forgets failed
// dials. go-redis's pool counts them, never forgets them while the dials
// that follow succeed, and once they reach its size (two here) answers
// every call with the last dial error until a background redial, once a
// second, gets through: the first probes after Redis is back would still
// read "connection refused". No option turns that off, so a client whose
// dial failed is replaced before the next probe. That costs one new client
// (about 16 KB, no connection) per failed probe, only while Redis cannot be
// reached; a client that works keeps its pooled connection.
type redisClient struct {
	opts *redis.Options
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu         sync.Mutex
	current    *redis.Client
	dialFailed *atomic.Bool // set by current's dialer
	closed     bool
}

// quietRedis silences go-redis's process-wide logger, which prints every
// failed dial: the check reports failures in its result, and a log line per
// probe of a down server is what healthd must not write. go-redis has only
// this global setting, so it is set once, where its clients are made.
var quietRedis sync.Once

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// newRedisClient returns a client for opts; it connects lazily.
func newRedisClient(opts *redis.Options) *redisClient {
	quietRedis.Do(func() { redis.SetLogger(discardRedisLog{}) })
	c := &redisClient{opts: opts, dial: opts.Dialer}
	if c.dial == nil {
		c.dial = redis.NewDialer(opts)
	}
	c.current, c.dialFailed = c.build()
	return c
}

func (c *redisClient) build() (*redis.Client, *atomic.Bool) {
	failed := new(atomic.Bool)
	o := *c.opts
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := c.dial(ctx, network, addr)
		if err != nil {
			failed.Store(true)
		}
		return conn, err
	}
	return redis.NewClient(&o), failed // NewClient copies o
}

// get returns the client for the next probe: a new one if the last one
// failed to dial.
func (c *redisClient) get() *redis.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dialFailed.Load() && !c.closed {
		c.current.Close()
		c.current, c.dialFailed = c.build()
	}
	return c.current
}

// Close closes the client's connections; later probes fail with ErrClosed.
func (c *redisClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.current.Close()
}

// redisKeyTTL is how long a write test's key lives; it is never deleted.
const redisKeyTTL = 5 * time.Second

type redisConfig struct {
	URL       string `key:"url" required:"true" doc:"redis://[user:password@]host:port[/db], rediss:// for TLS, or unix:///path/to/redis.sock[?db=N]; go-redis URL options apply"`
	WriteTest bool   `key:"write_test" doc:"also SET, GET and compare a short-lived key; needs write permission, so fails on a read-only replica"`

	opts *redis.Options // URL, parsed by Validate
}

func newRedisConfig(Settings) Config { return &redisConfig{} }

func (c *redisConfig) Validate() error {
	var p Problems
	c.opts = nil
	if c.URL != "" {
		opts, err := redis.ParseURL(c.URL)
		switch {
		case err == nil:
			c.opts = opts
		case strings.Contains(err.Error(), "invalid URL scheme"):
			p.Add("url", "must start with redis://, rediss:// or unix://")
		default:
			// The library's message may quote the URL; never show it.
			p.Add("url", "is not a valid Redis URL (redis://[user:password@]host:port[/db])")
		}
	}
	return p.Err()
}

// Secrets adds the password go-redis found in the URL to the generic scan
// of the URL.
func (c *redisConfig) Secrets() []string {
	out := SecretsIn("url", c.URL)
	if c.opts != nil && c.opts.Password != "" {
		out = append(out, c.opts.Password)
	}
	return out
}

// Build makes the check's client, which connects lazily.
func (c *redisConfig) Build(env Env) (Checker, error) {
	timeout := env.Timeout
	opts := *c.opts // Build may be called again on the same config
	redisForProbes(&opts, timeout)
	opts.PoolTimeout = timeout
	opts.MaxIdleConns = 2
	opts.ConnMaxIdleTime = 5 * time.Minute
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if opts.ClientName == "" {
		opts.ClientName = "healthd"
	}
	addr := opts.Addr
	if opts.Network == "unix" {
		addr = "unix:" + opts.Addr
	}
	return &Redis{
		client:    newRedisClient(&opts),
		addr:      addr,
		secrets:   []string{opts.Password},
		timeout:   timeout,
		writeTest: c.WriteTest,
	}, nil
}

// redisSecrets returns the password go-redis reads from a URL, for
// redaction; none when it rejects the URL.
func redisSecrets(rawURL string) []string {
	if opts, err := redis.ParseURL(rawURL); err == nil {
		return []string{opts.Password}
	}
	return nil
}

// Close closes the check's connections.
func (c *Redis) Close() error { return c.client.Close() }

// Check runs one probe.
func (c *Redis) Check(ctx context.Context) error {
	client := c.client.get()
	if err := client.Ping(ctx).Err(); err != nil {
		return c.fail(ctx, err)
	}
	if !c.writeTest {
		return nil
	}
	var b [16]byte
	rand.Read(b[:])
	key := "healthd:check:" + hex.EncodeToString(b[:])
	value := "itworks-" + time.Now().UTC().Format(time.RFC3339Nano)
	if err := client.Set(ctx, key, value, redisKeyTTL).Err(); err != nil {
		return c.fail(ctx, err)
	}
	got, err := client.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return Unexpected("key written was not found on read back (%s)", c.addr)
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	if got != value {
		return Unexpected("value read back does not match the value written (%s)", c.addr)
	}
	return nil
}

func (c *Redis) fail(ctx context.Context, err error) error {
	wrap := func(kind Kind, msg string) error { return &Error{Kind: kind, Msg: msg, Err: err} }
	if ctx.Err() != nil {
		return timeoutFailure(ctx, err, c.timeout, c.addr)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		text := Redact(rerr.Error(), c.secrets)
		switch {
		case strings.HasPrefix(text, "WRONGPASS"):
			return wrap(KindUnavailable, "password authentication failed")
		case strings.HasPrefix(text, "NOAUTH"):
			return wrap(KindUnavailable, "authentication required: the URL has no password")
		case strings.HasPrefix(text, "ERR AUTH") || strings.Contains(text, "without any password configured"):
			return wrap(KindUnavailable, "authentication failed: the server has no password set")
		case strings.HasPrefix(text, "NOPERM"):
			return wrap(KindUnavailable, "permission denied: "+strings.TrimPrefix(text, "NOPERM "))
		case strings.HasPrefix(text, "READONLY"):
			return wrap(KindUnavailable, fmt.Sprintf("server is a read-only replica (%s)", c.addr))
		case strings.HasPrefix(text, "LOADING"):
			return wrap(KindUnavailable, fmt.Sprintf("server is loading its dataset (%s)", c.addr))
		}
		return wrap(KindUnavailable, fmt.Sprintf("server error: %s (%s)", text, c.addr))
	}
	if nf := netFailure(ctx, err, c.timeout, c.addr); nf != nil {
		return nf
	}
	if errors.Is(err, redis.ErrClosed) {
		return wrap(KindUnavailable, "client is closed")
	}
	return wrap(KindUnavailable, fmt.Sprintf("%s (%s)", Redact(err.Error(), c.secrets), c.addr))
}
