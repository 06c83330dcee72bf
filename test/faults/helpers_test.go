package faults

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// dependency is one check type and how to point it at an address.
type dependency struct {
	typ string
	// name tells apart dependencies of one type (the redis type's
	// topologies); "" is typ.
	name string
	// prefix is what the check says before the shared words of a fault at
	// the address it is given, when that address is one of several it may
	// ask ("no sentinel answered: ").
	prefix string
	// upstream starts (or finds) a healthy server and returns its
	// host:port, and the check's own keys as a YAML flow mapping body with
	// one %s for host:port (credentials may depend on the server).
	upstream func(t *testing.T) (addr, keys string)
	// connectOnly: the check only opens a TCP connection, so a server that
	// accepts (even one that never answers) is up, and a probe cannot be
	// cut in the middle.
	connectOnly bool
}

// dependencies lists every network check type on this branch with a real
// server for it. Types that land later get one entry each.
func dependencies() []dependency {
	fixed := func(keys string, addr func(t *testing.T) string) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) { return addr(t), keys }
	}
	return []dependency{
		{typ: "postgres", upstream: fixed(`dsn: "postgres://postgres@%s/postgres?sslmode=disable"`, func(t *testing.T) string {
			testsvc.MachinePostgres(t)
			return "127.0.0.1:5432"
		})},
		{typ: "mysql", upstream: fixed(`dsn: "root@tcp(%s)/test"`, func(t *testing.T) string {
			testsvc.MachineMySQL(t)
			return testsvc.MachineMySQLAddr
		})},
		{typ: "redis", upstream: fixed(`url: "redis://%s/0"`, func(t *testing.T) string { return testsvc.MachineRedis(t) })},
		// The address is a sentinel's, or a cluster node's: the check asks
		// it for the master (the slot map), then reaches the master at the
		// address it names, past the proxies. The faults are the asked
		// node's.
		{typ: "redis", name: "redis-sentinel", prefix: "no sentinel answered: ", upstream: func(t *testing.T) (string, string) {
			s := testsvc.StartRedisSentinelMinimal(t)
			return s.SentinelAddrs()[0], `sentinels: ["%s"], master_name: ` + s.MasterName
		}},
		{typ: "redis", name: "redis-cluster", prefix: "no cluster node answered: ", upstream: fixed(`cluster_nodes: ["%s"]`, func(t *testing.T) string {
			return testsvc.StartRedisClusterNode(t).Addr()
		})},
		{typ: "memcached", upstream: fixed(`servers: ["%s"]`, func(t *testing.T) string { return testsvc.StartMemcached(t).Addr() })},
		{typ: "rabbitmq", upstream: fixed(`url: "amqp://guest:guest@%s/"`, func(t *testing.T) string { return testsvc.RabbitMQ(t) })},
		// min_workers 0: no worker is needed; the probe opens (or reuses)
		// its broker connection and channel.
		{typ: "celery", upstream: fixed(`broker: "amqp://guest:guest@%s/", min_workers: 0`, func(t *testing.T) string { return testsvc.RabbitMQ(t) })},
		{typ: "s3", upstream: func(t *testing.T) (string, string) {
			g := testsvc.StartVersityGW(t)
			return g.Addr, fmt.Sprintf(`bucket: %s, region: %s, path_style: true, access_key_id: %s, secret_access_key: %s, endpoint: "http://%%s"`,
				g.Bucket, g.Region, g.AccessKey, g.SecretKey)
		}},
		{typ: "sql", upstream: fixed(`dsn: "postgres://postgres@%s/postgres?sslmode=disable", query: "SELECT count(*) FROM pg_database", fail_below: 1`, func(t *testing.T) string {
			testsvc.MachinePostgres(t)
			return "127.0.0.1:5432"
		})},
		{typ: "http", upstream: fixed(`url: "http://%s/healthz"`, httpUpstream)},
		{typ: "tcp", upstream: fixed(`address: "%s"`, httpUpstream), connectOnly: true},
		// dns is not here: it speaks UDP, which the TCP proxy cannot carry.
		// internal/checks/dns_test.go holds its faults against a real
		// dnsmasq (silent and refused ports, SERVFAIL, answers held by a UDP
		// relay, SIGSTOP, kill and restart, a failing TCP retry); the leak
		// test gives it the same share as the others.
		{typ: "smtp", upstream: fixed(`address: "%s"`, func(t *testing.T) string { return testsvc.StartSMTP(t, testsvc.SMTPOptions{}).Addr })},
		// server_name: the proxy's address is 127.0.0.1 too, but a name
		// proves SNI and host checks go to the name, not the address.
		{typ: "tls", upstream: func(t *testing.T) (string, string) {
			ca := testsvc.NewCA(t)
			addr := testsvc.ServeTLS(t, ca.Issue([]string{"upstream.test"}, time.Now().Add(90*24*time.Hour)))
			return addr, `address: "%s", server_name: upstream.test, ca_file: "` + ca.File + `"`
		}},
		{typ: "grpc", upstream: fixed(`address: "%s"`, func(t *testing.T) string { return testsvc.StartGRPC(t, nil).Addr() })},
		// kafka: the check asks the listed brokers themselves for metadata,
		// so the proxies stand where a broker would; kfake (in-process)
		// advertises its own address, which only the round trip would use.
		{typ: "kafka", upstream: fixed(`brokers: ["%s"], topics: [orders]`, func(t *testing.T) string {
			testsvc.NeedsServer(t) // in-process, but the suite is the server tier: -short stays quick
			return testsvc.StartKafka(t, kfake.SeedTopics(1, "orders")).Addr()
		})},
		{typ: "nats", upstream: fixed(`url: "nats://%s"`, func(t *testing.T) string { return testsvc.MachineNATS(t) })},
		{typ: "mqtt", upstream: fixed(`url: "mqtt://%s", round_trip_topic: healthd/faults`, func(t *testing.T) string {
			return testsvc.StartMosquitto(t, "", "").Addr()
		})},
	}
}

// label is the dependency's name in test names and check names.
func (d dependency) label() string {
	if d.name != "" {
		return d.name
	}
	return d.typ
}

func httpUpstream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// checkYAML is one entry of a checks: list.
func checkYAML(typ, keys, name, addr string) string {
	return fmt.Sprintf("  - {name: %s, type: %s, %s}\n", name, typ, fmt.Sprintf(keys, addr))
}

// load parses a config with the built-in registry, as the daemon does, and
// closes it when the test ends.
func load(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("faults.yaml", []byte(yaml), config.Options{Registry: checks.Builtin(), LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return cfg
}

// header is the part of every fault config before the checks: no caching,
// so every Run is a real run.
func header(timeout time.Duration) string {
	return fmt.Sprintf("defaults: {timeout: %s, cache_ttl: 0s, max_stale: 0s}\nchecks:\n", timeout)
}

// probe runs one check through the runner and times it.
func probe(r *runner.Runner, name string) (*runner.Result, time.Duration) {
	c := r.Lookup(name)
	start := time.Now()
	snaps := r.Run(context.Background(), []*runner.Check{c})
	return snaps[0].Result, time.Since(start)
}

// serveFile runs daemon.Serve on the config file at path, logging to logs,
// and returns its base URL and a stop that waits for Serve to return (and
// reports its error); the end of the test stops it too.
func serveFile(t *testing.T, path string, logs *testsvc.Buffer) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Serve(ctx, daemon.Options{ConfigPath: path, Version: "test", Stderr: logs, NoWatch: true,
			Ready: func(a string) { addr <- a }})
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case a := <-addr:
		return "http://" + a, stop
	case err := <-done:
		done <- err // for stop
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", stop
}
