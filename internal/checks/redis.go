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
// back of a short-lived key. Its client is shared by the redis checks of a
// runner with the same URL and timeout.
type Redis struct {
	client    *redisClient
	release   func() error // gives back the shared client
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
//
// Checks that share a redisClient probe through it at once, so a replaced
// client is closed only when the last probe that took it (acquire) is done
// with it: closing it under a probe would fail that probe with "client is
// closed".
type redisClient = redisClientOf[*redis.Client]

// redisClientOf is redisClient for any go-redis client: a plain client, a
// sentinel's (SentinelClient), or a FailoverClient, whose pools count
// failed dials alike.
type redisClientOf[C redisHooked] struct {
	newClient func() C

	mu      sync.Mutex
	current *redisGeneration[C]
	closed  bool
}

// redisHooked is what redisClientOf needs of a go-redis client: a dial
// hook sees every dial of its pool, its background redials too.
type redisHooked interface {
	AddHook(redis.Hook)
	Close() error
}

// redisGeneration is one go-redis client of a redisClientOf and its users.
type redisGeneration[C redisHooked] struct {
	client     C
	dialFailed atomic.Bool // set by client's dial hook
	// Under redisClientOf.mu:
	users   int  // probes using client
	retired bool // replaced, or the redisClientOf closed: close client when users drops to 0
	shut    bool // client is closed
}

// shutIfUnused closes g's client once it is retired and unused; c.mu is
// held.
func (g *redisGeneration[C]) shutIfUnused() {
	if g.retired && g.users == 0 && !g.shut {
		g.shut = true
		g.client.Close()
	}
}

// dialFailedHook marks a generation whose client failed a dial.
type dialFailedHook struct{ failed *atomic.Bool }

func (h dialFailedHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.failed.Store(true)
		}
		return conn, err
	}
}

func (dialFailedHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (dialFailedHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
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
	return newRedisClientOf(func() *redis.Client {
		o := *opts
		return redis.NewClient(&o) // NewClient keeps what it is given
	})
}

// newRedisClientOf returns a redisClientOf whose clients newClient makes,
// the first one at the first acquire; they must connect lazily.
func newRedisClientOf[C redisHooked](newClient func() C) *redisClientOf[C] {
	quietRedis.Do(func() { redis.SetLogger(discardRedisLog{}) })
	return &redisClientOf[C]{newClient: newClient}
}

func (c *redisClientOf[C]) build() *redisGeneration[C] {
	g := &redisGeneration[C]{client: c.newClient()}
	g.client.AddHook(dialFailedHook{&g.dialFailed})
	return g
}

// acquire returns the client for the next probe (a new one if the last one
// failed to dial) and the func the probe calls when done with it.
func (c *redisClientOf[C]) acquire() (C, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.current == nil:
		c.current = c.build()
		if c.closed { // later gets return closed clients
			c.current.retired = true
			c.current.shutIfUnused()
		}
	case c.current.dialFailed.Load() && !c.closed:
		c.current.retired = true
		c.current.shutIfUnused()
		c.current = c.build()
	}
	g := c.current
	g.users++
	return g.client, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		g.users--
		g.shutIfUnused()
	}
}

// get is acquire for a caller that is the client's only user, as the
// Sentinel and Cluster checks' per-node clients are: a client replaced
// after a failed dial is closed at once.
func (c *redisClientOf[C]) get() C {
	client, done := c.acquire()
	done()
	return client
}

// Close closes the client's connections, those of probes still running
// too; later probes fail with ErrClosed.
func (c *redisClientOf[C]) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.current == nil {
		return nil
	}
	c.current.retired = true
	if c.current.shut {
		return nil
	}
	c.current.shut = true
	return c.current.client.Close()
}

// redisKeyTTL is how long a write test's key lives; it is never deleted.
const redisKeyTTL = 5 * time.Second

type redisConfig struct {
	URL       string `key:"url" doc:"redis://[user:password@]host:port[/db], rediss:// for TLS, or unix:///path/to/redis.sock[?db=N]; go-redis URL options apply; one of url, sentinels, cluster_nodes"`
	WriteTest bool   `key:"write_test" doc:"also SET, GET and compare a short-lived key; needs write permission, so fails on a read-only replica"`

	Sentinels        []string `key:"sentinels" doc:"Sentinel: host:port of the sentinels to ask for the master; one of url, sentinels, cluster_nodes"`
	MasterName       string   `key:"master_name" doc:"Sentinel: the name the sentinels monitor the master under; required with sentinels"`
	SentinelUsername string   `key:"sentinel_username" doc:"Sentinel: ACL user for the sentinels"`
	SentinelPassword string   `key:"sentinel_password" secret:"true" doc:"Sentinel: password of the sentinels (their requirepass)"`
	CheckReplicas    bool     `key:"check_replicas" doc:"Sentinel: also PING every replica the sentinels know; one that does not answer is a warning"`

	ClusterNodes    []string `key:"cluster_nodes" doc:"Cluster: host:port of cluster nodes to ask for the cluster's state and slots; one of url, sentinels, cluster_nodes"`
	RequireReplicas bool     `key:"require_replicas" doc:"Cluster: a warning when a master's slots have no replica that is up"`

	Username string `key:"username" doc:"Sentinel and Cluster: ACL user of the Redis servers (with url, put it in the URL)"`
	Password string `key:"password" secret:"true" doc:"Sentinel and Cluster: password of the Redis servers (with url, put it in the URL)"`

	opts *redis.Options // URL, parsed by Validate
}

func newRedisConfig(Settings) Config { return &redisConfig{} }

func (c *redisConfig) Validate() error {
	var p Problems
	c.opts = nil
	set := 0
	for _, s := range []bool{c.URL != "", c.Sentinels != nil, c.ClusterNodes != nil} {
		if s {
			set++
		}
	}
	switch {
	case set == 0:
		p.Add("url", "is required (or sentinels, or cluster_nodes)")
	case set > 1:
		var keys []string
		for _, k := range []struct {
			name string
			set  bool
		}{{"url", c.URL != ""}, {"sentinels", c.Sentinels != nil}, {"cluster_nodes", c.ClusterNodes != nil}} {
			if k.set {
				keys = append(keys, k.name)
			}
		}
		p.Add(keys[1], "cannot be used with %s: set one of url, sentinels, cluster_nodes", keys[0])
	}
	c.URL = djangoURL(c.URL, "redis", "redis") // rediscache://… from a CACHE_URL
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
		for _, k := range []struct {
			name string
			set  bool
		}{{"username", c.Username != ""}, {"password", c.Password != ""}} {
			if k.set {
				p.Add(k.name, "is for sentinels and cluster_nodes; put the credentials in url")
			}
		}
	}
	checkAddrs := func(key string, addrs []string) {
		if addrs != nil && len(addrs) == 0 {
			p.Add(key, "must list at least one host:port")
		}
		for i, a := range addrs {
			if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
				p.Add(fmt.Sprintf("%s[%d]", key, i), "must be host:port")
			}
		}
	}
	checkAddrs("sentinels", c.Sentinels)
	checkAddrs("cluster_nodes", c.ClusterNodes)
	onlyWith := func(key string, set bool, with string, on bool) {
		if set && !on {
			p.Add(key, "is used only with %s", with)
		}
	}
	onlyWith("master_name", c.MasterName != "", "sentinels", c.Sentinels != nil)
	onlyWith("sentinel_username", c.SentinelUsername != "", "sentinels", c.Sentinels != nil)
	onlyWith("sentinel_password", c.SentinelPassword != "", "sentinels", c.Sentinels != nil)
	onlyWith("check_replicas", c.CheckReplicas, "sentinels", c.Sentinels != nil)
	onlyWith("require_replicas", c.RequireReplicas, "cluster_nodes", c.ClusterNodes != nil)
	if c.Sentinels != nil && c.MasterName == "" {
		p.Add("master_name", "is required with sentinels")
	}
	return p.Err()
}

// Secrets adds the password go-redis found in the URL to the generic scan
// of the URL, and the passwords of the Sentinel and Cluster keys.
func (c *redisConfig) Secrets() []string {
	out := SecretsIn("url", c.URL)
	if c.opts != nil && c.opts.Password != "" {
		out = append(out, c.opts.Password)
	}
	for _, pw := range []string{c.Password, c.SentinelPassword} {
		if pw != "" {
			out = append(out, pw)
		}
	}
	return out
}

// Build makes the check's client, which connects lazily.
func (c *redisConfig) Build(env Env) (Checker, error) {
	switch {
	case c.Sentinels != nil:
		return c.buildSentinel(env), nil
	case c.ClusterNodes != nil:
		return c.buildCluster(env), nil
	}
	timeout := env.Timeout
	opts := *c.opts // Build may be called again on the same config
	redisForChecks(&opts, timeout)
	addr := opts.Addr
	if opts.Network == "unix" {
		addr = "unix:" + opts.Addr
	}
	// The URL shapes the client entirely; the timeout sizes its deadlines.
	client, release, err := Share(env.Clients, "redis", []string{c.URL, timeout.String()}, func() (*redisClient, error) {
		return newRedisClient(&opts), nil
	})
	if err != nil {
		return nil, err
	}
	return &Redis{
		client:    client,
		release:   release,
		addr:      addr,
		secrets:   []string{opts.Password},
		timeout:   timeout,
		writeTest: c.WriteTest,
	}, nil
}

// redisForChecks is redisForProbes and what the redis check's own clients
// add to it: the pool wait bounded by the timeout, idle connections kept for
// the next probes, no maintenance notifications, and a client name.
func redisForChecks(o *redis.Options, timeout time.Duration) {
	redisForProbes(o, timeout)
	o.PoolTimeout = timeout
	o.MaxIdleConns = 2
	o.ConnMaxIdleTime = 5 * time.Minute
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if o.ClientName == "" {
		o.ClientName = "healthd"
	}
}

// redisSecrets returns the password go-redis reads from a URL, for
// redaction; none when it rejects the URL.
func redisSecrets(rawURL string) []string {
	if opts, err := redis.ParseURL(rawURL); err == nil {
		return []string{opts.Password}
	}
	return nil
}

// Close releases the check's client, which closes when no other check
// holds it.
func (c *Redis) Close() error { return c.release() }

// Check runs one probe, and a second when the server had closed the
// pooled connection (see againIfClosed).
func (c *Redis) Check(ctx context.Context) error {
	return againIfClosed(ctx, func() error { return c.probe(ctx) })
}

func (c *Redis) probe(ctx context.Context) error {
	client, done := c.client.acquire()
	defer done()
	if err := client.Ping(ctx).Err(); err != nil {
		return c.fail(ctx, err)
	}
	if !c.writeTest {
		return nil
	}
	return redisWriteTest(ctx, client, c.addr, c.fail)
}

// redisWriteTest writes a unique short-lived key through client, reads it
// back and compares; fail words a client error.
func redisWriteTest(ctx context.Context, client redis.Cmdable, addr string, fail func(context.Context, error) error) error {
	var b [16]byte
	rand.Read(b[:])
	key := "healthd:check:" + hex.EncodeToString(b[:])
	value := "itworks-" + time.Now().UTC().Format(time.RFC3339Nano)
	if err := client.Set(ctx, key, value, redisKeyTTL).Err(); err != nil {
		return fail(ctx, err)
	}
	got, err := client.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return Unexpected("key written was not found on read back (%s)", addr)
	}
	if err != nil {
		return fail(ctx, err)
	}
	if got != value {
		return Unexpected("value read back does not match the value written (%s)", addr)
	}
	return nil
}

func (c *Redis) fail(ctx context.Context, err error) error {
	return redisFailure(ctx, err, c.timeout, c.addr, c.secrets)
}

// redisNoAuthMsg is the message for NOAUTH.
const redisNoAuthMsg = "authentication required: the URL has no password"

// redisFailure words err, from a call to the Redis server at addr, as a
// check failure; secrets are redacted from any text of the server's.
func redisFailure(ctx context.Context, err error, timeout time.Duration, addr string, secrets []string) error {
	wrap := func(kind Kind, msg string) error { return &Error{Kind: kind, Msg: msg, Err: err} }
	if ctx.Err() != nil {
		return timeoutFailure(ctx, err, timeout, addr)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		text := Redact(rerr.Error(), secrets)
		switch {
		case strings.HasPrefix(text, "WRONGPASS"):
			return wrap(KindUnavailable, "password authentication failed")
		case strings.HasPrefix(text, "NOAUTH"):
			return wrap(KindUnavailable, redisNoAuthMsg)
		case strings.HasPrefix(text, "ERR AUTH") || strings.Contains(text, "without any password configured"):
			return wrap(KindUnavailable, "authentication failed: the server has no password set")
		case strings.HasPrefix(text, "NOPERM"):
			return wrap(KindUnavailable, "permission denied: "+strings.TrimPrefix(text, "NOPERM "))
		case strings.HasPrefix(text, "READONLY"):
			return wrap(KindUnavailable, fmt.Sprintf("server is a read-only replica (%s)", addr))
		case strings.HasPrefix(text, "LOADING"):
			return wrap(KindUnavailable, fmt.Sprintf("server is loading its dataset (%s)", addr))
		}
		return wrap(KindUnavailable, fmt.Sprintf("server error: %s (%s)", text, addr))
	}
	if nf := netFailure(ctx, err, timeout, addr); nf != nil {
		return nf
	}
	if errors.Is(err, redis.ErrClosed) {
		return wrap(KindUnavailable, "client is closed")
	}
	return wrap(KindUnavailable, fmt.Sprintf("%s (%s)", Redact(err.Error(), secrets), addr))
}
