package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

// benchConfig has as many checks as a full deployment, each with a result
// that stays fresh for the whole benchmark.
const benchConfig = `
defaults: {cache_ttl: 1h, max_stale: 0s}
checks:
  - {name: database, type: fake, groups: [readiness]}
  - {name: replica, type: fake, groups: [readiness], note: "lag 0.2s"}
  - {name: redis, type: fake, groups: [readiness]}
  - {name: memcached, type: fake, groups: [readiness]}
  - {name: broker, type: fake, groups: [readiness]}
  - {name: workers, type: fake, critical: false, fail: "no worker answered"}
  - {name: media, type: fake}
  - {name: disk, type: fake, groups: [liveness], observe: 42.5, measurement: utilization, unit: percent}
  - {name: memory, type: fake, groups: [liveness]}
  - {name: storage, type: fake}
  - {name: upstream, type: fake}
  - {name: gunicorn, type: fake}
`

func benchServer(b *testing.B) http.Handler {
	cfg, err := config.Parse("bench.yaml", []byte(benchConfig), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		b.Fatal(err)
	}
	r := checkstest.NewRunner(b, cfg, runner.Options{})
	r.Run(context.Background(), r.Checks()) // warm: every result is cached
	srv := server.New(server.Options{Version: "bench"})
	st, err := srv.NewState(cfg, r)
	if err != nil {
		b.Fatal(err)
	}
	srv.Swap(st)
	return srv
}

// BenchmarkHT measures a probe on cached results: the handler's own cost,
// without the network. Run with -benchmem: allocations per probe are the
// figure to keep low.
func BenchmarkHT(b *testing.B) {
	h := benchServer(b)
	for _, c := range []struct{ name, url, accept string }{
		{"json", "/ht/", "application/json"},
		{"json-query", "/ht/?format=json", ""},
		{"json-check", "/ht/?format=json&check=database,redis", ""},
		{"group-json", "/ht/readiness/", "application/json"},
		{"health", "/ht/", "application/health+json"},
		{"text", "/ht/", "text/plain"},
		{"html", "/ht/", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.url, nil)
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// largeDeployment is a config of n checks in 10 groups (grp0…grp9, in
// blocks of n/10), of which 5 fail (the first two not critical) and 10 warn;
// every 7th passing check failed twice early in its history.
func largeDeployment(n int, extra string) string {
	var b strings.Builder
	b.WriteString("health_check: {WARNINGS_AS_ERRORS: false}\n" + extra + "\nchecks:\n")
	per := max(n/10, 1)
	for i := range n {
		fmt.Fprintf(&b, "  - {name: svc-%04d, type: fake, groups: [grp%d]", i, min(i/per, 9))
		switch {
		case i%(n/5) == n/10: // 5 failing, spread over the groups
			if i < n/2 {
				b.WriteString(", critical: false")
			}
			fmt.Fprintf(&b, ", fail: \"connection refused (10.0.%d.%d:5432)\"", i/256, i%256)
		case i%(n/10) == n/20: // 10 warning
			fmt.Fprintf(&b, ", warn: \"disk %d%% used on /srv (threshold 90%%)\"", 90+i%10)
		default:
			b.WriteString(`, note: "connected, 3 ms"`)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// largeServer serves largeDeployment(n) with cached results, each check
// having runs results of history (a reload carries the history of a runner
// that ran them: runs with cache_ttl 1h would not run again).
func largeServer(tb testing.TB, n, runs int) (*server.Server, *server.State) {
	tb.Helper()
	fill := checkstest.Load(tb, largeDeployment(n, "defaults: {cache_ttl: 0s, max_stale: 0s, history: 100}"))
	old := checkstest.NewRunner(tb, fill, runner.Options{})
	for i := range runs {
		for j, c := range old.Checks() {
			if j%7 == 3 && (i == 2 || i == 3) && c.Checker().(*checkstest.Fake).Fail == "" {
				checkstest.FakeOf(old, c.Name).SetFail("timeout after 5s")
			}
			if j%7 == 3 && i == 4 {
				checkstest.FakeOf(old, c.Name).SetFail(checkstest.FakeOf(old, c.Name).Fail)
			}
		}
		old.Run(context.Background(), old.Checks())
	}
	cfg := checkstest.Load(tb, largeDeployment(n, "defaults: {cache_ttl: 1h, max_stale: 0s, history: 100}"))
	r := checkstest.NewRunner(tb, cfg, runner.Options{})
	r.Inherit(old)
	r.Run(context.Background(), r.Checks())
	srv := server.New(server.Options{Version: "bench"})
	st, err := srv.NewState(cfg, r)
	if err != nil {
		tb.Fatal(err)
	}
	srv.Swap(st)
	return srv, st
}

// BenchmarkHT_1000Checks measures the answers of a large deployment (1,000
// checks, full history): "cached" is a probe on an unchanged result set (the
// body cache answers), "render" one that renders the body again, as after a
// result changed, "cold" one that renders everything again, as after a
// reload or when every check ran since the last render (health+json keeps
// each check's history written while it is unchanged).
func BenchmarkHT_1000Checks(b *testing.B) {
	srv, st := largeServer(b, 1000, 100)
	for _, c := range []struct{ name, accept string }{
		{"html", "text/html"},
		{"json", "application/json"},
		{"health", "application/health+json"},
	} {
		for _, how := range []string{"cached", "render", "cold"} {
			b.Run(c.name+"/"+how, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/ht/", nil)
				req.Header.Set("Accept", c.accept)
				b.ReportAllocs()
				var size int
				for b.Loop() {
					if how != "cached" {
						st.ForgetBodies(how == "cold")
					}
					w := &discardWriter{header: http.Header{}}
					srv.ServeHTTP(w, req)
					if w.code != 500 { // three critical checks fail
						b.Fatalf("status %d", w.code)
					}
					size = w.n
				}
				b.ReportMetric(float64(size), "body-bytes")
			})
		}
	}
}

// discardWriter is a ResponseWriter that keeps the status and counts the
// body's bytes: what a benchmark of a 7 MB body measures is then the
// server's work, not a recorder's buffer growing.
type discardWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) { w.code = code }

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}
