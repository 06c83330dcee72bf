package faults

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// dependency is one check type and how to point it at an address.
type dependency struct {
	typ string
	// upstream starts (or finds) a healthy server and returns its host:port.
	upstream func(t *testing.T) string
	// keys is the check's own keys as a YAML flow mapping body with one %s
	// for host:port.
	keys string
	// connectOnly: the check only opens a TCP connection, so a server that
	// accepts (even one that never answers) is up, and a probe cannot be
	// cut in the middle.
	connectOnly bool
}

// dependencies lists every network check type on this branch with a real
// server for it. Types that land later get one entry each.
func dependencies() []dependency {
	return []dependency{
		{typ: "postgres", upstream: func(t *testing.T) string {
			testsvc.MachinePostgres(t)
			return "127.0.0.1:5432"
		}, keys: `dsn: "postgres://postgres@%s/postgres?sslmode=disable"`},
		{typ: "redis", upstream: func(t *testing.T) string { return testsvc.MachineRedis(t) }, keys: `url: "redis://%s/0"`},
		{typ: "memcached", upstream: func(t *testing.T) string { return testsvc.StartMemcached(t).Addr() }, keys: `servers: ["%s"]`},
		{typ: "http", upstream: httpUpstream, keys: `url: "http://%s/healthz"`},
		{typ: "tcp", upstream: httpUpstream, keys: `address: "%s"`, connectOnly: true},
	}
}

func httpUpstream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// checkYAML is one entry of a checks: list.
func (d dependency) checkYAML(name, addr string) string {
	return fmt.Sprintf("  - {name: %s, type: %s, %s}\n", name, d.typ, fmt.Sprintf(d.keys, addr))
}

// load parses a config with the built-in registry, as the daemon does, and
// closes it when the test ends.
func load(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("faults.yaml", []byte(yaml), config.Options{Registry: checks.Builtin(), LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	t.Cleanup(func() { cfg.Close() })
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

// slack is how far past its timeout a probe may answer: the runner's grace
// (25 ms) plus scheduling under -race on a loaded machine.
const slack = 100 * time.Millisecond

// openFDs counts the process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	return len(ents)
}

// settle waits up to d for the goroutine and descriptor counts to come
// within tol of the reference, and returns the last counts seen.
func settle(t testing.TB, refG, refF, tolG, tolF int, d time.Duration) (int, int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		runtime.GC()
		g, f := runtime.NumGoroutine(), openFDs(t)
		if (g <= refG+tolG && f <= refF+tolF) || time.Now().After(deadline) {
			return g, f
		}
		time.Sleep(50 * time.Millisecond)
	}
}
