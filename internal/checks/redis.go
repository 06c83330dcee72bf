package checks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis checks a Redis server with PING and, optionally, a write and read
// back of a short-lived key.
type Redis struct {
	client    *redis.Client
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

// redisKeyTTL is how long a write test's key lives; it is never deleted.
const redisKeyTTL = 5 * time.Second

func newRedis(spec Spec) (Checker, error) {
	p := spec.Params
	rawURL := p.Required("url")
	writeTest := p.Bool("write_test", false)

	var opts *redis.Options
	if rawURL != "" {
		var err error
		opts, err = redis.ParseURL(rawURL)
		switch {
		case err == nil:
		case strings.Contains(err.Error(), "invalid URL scheme"):
			p.Errorf("url", "must start with redis://, rediss:// or unix://")
		default:
			// The library's message may quote the URL; never show it.
			p.Errorf("url", "is not a valid Redis URL (redis://[user:password@]host:port[/db])")
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}

	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	redisForProbes(opts, timeout)
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
		client:    redis.NewClient(opts), // connects lazily
		addr:      addr,
		secrets:   []string{opts.Password},
		timeout:   timeout,
		writeTest: writeTest,
	}, nil
}

// Close closes the check's connections.
func (c *Redis) Close() error { return c.client.Close() }

// Check runs one probe.
func (c *Redis) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.Ping(ctx).Err(); err != nil {
		return c.fail(ctx, err)
	}
	if !c.writeTest {
		return nil
	}
	var b [16]byte
	rand.Read(b[:])
	key := "healthd:check:" + hex.EncodeToString(b[:])
	value := "itworks-" + time.Now().UTC().Format(time.RFC3339Nano)
	if err := c.client.Set(ctx, key, value, redisKeyTTL).Err(); err != nil {
		return c.fail(ctx, err)
	}
	got, err := c.client.Get(ctx, key).Result()
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
	if ctx.Err() == context.DeadlineExceeded {
		return wrap(KindUnavailable, fmt.Sprintf("timed out after %s (%s)", c.timeout, c.addr))
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
	if nf := netFailure(err, c.timeout, c.addr); nf != nil {
		return nf
	}
	if errors.Is(err, redis.ErrClosed) {
		return wrap(KindUnavailable, "client is closed")
	}
	return wrap(KindUnavailable, fmt.Sprintf("%s (%s)", Redact(err.Error(), c.secrets), c.addr))
}
