package checks

// The redis check's other two topologies: Sentinel (ask the sentinels for
// the master, then check it through go-redis's FailoverClient) and Cluster (ask a node for the cluster's
// state and slots, then PING every master). The keys are the redis type's
// (redis.go); Build picks one of these when sentinels or cluster_nodes are
// set.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisClusterSlots is how many hash slots a Redis Cluster has.
const redisClusterSlots = 16384

// reasonOf is the message of a check failure without its kind
// ("connection refused (127.0.0.1:26379)"), with where added when the
// message does not name it (an authentication failure does not).
func reasonOf(err error, where string) string {
	msg := err.Error()
	var e *Error
	if errors.As(err, &e) {
		msg = e.Msg
	}
	if !strings.HasSuffix(msg, "("+where+")") {
		msg += " (" + where + ")"
	}
	return msg
}

// topologyFailure is redisFailure for a server whose credentials come from
// the password keys rather than a URL.
func topologyFailure(ctx context.Context, err error, timeout time.Duration, addr string, secrets []string) error {
	f := redisFailure(ctx, err, timeout, addr, secrets)
	var e *Error
	if errors.As(f, &e) && e.Msg == redisNoAuthMsg {
		return &Error{Kind: e.Kind, Msg: "authentication required: no password given", Err: err}
	}
	return f
}

// redisNodeOptions returns the options of a client for one Redis server or
// sentinel at addr, set for probes as the redis check's own client is.
func redisNodeOptions(addr, username, password string, timeout time.Duration) *redis.Options {
	o := &redis.Options{Addr: addr, Username: username, Password: password}
	redisForChecks(o, timeout)
	return o
}

// redisClients keeps one long-lived client per address, for servers whose
// addresses the probe learns (the replicas the sentinels name):
// a client is made the first time an address is named and closed once it
// is no longer.
type redisClients struct {
	username, password string
	timeout            time.Duration

	mu      sync.Mutex
	clients map[string]*redisClient
	closed  bool
}

// get returns the client for addr.
func (r *redisClients) get(addr string) *redis.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[addr]
	if !ok {
		if r.clients == nil {
			r.clients = map[string]*redisClient{}
		}
		c = newRedisClient(redisNodeOptions(addr, r.username, r.password, r.timeout))
		if r.closed {
			c.Close()
		}
		r.clients[addr] = c
	}
	return c.get()
}

// keep closes the clients of addresses not in addrs.
func (r *redisClients) keep(addrs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, c := range r.clients {
		if !slices.Contains(addrs, addr) {
			c.Close()
			delete(r.clients, addr)
		}
	}
}

// Close closes every client; later gets return closed clients.
func (r *redisClients) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, c := range r.clients {
		c.Close()
	}
	return nil
}

// RedisSentinel checks a master through its sentinels: they name it, and it
// answers PING (and the write test); with checkReplicas, every replica the
// sentinels know answers too.
//
// Two kinds of go-redis client: a SentinelClient per configured sentinel
// asks each where the master is, so a failure can name the sentinel that
// did not answer and a master no sentinel knows is told from sentinels that
// are down; and one FailoverClient, which finds the master through the
// sentinels itself and follows a failover (Sentinel's +switch-master), PINGs
// it. The FailoverClient alone could do neither: its error when no
// sentinel gives the master ("all sentinels specified in configuration are
// unreachable") joins theirs without saying whose is whose, and is the
// same for a master the sentinels do not know (docs/checks/redis.md).
type RedisSentinel struct {
	masterName    string
	sentinelAddrs []string
	sentinels     []*redisClientOf[*redis.SentinelClient] // one per address, in config order
	master        *redisClientOf[*redis.Client]           // a FailoverClient
	replicaConns  *redisClients                           // the replicas, by address
	// answered is the sentinels that answered the probe that last made a
	// FailoverClient (see buildSentinel).
	answered      atomic.Pointer[[]string]
	timeout       time.Duration
	secrets       []string
	checkReplicas bool
	writeTest     bool
}

func (c *redisConfig) buildSentinel(env Env) *RedisSentinel {
	s := &RedisSentinel{
		masterName:    c.MasterName,
		sentinelAddrs: slices.Clone(c.Sentinels),
		replicaConns:  &redisClients{username: c.Username, password: c.Password, timeout: env.Timeout},
		timeout:       env.Timeout,
		secrets:       []string{c.Password, c.SentinelPassword},
		checkReplicas: c.CheckReplicas,
		writeTest:     c.WriteTest,
	}
	for _, addr := range c.Sentinels {
		opts := redisNodeOptions(addr, c.SentinelUsername, c.SentinelPassword, env.Timeout)
		s.sentinels = append(s.sentinels, newRedisClientOf(func() *redis.SentinelClient {
			o := *opts
			return redis.NewSentinelClient(&o)
		}))
	}
	// The FailoverClient's options are the redis check's (redisForChecks),
	// and the same for the connections it opens to the sentinels.
	o := redisNodeOptions("", c.Username, c.Password, env.Timeout)
	dial := redis.NewDialer(o)
	fo := redis.FailoverOptions{
		MasterName: c.MasterName,
		ClientName: o.ClientName,
		// Dialer dials the sentinels and the master; masterDialHook tells
		// which dial was the master's.
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if md, ok := ctx.Value(masterDialKey{}).(*masterDial); ok {
				md.addr = addr
			}
			return dial(ctx, network, addr)
		},
		SentinelUsername: c.SentinelUsername, SentinelPassword: c.SentinelPassword,
		Username: o.Username, Password: o.Password,
		MaxRetries: o.MaxRetries, DialerRetries: o.DialerRetries,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		ContextTimeoutEnabled: o.ContextTimeoutEnabled,
		ReadBufferSize:        o.ReadBufferSize, WriteBufferSize: o.WriteBufferSize,
		PipelinePoolSize: -1, // no pipelines: no pool for them
		PoolSize:         o.PoolSize, MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
		PoolTimeout: o.PoolTimeout, ConnMaxIdleTime: o.ConnMaxIdleTime,
		DisableIdentity: o.DisableIdentity,
	}
	// A FailoverClient is made at the first probe, and again after one of
	// its dials failed (redisClientOf), with the sentinels that answered
	// that probe: to find the master it asks all its sentinels and waits
	// for every one, so a sentinel that hangs would hold each of its dials
	// until the deadline. Sentinels it learns later (SENTINEL SENTINELS)
	// it asks only when the one it keeps fails.
	s.master = newRedisClientOf(func() *redis.Client {
		f := fo
		f.SentinelAddrs = slices.Clone(s.sentinelAddrs)
		if a := s.answered.Load(); a != nil {
			f.SentinelAddrs = slices.Clone(*a)
		}
		fc := redis.NewFailoverClient(&f)
		fc.AddHook(masterDialHook{})
		return fc
	})
	return s
}

// Close closes the check's connections.
func (c *RedisSentinel) Close() error {
	for _, s := range c.sentinels {
		s.Close()
	}
	c.master.Close()
	return c.replicaConns.Close()
}

// sentinelAnswer is one sentinel's answer to "where is the master?".
type sentinelAnswer struct {
	i       int
	master  string // host:port; "" when the sentinel does not know the name
	err     error  // the sentinel did not answer
	failure string // err in the shared words, worded when it came
	replied bool
}

// askSentinels asks every sentinel at once where the master is. It waits
// for all of them, but once one has answered it waits at most half the
// timeout for the others: a sentinel that hangs must not leave the probe
// no time to check the master. The answers are in config order; one that
// did not come has neither replied nor err set.
func (c *RedisSentinel) askSentinels(ctx context.Context) []sentinelAnswer {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make([]sentinelAnswer, len(c.sentinels))
	ch := make(chan sentinelAnswer, len(c.sentinels))
	for i, s := range c.sentinels {
		client := s.get()
		go func() {
			addr, err := client.GetMasterAddrByName(qctx, c.masterName).Result()
			a := sentinelAnswer{i: i}
			switch {
			case errors.Is(err, redis.Nil):
				a.replied = true
			case err != nil:
				a.err = err
			case len(addr) != 2:
				a.err = fmt.Errorf("sentinel answered %d fields for the master's address, want 2", len(addr))
			default:
				a.replied, a.master = true, net.JoinHostPort(addr[0], addr[1])
			}
			if a.err != nil {
				where := c.sentinelAddrs[i]
				a.failure = reasonOf(topologyFailure(ctx, a.err, c.timeout, where, c.secrets), where)
			}
			ch <- a
		}()
	}
	grace := time.NewTimer(c.timeout / 2)
	defer grace.Stop()
	replied, graceOver := 0, false
	for received := 0; received < len(c.sentinels); {
		select {
		case a := <-ch:
			received++
			answers[a.i] = a
			if a.replied {
				replied++
			}
			if graceOver && replied > 0 {
				return answers
			}
		case <-grace.C:
			graceOver = true
			if replied > 0 {
				return answers
			}
		}
	}
	return answers
}

// Check runs one probe.
func (c *RedisSentinel) Check(ctx context.Context) error {
	answers := c.askSentinels(ctx)
	var answered, failed, slow []string
	votes := map[string]int{}
	master := ""
	for i, a := range answers {
		addr := c.sentinelAddrs[i]
		switch {
		case a.replied:
			answered = append(answered, addr)
			if a.master != "" {
				votes[a.master]++
				// The address most sentinels name; on a tie, the first
				// sentinel's in config order.
				if master == "" || votes[a.master] > votes[master] {
					master = a.master
				}
			}
		case a.err != nil:
			failed = append(failed, a.failure)
		default:
			slow = append(slow, fmt.Sprintf("no answer within %v (%s)", c.timeout/2, addr))
		}
	}
	Observe(ctx, "sentinels", float64(len(answered)), "sentinels")
	if len(answered) == 0 {
		var cause error
		for _, a := range answers {
			cause = errors.Join(cause, a.err)
		}
		return &Error{Kind: KindUnavailable, Msg: "no sentinel answered: " + strings.Join(failed, ", "), Err: cause}
	}
	if master == "" {
		return Unavailable("master %q is unknown to the sentinels (%s)", c.masterName, strings.Join(answered, ", "))
	}
	c.answered.Store(&answered)
	client, done := c.master.acquire()
	defer done()
	fail := func(ctx context.Context, err error) error {
		return c.masterFailure(ctx, err, master)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		return fail(ctx, err)
	}
	if c.writeTest {
		if err := redisWriteTest(ctx, client, master, fail); err != nil {
			return err
		}
	}
	replicas, warn := c.replicas(ctx, answers)
	c.replicaConns.keep(replicas)
	note := fmt.Sprintf("master %q at %s; %d of %d sentinels answered", c.masterName, master, len(answered), len(c.sentinels))
	if len(failed)+len(slow) > 0 {
		note += " (not: " + strings.Join(append(failed, slow...), ", ") + ")"
	}
	if replicas != nil {
		note += fmt.Sprintf("; %d replicas", len(replicas))
	}
	Note(ctx, "%s", note)
	return warn
}

// masterFailure words a failed call of the FailoverClient. A failed dial
// names the address it dialed, which the FailoverClient had from a sentinel
// (master, from the sentinels this probe asked, is the same but while a
// failover is under way); a failure before it dialed was its own question
// to the sentinels.
func (c *RedisSentinel) masterFailure(ctx context.Context, err error, master string) error {
	var de *masterDialError
	if errors.As(err, &de) {
		if de.addr == "" {
			where := strings.Join(c.sentinelAddrs, ", ")
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("master %q: asking the sentinels again for its address failed: %s", c.masterName, reasonOf(topologyFailure(ctx, de.err, c.timeout, where, c.secrets), where)), Err: err}
		}
		master = de.addr
	}
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("master %q: %s", c.masterName, reasonOf(topologyFailure(ctx, err, c.timeout, master, c.secrets), master)), Err: err}
}

// masterDial is where one dial of the FailoverClient went: the master's
// address, or "" when it failed before it had one (asking the sentinels).
type masterDial struct{ addr string }

type masterDialKey struct{}

// masterDialError is a failed dial of the FailoverClient, and where it went.
type masterDialError struct {
	addr string // "": the FailoverClient could not learn the master's address
	err  error
}

func (e *masterDialError) Error() string { return e.err.Error() }
func (e *masterDialError) Unwrap() error { return e.err }

// masterDialHook wraps every failed dial of the FailoverClient's own pool
// (its connections to the master) in a masterDialError. The context it
// gives the dial reaches FailoverOptions.Dialer only on the dial to the
// master: the FailoverClient's sentinel clients dial from their own pools,
// with contexts of their own.
type masterDialHook struct{}

func (masterDialHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		md := &masterDial{}
		conn, err := next(context.WithValue(ctx, masterDialKey{}, md), network, addr)
		if err != nil {
			return nil, &masterDialError{addr: md.addr, err: err}
		}
		return conn, nil
	}
}

func (masterDialHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (masterDialHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// replicas asks the first sentinel that answered for the master's
// replicas, observes how many there are and, with checkReplicas, PINGs
// each: one that does not answer, or whose link to the master is down, is
// a warning. Without checkReplicas, a failure to ask is only a missing
// observation.
func (c *RedisSentinel) replicas(ctx context.Context, answers []sentinelAnswer) ([]string, error) {
	var sentinel string
	var client *redis.SentinelClient
	for i, a := range answers {
		if a.replied {
			sentinel, client = c.sentinelAddrs[i], c.sentinels[i].get()
			break
		}
	}
	list, err := client.Replicas(ctx, c.masterName).Result()
	if err != nil {
		if !c.checkReplicas {
			return nil, nil
		}
		return nil, &Error{Kind: KindWarning, Msg: "cannot list the replicas: " + reasonOf(topologyFailure(ctx, err, c.timeout, sentinel, c.secrets), sentinel), Err: err}
	}
	replicas := make([]string, 0, len(list))
	linkDown := map[string]bool{}
	for _, r := range list {
		addr := net.JoinHostPort(r["ip"], r["port"])
		replicas = append(replicas, addr)
		linkDown[addr] = r["master-link-status"] == "err"
	}
	Observe(ctx, "replicas", float64(len(replicas)), "replicas")
	if !c.checkReplicas {
		return replicas, nil
	}
	problems := make([]string, len(replicas))
	var wg sync.WaitGroup
	for i, addr := range replicas {
		client := c.replicaConns.get(addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := client.Ping(ctx).Err(); err != nil {
				problems[i] = "replica: " + reasonOf(topologyFailure(ctx, err, c.timeout, addr, c.secrets), addr)
			} else if linkDown[addr] {
				problems[i] = "replica " + addr + " has lost its link to the master"
			}
		}()
	}
	wg.Wait()
	problems = slices.DeleteFunc(problems, func(s string) bool { return s == "" })
	if len(problems) > 0 {
		return replicas, Warn("%s", strings.Join(problems, "; "))
	}
	return replicas, nil
}

// RedisCluster checks a Redis Cluster: a node (the first of cluster_nodes to
// answer) reports the cluster's state ok and every slot served, and every
// master serving slots answers PING.
type RedisCluster struct {
	seedAddrs       []string
	seeds           []*redisClient // one per cluster_nodes address, in config order
	timeout         time.Duration
	secrets         []string
	requireReplicas bool
	writeTest       bool

	// slots is the slot map the probe read last; the ClusterClient takes
	// its topology from it, never from a node of its choosing.
	slots atomic.Pointer[[]redis.ClusterSlot]

	newClient  func() (*redis.ClusterClient, *atomic.Bool)
	mu         sync.Mutex
	client     *redis.ClusterClient
	dialFailed *atomic.Bool
	closed     bool
}

func (c *redisConfig) buildCluster(env Env) *RedisCluster {
	rc := &RedisCluster{
		seedAddrs:       slices.Clone(c.ClusterNodes),
		timeout:         env.Timeout,
		secrets:         []string{c.Password},
		requireReplicas: c.RequireReplicas,
		writeTest:       c.WriteTest,
	}
	for _, addr := range c.ClusterNodes {
		rc.seeds = append(rc.seeds, newRedisClient(redisNodeOptions(addr, c.Username, c.Password, env.Timeout)))
	}
	username, password, timeout := c.Username, c.Password, env.Timeout
	rc.newClient = func() (*redis.ClusterClient, *atomic.Bool) {
		failed := new(atomic.Bool)
		dial := redis.NewDialer(redisNodeOptions("", username, password, timeout))
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:    slices.Clone(rc.seedAddrs),
			Username: username, Password: password,
			// The slot map is the one the probe just read.
			ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
				if s := rc.slots.Load(); s != nil {
					return *s, nil
				}
				return nil, errors.New("no slot map read yet")
			},
			ClusterStateReloadInterval: time.Hour,
			MaxRedirects:               -1, // no retry that outlives the probe
			MaintNotificationsConfig:   &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
			// Every node's client is set as the redis check's own, and
			// its failed dials mark this client for replacement (see
			// redisClient: go-redis's pool would otherwise keep
			// answering with the last dial error for up to a second).
			NewClient: func(opt *redis.Options) *redis.Client {
				o := *opt
				redisForChecks(&o, timeout)
				o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
					conn, err := dial(ctx, network, addr)
					if err != nil {
						failed.Store(true)
					}
					return conn, err
				}
				return redis.NewClient(&o)
			},
		})
		return cc, failed
	}
	rc.client, rc.dialFailed = rc.newClient()
	return rc
}

// cluster returns the ClusterClient for the next probe: a new one if a
// dial of the last one failed.
func (c *RedisCluster) cluster() *redis.ClusterClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dialFailed.Load() && !c.closed {
		c.client.Close()
		c.client, c.dialFailed = c.newClient()
	}
	return c.client
}

// Close closes the check's connections.
func (c *RedisCluster) Close() error {
	for _, s := range c.seeds {
		s.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.client.Close()
}

// clusterView is what one node says of the cluster.
type clusterView struct {
	node  string
	info  map[string]string // CLUSTER INFO's fields
	slots []redis.ClusterSlot
}

// ask asks every cluster_nodes address at once for CLUSTER INFO and
// CLUSTER SLOTS, and returns the first full answer; the others are
// canceled. With no answer, the error names each node's failure.
func (c *RedisCluster) ask(ctx context.Context) (clusterView, error) {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		i    int
		view clusterView
		err  error
	}
	ch := make(chan answer, len(c.seeds))
	for i, s := range c.seeds {
		client := s.get()
		go func() {
			var info *redis.StringCmd
			var slots *redis.ClusterSlotsCmd
			_, err := client.Pipelined(qctx, func(p redis.Pipeliner) error {
				info = p.ClusterInfo(qctx)
				slots = p.ClusterSlots(qctx)
				return nil
			})
			a := answer{i: i, err: err}
			if err == nil {
				a.view = clusterView{node: c.seedAddrs[i], info: parseRedisInfo(info.Val()), slots: slots.Val()}
				a.view.slots = withHost(a.view.slots, c.seedAddrs[i])
			}
			ch <- a
		}()
	}
	failures := make([]string, len(c.seeds))
	var cause error
	for range c.seeds {
		a := <-ch
		if a.err == nil {
			return a.view, nil
		}
		addr := c.seedAddrs[a.i]
		failures[a.i] = reasonOf(topologyFailure(ctx, a.err, c.timeout, addr, c.secrets), addr)
		cause = errors.Join(cause, a.err)
	}
	return clusterView{}, &Error{Kind: KindUnavailable, Msg: "no cluster node answered: " + strings.Join(failures, ", "), Err: cause}
}

// withHost gives the nodes that slots lists without a host (a node may not
// know its own address: Redis then answers "" or "?", which means "the
// host you asked") the host of seed.
func withHost(slots []redis.ClusterSlot, seed string) []redis.ClusterSlot {
	seedHost, _, _ := net.SplitHostPort(seed)
	for _, s := range slots {
		for i, n := range s.Nodes {
			if host, port, err := net.SplitHostPort(n.Addr); err == nil && (host == "" || host == "?") {
				s.Nodes[i].Addr = net.JoinHostPort(seedHost, port)
			}
		}
	}
	return slots
}

// masterAddr is the address the slot map gave for the master whose client
// ClusterClient made for addr. Fed a slot map (ClusterSlots), go-redis
// takes a loopback host for "the host asked" and drops it (":7000"),
// which dials the same loopback server but names none.
func masterAddr(addr string, masters map[string]bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "" {
		return addr
	}
	for m := range masters {
		if h, p, err := net.SplitHostPort(m); err == nil && p == port {
			if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
				return m
			}
		}
	}
	return addr
}

// parseRedisInfo reads "field:value" lines.
func parseRedisInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// Check runs one probe.
func (c *RedisCluster) Check(ctx context.Context) error {
	view, err := c.ask(ctx)
	if err != nil {
		return err
	}
	num := func(field string) int { n, _ := strconv.Atoi(view.info[field]); return n }
	slotsOK, assigned := num("cluster_slots_ok"), num("cluster_slots_assigned")
	masters := map[string]bool{}
	var unreplicated []string
	for _, s := range view.slots {
		if len(s.Nodes) == 0 {
			continue
		}
		masters[s.Nodes[0].Addr] = true
		if len(s.Nodes) < 2 {
			unreplicated = append(unreplicated, fmt.Sprintf("%d-%d (%s)", s.Start, s.End, s.Nodes[0].Addr))
		}
	}
	Observe(ctx, "slots", float64(slotsOK), "slots")
	Observe(ctx, "masters", float64(len(masters)), "masters")
	Observe(ctx, "nodes", float64(num("cluster_known_nodes")), "nodes")
	if state := view.info["cluster_state"]; state != "ok" {
		if state == "" {
			state = "unknown"
		}
		return Unavailable("cluster state is %s: %d of %d slots ok, %d assigned (%s)", state, slotsOK, redisClusterSlots, assigned, view.node)
	}
	if slotsOK != redisClusterSlots || assigned != redisClusterSlots {
		return Unavailable("%d of %d slots ok, %d assigned (%s)", slotsOK, redisClusterSlots, assigned, view.node)
	}

	c.slots.Store(&view.slots)
	cc := c.cluster()
	var mu sync.Mutex
	var down []string
	var cause error
	err = cc.ForEachMaster(ctx, func(ctx context.Context, client *redis.Client) error {
		if err := client.Ping(ctx).Err(); err != nil {
			addr := masterAddr(client.Options().Addr, masters)
			mu.Lock()
			down = append(down, reasonOf(topologyFailure(ctx, err, c.timeout, addr, c.secrets), addr))
			cause = errors.Join(cause, err)
			mu.Unlock()
		}
		return nil
	})
	if err != nil { // the slot map was refused: nothing was PINGed
		return topologyFailure(ctx, err, c.timeout, view.node, c.secrets)
	}
	if len(down) > 0 {
		slices.Sort(down)
		return &Error{Kind: KindUnavailable, Msg: "master: " + strings.Join(down, ", "), Err: cause}
	}
	if c.writeTest {
		fail := func(ctx context.Context, err error) error {
			return topologyFailure(ctx, err, c.timeout, view.node, c.secrets)
		}
		if err := redisWriteTest(ctx, cc, "cluster", fail); err != nil {
			return err
		}
	}
	Note(ctx, "cluster state ok: %d slots on %d masters, %d nodes known (%s)", slotsOK, len(masters), num("cluster_known_nodes"), view.node)
	if c.requireReplicas && len(unreplicated) > 0 {
		return Warn("slots without a replica: %s", strings.Join(unreplicated, ", "))
	}
	return nil
}
