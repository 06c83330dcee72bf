package checks_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// redisTopologyChange bounds how long a topology takes to heal itself (a
// sentinel or cluster failover, a restarted node rejoining) on an idle
// machine; Eventually adds the busy machine's slack.
const redisTopologyChange = 20 * time.Second

func TestRedisTopologies_ConfigErrors(t *testing.T) {
	sentinel := func(extra map[string]any) map[string]any {
		keys := map[string]any{"sentinels": []any{"127.0.0.1:26379"}, "master_name": "mymaster"}
		for k, v := range extra {
			keys[k] = v
		}
		return keys
	}
	cluster := func(extra map[string]any) map[string]any {
		keys := map[string]any{"cluster_nodes": []any{"127.0.0.1:7000", "127.0.0.1:7001"}}
		for k, v := range extra {
			keys[k] = v
		}
		return keys
	}
	checkstest.ConfigTable(t, "redis", []checkstest.ConfigCase{
		{Name: "sentinel is valid", Keys: sentinel(map[string]any{"check_replicas": true, "sentinel_password": "s3cr3t-sp", "password": "s3cr3t-p", "write_test": true}), Want: ""},
		{Name: "cluster is valid", Keys: cluster(map[string]any{"require_replicas": true, "username": "app", "password": "s3cr3t-p"}), Want: ""},
		{Name: "nothing to check", Keys: map[string]any{}, Want: `key "url": is required (or sentinels, or cluster_nodes)`},
		{Name: "url and sentinels", Keys: sentinel(map[string]any{"url": "redis://:s3cr3t@127.0.0.1:6379"}), Want: `key "sentinels": cannot be used with url: set one of url, sentinels, cluster_nodes`},
		{Name: "sentinels and cluster_nodes", Keys: sentinel(map[string]any{"cluster_nodes": []any{"127.0.0.1:7000"}}), Want: `key "cluster_nodes": cannot be used with sentinels: set one of url, sentinels, cluster_nodes`, Contains: true},
		{Name: "sentinels without master_name", Keys: map[string]any{"sentinels": []any{"127.0.0.1:26379"}}, Want: `key "master_name": is required with sentinels`},
		{Name: "empty sentinels", Keys: map[string]any{"sentinels": []any{}, "master_name": "m"}, Want: `key "sentinels": must list at least one host:port`},
		{Name: "sentinel without port", Keys: map[string]any{"sentinels": []any{"127.0.0.1:26379", "sentinel-b"}, "master_name": "m"}, Want: `key "sentinels[1]": must be host:port`},
		{Name: "cluster node without port", Keys: map[string]any{"cluster_nodes": []any{"redis://node:7000"}}, Want: `key "cluster_nodes[0]": must be host:port`},
		{Name: "password with url", Keys: map[string]any{"url": "redis://127.0.0.1:6379", "password": "s3cr3t-p"}, Want: `key "password": is for sentinels and cluster_nodes; put the credentials in url`},
		{Name: "master_name without sentinels", Keys: cluster(map[string]any{"master_name": "m"}), Want: `key "master_name": is used only with sentinels`},
		{Name: "sentinel_password without sentinels", Keys: map[string]any{"url": "redis://127.0.0.1:6379", "sentinel_password": "s3cr3t-sp"}, Want: `key "sentinel_password": is used only with sentinels`},
		{Name: "check_replicas on a cluster", Keys: cluster(map[string]any{"check_replicas": true}), Want: `key "check_replicas": is used only with sentinels`},
		{Name: "require_replicas with sentinels", Keys: sentinel(map[string]any{"require_replicas": true}), Want: `key "require_replicas": is used only with cluster_nodes`},
		{Name: "misspelt key", Keys: sentinel(map[string]any{"sentinel_pasword": "s3cr3t-sp"}), Want: `key "sentinel_pasword": unknown key (did you mean "sentinel_password"?)`},
	})
}

// unreachableTopology is checkstest.Unreachable for the nodes a topology
// check asks first (sentinels, cluster seed nodes): the same words for
// each fault, after what the check could not do ("no sentinel answered: ").
func unreachableTopology(t *testing.T, prefix string, mk func(t *testing.T, addrs []string) *checkstest.Check) {
	faults := []struct {
		name string
		addr func(testing.TB) string
		want string // %[1]s: the address, %[2]s: the timeout
	}{
		{"refused", testsvc.RefusedAddr, "connection refused (%[1]s)"},
		{"accepts and never answers", testsvc.HangingAddr, "timed out after %[2]s (%[1]s)"},
		{"black-holed", testsvc.BlackholeAddr, "timed out after %[2]s (%[1]s)"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			addr := f.addr(t)
			c := mk(t, []string{addr})
			want := "unavailable: " + prefix + fmt.Sprintf(f.want, addr, c.Timeout)
			for i := range 3 {
				if r := c.Fails(t, want); r.Message != want {
					t.Errorf("probe %d: message = %q, want %q", i, r.Message, want)
				}
			}
		})
	}
	t.Run("each node's own fault", func(t *testing.T) {
		t.Parallel()
		refused, hanging := testsvc.RefusedAddr(t), testsvc.HangingAddr(t)
		c := mk(t, []string{refused, hanging})
		want := fmt.Sprintf("unavailable: %sconnection refused (%s), timed out after %s (%s)", prefix, refused, c.Timeout, hanging)
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
}

func TestRedisSentinel_NoSentinelAnswersFailsWithinTheTimeout(t *testing.T) {
	unreachableTopology(t, "no sentinel answered: ", func(t *testing.T, addrs []string) *checkstest.Check {
		return checkstest.New(t, "redis", map[string]any{"sentinels": toAny(addrs), "master_name": "mymaster",
			"sentinel_password": checkstest.Secret + "-sp", "password": checkstest.Secret + "-p"}, checkstest.Options{Timeout: redisShortTimeout})
	})
}

func TestRedisCluster_NoNodeAnswersFailsWithinTheTimeout(t *testing.T) {
	unreachableTopology(t, "no cluster node answered: ", func(t *testing.T, addrs []string) *checkstest.Check {
		return checkstest.New(t, "redis", map[string]any{"cluster_nodes": toAny(addrs), "password": checkstest.Secret + "-p"},
			checkstest.Options{Timeout: redisShortTimeout})
	})
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// TestRedisSentinel_FollowsTheMaster runs a master, a replica and three
// sentinels of its own; the failover at its end changes the set, so the
// subtests run in order.
func TestRedisSentinel_FollowsTheMaster(t *testing.T) {
	t.Parallel()
	const password, sentinelPassword = checkstest.Secret + "-data", checkstest.Secret + "-sentinel"
	set := testsvc.StartRedisSentinel(t, password, sentinelPassword)
	t.Logf("master, replica and 3 sentinels: start took %v", set.Startup)
	keys := func(extra map[string]any) map[string]any {
		k := map[string]any{"sentinels": toAny(set.SentinelAddrs()), "master_name": set.MasterName,
			"sentinel_password": sentinelPassword, "password": password}
		for n, v := range extra {
			k[n] = v
		}
		return k
	}
	opts := checkstest.Options{}
	master := set.Master.Addr()

	t.Run("passes and observes the sentinels and replicas", func(t *testing.T) {
		c := checkstest.New(t, "redis", keys(map[string]any{"check_replicas": true, "write_test": true}), opts)
		r := c.Passes(t)
		if got := r.Observation(t, "sentinels", "sentinels"); got != 3 {
			t.Errorf("sentinels = %v, want 3", got)
		}
		if got := r.Observation(t, "replicas", "replicas"); got != 1 {
			t.Errorf("replicas = %v, want 1", got)
		}
		if !strings.Contains(r.Note, master) {
			t.Errorf("note %q does not name the master %s", r.Note, master)
		}
		checkstest.NoSecret(t, "note", r.Note)
	})
	t.Run("a sentinel that is down leaves the others", func(t *testing.T) {
		refused := testsvc.RefusedAddr(t)
		k := keys(nil)
		k["sentinels"] = append(toAny(set.SentinelAddrs()), refused)
		r := checkstest.New(t, "redis", k, opts).Passes(t)
		if got := r.Observation(t, "sentinels", "sentinels"); got != 3 {
			t.Errorf("sentinels = %v, want 3", got)
		}
		if !strings.Contains(r.Note, "connection refused ("+refused+")") {
			t.Errorf("note %q does not name the sentinel that did not answer", r.Note)
		}
	})
	t.Run("a master unknown to the sentinels", func(t *testing.T) {
		c := checkstest.New(t, "redis", keys(map[string]any{"master_name": "no-such-master"}), opts)
		want := `unavailable: master "no-such-master" is unknown to the sentinels (` + strings.Join(set.SentinelAddrs(), ", ") + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("wrong passwords are named without the passwords", func(t *testing.T) {
		c := checkstest.New(t, "redis", keys(map[string]any{"sentinel_password": "wrong-" + sentinelPassword}), opts)
		a := set.SentinelAddrs()
		want := fmt.Sprintf("unavailable: no sentinel answered: password authentication failed (%s), password authentication failed (%s), password authentication failed (%s)", a[0], a[1], a[2])
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
		k := keys(nil)
		delete(k, "sentinel_password")
		c = checkstest.New(t, "redis", k, opts)
		want = fmt.Sprintf("unavailable: no sentinel answered: authentication required: no password given (%s), authentication required: no password given (%s), authentication required: no password given (%s)", a[0], a[1], a[2])
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
		c = checkstest.New(t, "redis", keys(map[string]any{"password": "wrong-" + password}), opts)
		want = fmt.Sprintf(`unavailable: master %q: password authentication failed (%s)`, set.MasterName, master)
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("follows the master the sentinels promote", func(t *testing.T) {
		c := checkstest.New(t, "redis", keys(map[string]any{"check_replicas": true}), opts)
		c.Passes(t)
		set.Master.Kill()
		// Until the sentinels agree it is down, they name the dead master.
		want := fmt.Sprintf(`unavailable: master %q: connection refused (%s)`, set.MasterName, master)
		if r := c.Fails(t, "unavailable: "); r.Message != want {
			t.Errorf("first probe after the kill: %q, want %q", r.Message, want)
		}
		// Then the replica is the master, and the old master a replica
		// that does not answer: a warning.
		deadline := time.Now().Add(redisTopologyChange + testsvc.HangSlack)
		warn := "warning: replica: connection refused (" + master + ")"
		for {
			r := c.Run()
			if r.Message == warn {
				if !strings.Contains(r.Note, set.Replica.Addr()) {
					t.Errorf("note %q does not name the new master %s", r.Note, set.Replica.Addr())
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failover after %v: %s", redisTopologyChange, r.Message)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Without check_replicas, the check simply passes on the new master.
		plain := checkstest.New(t, "redis", keys(map[string]any{"write_test": true}), opts)
		if r := plain.Eventually(t, redisTopologyChange); !strings.Contains(r.Note, set.Replica.Addr()) {
			t.Errorf("note %q does not name the new master %s", r.Note, set.Replica.Addr())
		}
		if got := set.MasterAddr(t); got != set.Replica.Addr() {
			t.Errorf("sentinels name %s, want the old replica %s", got, set.Replica.Addr())
		}
		// Not tested: the old master restarted becomes a replica of the new
		// one only after the sentinels have seen it claim to be a master for
		// 8 s (Redis's own wait), too long for this test.
	})
}

// TestRedisCluster_StateAndMasters runs a six-node cluster of its own; a
// master is killed at its end, so the subtests run in order.
func TestRedisCluster_StateAndMasters(t *testing.T) {
	t.Parallel()
	const password = checkstest.Secret + "-cluster"
	cl := testsvc.StartRedisCluster(t, password)
	t.Logf("six-node cluster: start took %v", cl.Startup)
	keys := func(extra map[string]any) map[string]any {
		k := map[string]any{"cluster_nodes": toAny(cl.Addrs()), "password": password}
		for n, v := range extra {
			k[n] = v
		}
		return k
	}
	opts := checkstest.Options{}

	t.Run("passes and observes slots, masters and nodes", func(t *testing.T) {
		c := checkstest.New(t, "redis", keys(map[string]any{"require_replicas": true, "write_test": true}), opts)
		for range 3 {
			r := c.Passes(t)
			for _, o := range []struct {
				m, unit string
				want    float64
			}{{"slots", "slots", 16384}, {"masters", "masters", 3}, {"nodes", "nodes", 6}} {
				if got := r.Observation(t, o.m, o.unit); got != o.want {
					t.Errorf("%s = %v, want %v", o.m, got, o.want)
				}
			}
			checkstest.NoSecret(t, "note", r.Note)
		}
	})
	t.Run("one seed node is enough", func(t *testing.T) {
		k := keys(nil)
		k["cluster_nodes"] = []any{testsvc.RefusedAddr(t), cl.Nodes[3].Addr()}
		checkstest.New(t, "redis", k, opts).Passes(t)
	})
	t.Run("wrong password is named without the password", func(t *testing.T) {
		k := keys(map[string]any{"password": "wrong-" + password})
		k["cluster_nodes"] = []any{cl.Nodes[0].Addr()}
		want := "unavailable: no cluster node answered: password authentication failed (" + cl.Nodes[0].Addr() + ")"
		if r := checkstest.New(t, "redis", k, opts).Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("a master down fails the cluster's state until its replica takes over", func(t *testing.T) {
		c := checkstest.New(t, "redis", keys(map[string]any{"require_replicas": true}), opts)
		c.Passes(t)
		victim := cl.Masters(t)[0]
		victim.Kill()
		// At once the dead master does not answer PING (or, on a slow
		// machine, its node timeout of 1 s has already passed and the
		// state is fail).
		r := c.Fails(t, "unavailable: ")
		if r.Message != "unavailable: master: connection refused ("+victim.Addr()+")" && !strings.HasPrefix(r.Message, "unavailable: cluster state is fail: ") {
			t.Errorf("first probe after the kill: %s; want the dead master named, or the cluster's state", r.Message)
		}
		// Then the nodes mark it failed: the cluster's state is fail until
		// the replica is promoted (at least 0.5 s, Redis's failover delay).
		// Once promoted, the new master's slots have no replica.
		sawFail := strings.HasPrefix(r.Message, "unavailable: cluster state is fail: ")
		deadline := time.Now().Add(redisTopologyChange + testsvc.HangSlack)
		for {
			r := c.Run()
			if strings.HasPrefix(r.Message, "unavailable: cluster state is fail: ") && !sawFail {
				sawFail = true
				t.Logf("state fail: %s", r.Message)
			}
			if strings.HasPrefix(r.Message, "warning: slots without a replica: ") {
				if got := r.Observation(t, "slots", "slots"); got != 16384 {
					t.Errorf("slots = %v after the failover, want 16384", got)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failover after %v: %s", redisTopologyChange, r.Message)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !sawFail {
			t.Errorf("no probe said the cluster's state is fail between the kill and the failover")
		}
		// The old master comes back as a replica of the new one.
		victim.Start()
		c.Eventually(t, redisTopologyChange)
	})
}

// TestRedisSentinel_MasterBackPassesOnTheFirstProbe: a master with no
// replica to promote is killed; the sentinels keep naming it, every probe
// while it is down says so, and the first probe after it is back passes
// (the check's client for it forgot its failed dials).
func TestRedisSentinel_MasterBackPassesOnTheFirstProbe(t *testing.T) {
	t.Parallel()
	set := testsvc.StartRedisSentinelMinimal(t)
	c := checkstest.New(t, "redis", map[string]any{"sentinels": toAny(set.SentinelAddrs()), "master_name": set.MasterName}, checkstest.Options{})
	c.Passes(t)
	set.Master.Kill()
	want := fmt.Sprintf(`unavailable: master %q: connection refused (%s)`, set.MasterName, set.Master.Addr())
	for i := range checkstest.ProbesWhileDown + 1 {
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("probe %d while down: message = %q, want %q", i, r.Message, want)
		}
	}
	set.Master.Start()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("first run after the master is back: %s", r.Message)
	}
}

// TestRedisSentinel_AHangingSentinelLeavesTimeForTheMaster: once one
// sentinel has answered, the probe waits for the others at most half its
// timeout, and checks the master in the other half.
func TestRedisSentinel_AHangingSentinelLeavesTimeForTheMaster(t *testing.T) {
	t.Parallel()
	set := testsvc.StartRedisSentinelMinimal(t)
	hanging := testsvc.HangingAddr(t)
	c := checkstest.New(t, "redis", map[string]any{"sentinels": []any{hanging, set.SentinelAddrs()[0]}, "master_name": set.MasterName},
		checkstest.Options{Timeout: 4 * time.Second})
	r := c.Passes(t)
	if got := r.Observation(t, "sentinels", "sentinels"); got != 1 {
		t.Errorf("sentinels = %v, want 1", got)
	}
	if want := "no answer within 2s (" + hanging + ")"; !strings.Contains(r.Note, want) {
		t.Errorf("note %q does not say %q", r.Note, want)
	}
}

// TestRedisSentinel_HungMasterTimesOutThenPassesOnTheFirstProbe: a master
// that accepts and never answers (SIGSTOP) fails each probe at the check's
// deadline, and the first probe once it answers again passes.
func TestRedisSentinel_HungMasterTimesOutThenPassesOnTheFirstProbe(t *testing.T) {
	t.Parallel()
	set := testsvc.StartRedisSentinelMinimal(t)
	c := checkstest.New(t, "redis", map[string]any{"sentinels": toAny(set.SentinelAddrs()), "master_name": set.MasterName},
		checkstest.Options{Timeout: redisShortTimeout})
	c.Passes(t)
	set.Master.Pause()
	defer set.Master.Resume()
	want := fmt.Sprintf(`unavailable: master %q: timed out after %v (%s)`, set.MasterName, redisShortTimeout, set.Master.Addr())
	for i := range 3 { // the pooled connection, then new ones
		r := c.FailsWith(t, want)
		t.Logf("probe %d while the master hangs: %s in %v", i, r.Message, r.Took)
	}
	set.Master.Resume()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("first probe after the master answers again: %s (in %v)", r.Message, r.Took)
	}
}
