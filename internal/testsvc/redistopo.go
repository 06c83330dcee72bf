package testsvc

// Redis topologies of the test's own, from the machine's redis-server on
// free loopback ports: a master, a replica and three sentinels; a six-node
// cluster (three masters, three replicas). Every process has its own
// directory under t.TempDir(); Cleanup kills them all.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisTopologyReady bounds how long a topology may take to settle (a
// replica synced, sentinels that know each other, a cluster that is ok)
// on a loaded machine.
const redisTopologyReady = 30 * time.Second

// RedisNode is one redis-server process of a topology.
type RedisNode struct {
	t        testing.TB
	name     string
	port     int
	dir      string
	args     []string // after the config file, if any
	config   string   // a config file to write before each start ("" for none)
	password string   // what an admin client sends (requirepass)
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Addr is the node's host:port.
func (n *RedisNode) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// Port is the node's port.
func (n *RedisNode) Port() int { return n.port }

func newRedisNode(t testing.TB, name, password string) *RedisNode {
	n := &RedisNode{t: t, name: name, port: FreePort(t), dir: t.TempDir(), password: password}
	t.Cleanup(n.Kill)
	return n
}

// Start starts the node and waits until it answers PING.
func (n *RedisNode) Start() {
	n.t.Helper()
	if n.cmd != nil {
		n.t.Fatalf("testsvc: %s already running", n.name)
	}
	var args []string
	if n.config != "" {
		path := filepath.Join(n.dir, n.name+".conf")
		if _, err := os.Stat(path); err != nil { // a sentinel rewrites its file: keep what it learnt
			if err := os.WriteFile(path, []byte(n.config), 0o600); err != nil {
				n.t.Fatalf("testsvc: %v", err)
			}
		}
		args = append(args, path)
	}
	args = append(args, "--port", strconv.Itoa(n.port), "--bind", "127.0.0.1", "--dir", n.dir,
		"--daemonize", "no", "--loglevel", "warning", "--logfile", "")
	args = append(args, n.args...)
	cmd := exec.Command("redis-server", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.OpenFile(filepath.Join(n.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.t.Fatalf("testsvc: %v", err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("testsvc: start %s: %v", n.name, err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func() { cmd.Wait(); close(n.exited) }()
	n.waitFor("PING", 10*time.Second, func(c *redis.Client, ctx context.Context) error { return c.Ping(ctx).Err() })
}

// Kill kills the node (SIGKILL, like a crash) and waits until it is gone.
func (n *RedisNode) Kill() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once continued
	n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// Pause stops the node (SIGSTOP), as a hung server: connections are
// accepted by the kernel and never answered. It returns once every thread
// has stopped.
func (n *RedisNode) Pause() {
	n.t.Helper()
	n.cmd.Process.Signal(syscall.SIGSTOP)
	deadline := time.Now().Add(10 * time.Second)
	for !allThreadsStopped(n.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			n.t.Fatalf("testsvc: %s did not stop within 10s of SIGSTOP", n.name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Resume continues a paused node (SIGCONT).
func (n *RedisNode) Resume() { n.cmd.Process.Signal(syscall.SIGCONT) }

// Client returns an admin client for the node.
func (n *RedisNode) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr(), Password: n.password, MaxRetries: -1,
		DialTimeout: time.Second, DisableIdentity: true, Protocol: 2})
}

// waitFor runs ok until it returns nil, for at most within; the node must
// not exit meanwhile.
func (n *RedisNode) waitFor(what string, within time.Duration, ok func(*redis.Client, context.Context) error) {
	n.t.Helper()
	c := n.Client()
	defer c.Close()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ok(c, ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-n.exited:
			log, _ := os.ReadFile(filepath.Join(n.dir, "log"))
			n.cmd = nil
			n.t.Fatalf("testsvc: %s exited:\n%s", n.name, log)
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("testsvc: %s (%s): %s not ready after %v: %v", n.name, n.Addr(), what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// infoField returns one field of INFO section.
func infoField(c *redis.Client, ctx context.Context, section, field string) (string, error) {
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no %s in INFO %s", field, section)
}

func needRedisServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testsvc: redis-server not found (run scripts/test-setup.sh): %v", err)
	}
}

// dataNodeArgs are the arguments of every data node: no persistence, a
// replica syncs at once, and both sides know the password.
func dataNodeArgs(password string) []string {
	args := []string{"--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"}
	if password != "" {
		args = append(args, "--requirepass", password, "--masterauth", password)
	}
	return args
}

// RedisSentinelSet is a master, a replica and three sentinels monitoring
// them as MasterName, quick to fail over: a master is down after 500 ms.
type RedisSentinelSet struct {
	Master, Replica *RedisNode
	Sentinels       []*RedisNode
	MasterName      string
	Startup         time.Duration
}

// SentinelAddrs are the sentinels' host:port.
func (s *RedisSentinelSet) SentinelAddrs() []string {
	var out []string
	for _, n := range s.Sentinels {
		out = append(out, n.Addr())
	}
	return out
}

// StartRedisSentinel starts the set and returns once the replica has synced
// and each sentinel knows the replica and the two other sentinels.
// password ("" for none) is the data nodes' requirepass, sentinelPassword
// the sentinels'.
func StartRedisSentinel(t testing.TB, password, sentinelPassword string) *RedisSentinelSet {
	t.Helper()
	return startRedisSentinel(t, password, sentinelPassword, 1, 3)
}

// StartRedisSentinelMinimal is a master and one sentinel (quorum 1), no
// replica: what a test of the sentinel's faults needs, quick to start.
func StartRedisSentinelMinimal(t testing.TB) *RedisSentinelSet {
	t.Helper()
	return startRedisSentinel(t, "", "", 0, 1)
}

func startRedisSentinel(t testing.TB, password, sentinelPassword string, replicas, sentinels int) *RedisSentinelSet {
	NeedsServer(t)
	t.Helper()
	needRedisServer(t)
	began := time.Now()
	s := &RedisSentinelSet{MasterName: "healthd-master"}
	s.Master = newRedisNode(t, "master", password)
	s.Master.args = dataNodeArgs(password)
	s.Master.Start()
	for range replicas {
		s.Replica = newRedisNode(t, "replica", password)
		s.Replica.args = append(dataNodeArgs(password), "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.port))
		s.Replica.Start()
		s.Replica.waitFor("replication link", redisTopologyReady, func(c *redis.Client, ctx context.Context) error {
			if v, err := infoField(c, ctx, "replication", "master_link_status"); err != nil || v != "up" {
				return fmt.Errorf("master_link_status %q: %v", v, err)
			}
			return nil
		})
	}
	quorum := min(2, sentinels)
	for i := range sentinels {
		n := newRedisNode(t, fmt.Sprintf("sentinel%d", i), sentinelPassword)
		conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d\n", s.MasterName, s.Master.port, quorum) +
			fmt.Sprintf("sentinel down-after-milliseconds %s 500\n", s.MasterName) +
			fmt.Sprintf("sentinel failover-timeout %s 3000\n", s.MasterName)
		if password != "" {
			conf += fmt.Sprintf("sentinel auth-pass %s %s\n", s.MasterName, password)
		}
		if sentinelPassword != "" {
			conf += fmt.Sprintf("requirepass %s\nsentinel sentinel-pass %s\n", sentinelPassword, sentinelPassword)
		}
		n.config = conf
		n.args = []string{"--sentinel"}
		n.Start()
		s.Sentinels = append(s.Sentinels, n)
	}
	for _, n := range s.Sentinels {
		n.waitFor("sentinel discovery", redisTopologyReady, func(c *redis.Client, ctx context.Context) error {
			m, err := c.Do(ctx, "sentinel", "master", s.MasterName).StringSlice()
			if err != nil {
				return err
			}
			f := map[string]string{}
			for i := 0; i+1 < len(m); i += 2 {
				f[m[i]] = m[i+1]
			}
			if f["num-slaves"] != strconv.Itoa(replicas) || f["num-other-sentinels"] != strconv.Itoa(sentinels-1) {
				return fmt.Errorf("knows %s replicas and %s other sentinels", f["num-slaves"], f["num-other-sentinels"])
			}
			return nil
		})
	}
	s.Startup = time.Since(began)
	return s
}

// MasterAddr is the master's host:port as the first sentinel that answers
// names it.
func (s *RedisSentinelSet) MasterAddr(t testing.TB) string {
	t.Helper()
	for _, n := range s.Sentinels {
		if n.cmd == nil {
			continue
		}
		c := n.Client()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addr, err := c.Do(ctx, "sentinel", "get-master-addr-by-name", s.MasterName).StringSlice()
		cancel()
		c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1])
		}
	}
	t.Fatalf("testsvc: no sentinel names the master")
	return ""
}

// RedisCluster is a six-node Redis Cluster: three masters, each with one
// replica, with a 1 s node timeout so that a replica takes over quickly.
type RedisCluster struct {
	Nodes   []*RedisNode
	Startup time.Duration
}

// Addrs are the nodes' host:port.
func (c *RedisCluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// StartRedisCluster starts six cluster-enabled redis-servers, joins them
// with `redis-cli --cluster create --cluster-replicas 1`, and returns once
// every node reports cluster_state:ok and a replica for every slot, and
// every replica has synced. Most of its start (about 10 s) is the wait for
// every node to learn the replicas by gossip.
func StartRedisCluster(t testing.TB, password string) *RedisCluster {
	NeedsServer(t)
	t.Helper()
	needRedisServer(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("testsvc: redis-cli not found (run scripts/test-setup.sh): %v", err)
	}
	began := time.Now()
	c := &RedisCluster{}
	for i := range 6 {
		n := newRedisNode(t, fmt.Sprintf("node%d", i), password)
		n.args = append(dataNodeArgs(password), clusterArgs(t, n)...)
		n.args = append(n.args, "--cluster-replica-validity-factor", "0")
		n.Start()
		c.Nodes = append(c.Nodes, n)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), redisTopologyReady)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", args...)
	if password != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testsvc: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		n.waitFor("cluster state ok", redisTopologyReady, func(cl *redis.Client, ctx context.Context) error {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("cluster not ok yet")
			}
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			for _, s := range slots { // replicas are known by gossip, a little later
				if len(s.Nodes) != 2 {
					return fmt.Errorf("slots %d-%d: %d nodes, want a master and a replica", s.Start, s.End, len(s.Nodes))
				}
			}
			if role, err := infoField(cl, ctx, "replication", "role"); err != nil {
				return err
			} else if role == "slave" {
				if v, err := infoField(cl, ctx, "replication", "master_link_status"); err != nil || v != "up" {
					return fmt.Errorf("master_link_status %q: %v", v, err)
				}
			}
			return nil
		})
	}
	c.Startup = time.Since(began)
	return c
}

// Masters are the nodes that serve slots now, as the first node that
// answers sees it.
func (c *RedisCluster) Masters(t testing.TB) []*RedisNode {
	t.Helper()
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		cl := n.Client()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		slots, err := cl.ClusterSlots(ctx).Result()
		cancel()
		cl.Close()
		if err != nil {
			continue
		}
		var out []*RedisNode
		for _, s := range slots {
			for _, m := range c.Nodes {
				if len(s.Nodes) > 0 && s.Nodes[0].Addr == m.Addr() {
					out = append(out, m)
				}
			}
		}
		return out
	}
	t.Fatalf("testsvc: no cluster node answers CLUSTER SLOTS")
	return nil
}

// clusterArgs makes n a cluster node. Its bus port is a free port of its
// own: by default Redis takes the data port + 10000, which on this machine
// is in the ephemeral range, and was once in use ("Failed listening on port
// … (cluster)").
func clusterArgs(t testing.TB, n *RedisNode) []string {
	return []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(n.dir, "nodes.conf"),
		"--cluster-node-timeout", "1000", "--cluster-port", strconv.Itoa(FreePort(t))}
}

// StartRedisClusterNode is a one-node Redis Cluster serving all 16384
// slots, no replica: what a test of a cluster node's faults needs, quick
// to start.
func StartRedisClusterNode(t testing.TB) *RedisNode {
	NeedsServer(t)
	t.Helper()
	needRedisServer(t)
	n := newRedisNode(t, "cluster-node", "")
	n.args = append(dataNodeArgs(""), clusterArgs(t, n)...)
	n.Start()
	cl := n.Client()
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Do(ctx, "cluster", "addslotsrange", 0, 16383).Err(); err != nil {
		t.Fatalf("testsvc: CLUSTER ADDSLOTSRANGE: %v", err)
	}
	n.waitFor("cluster state ok", redisTopologyReady, func(cl *redis.Client, ctx context.Context) error {
		if v, err := clusterStateOf(cl.ClusterInfo(ctx).Result()); err != nil || v != "ok" {
			return fmt.Errorf("cluster_state %q: %v", v, err)
		}
		return nil
	})
	return n
}

// clusterStateOf is cluster_state in a CLUSTER INFO reply.
func clusterStateOf(info string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no cluster_state")
}
