package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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
