package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/server"
)

// 64 concurrent probes on a cold cache cause exactly one run of each check.
// The result is exact whatever the timing: every check holds its run until
// all 64 requests are inside the handler, and the cache TTL outlives the
// test, so each request either joins the run in flight or reads its result.
func TestHT_ConcurrentColdProbesRunEachCheckOnce(t *testing.T) {
	const probes = 64
	srv := server.New(server.Options{Version: "test"})
	st := newState(t, srv, `
defaults: {cache_ttl: 1h, max_stale: 0s, timeout: 1m}
checks:
  - {name: database, type: fake, hold: true}
  - {name: cache, type: fake, hold: true, note: "3 servers"}
  - {name: broker, type: fake, hold: true, fail: "connection refused (127.0.0.1:5672)"}
  - {name: workers, type: fake, hold: true, critical: false, fail: "no worker answered"}
`) // the runner is not started: the cache is cold
	srv.Swap(st)
	var entered atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		entered.Add(1)
		srv.ServeHTTP(w, req)
	}))
	defer ts.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: probes}}
	defer client.CloseIdleConnections()
	type answer struct {
		code int
		body string
		err  error
	}
	answers := make([]answer, probes)
	var wg sync.WaitGroup
	for i := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(ts.URL + "/ht/?format=json")
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, string(b), err}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for entered.Load() < probes && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := entered.Load(); n != probes {
		t.Fatalf("only %d of %d requests reached the handler", n, probes)
	}
	for _, c := range st.Runner.Checks() {
		c.Checker().(*checkstest.Fake).Release()
	}
	wg.Wait()

	want := `{"broker": "unavailable: connection refused (127.0.0.1:5672)", "cache": "working", "database": "working", "workers": "unavailable: no worker answered"}`
	for i, a := range answers {
		if a.err != nil || a.code != 500 || a.body != want {
			t.Errorf("probe %d: %d %q %v, want 500 %s", i, a.code, a.body, a.err, want)
		}
	}
	for _, c := range st.Runner.Checks() {
		if n := c.Checker().(*checkstest.Fake).Runs(); n != 1 {
			t.Errorf("%s ran %d times for %d concurrent cold probes, want exactly 1", c.Name, n, probes)
		}
	}
}
