package server_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/server"
)

func TestReloadEndpoint(t *testing.T) {
	var calls atomic.Int64
	var fail atomic.Bool
	srv := server.New(server.Options{Reload: func() error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("healthd.yaml:3: key \"tiemout\": unknown key")
		}
		return nil
	}})
	srv.Swap(newState(t, srv, "server: {auth: {tokens: [tok-1, tok-2]}}\nchecks: [{name: db, type: fake}]"))
	ts := httptest.NewServer(srv)
	defer ts.Close()

	cases := []struct {
		name, method, auth string
		code               int
		body               string
	}{
		{"no token", "POST", "", 401, "unauthorized"},
		{"wrong token", "POST", "Bearer tok-3", 401, "unauthorized"},
		{"token prefix", "POST", "Bearer tok", 401, "unauthorized"},
		{"basic scheme", "POST", "Basic tok-1", 401, "unauthorized"},
		{"GET is not a reload", "GET", "Bearer tok-1", 405, "use POST"},
		{"first token", "POST", "Bearer tok-1", 200, "reloaded"},
		{"second token, lower-case scheme", "POST", "bearer tok-2", 200, "reloaded"},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, ts.URL+"/-/reload", "Authorization", c.auth)
		if resp.StatusCode != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.StatusCode, body, c.code, c.body)
		}
		if c.code == 405 && resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s: Allow %q", c.name, resp.Header.Get("Allow"))
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("Reload called %d times, want 2 (only authorised POSTs)", n)
	}
	fail.Store(true)
	resp, body := do(t, "POST", ts.URL+"/-/reload", "Authorization", "Bearer tok-1")
	if resp.StatusCode != 500 || !strings.Contains(body, "the running config is kept") || !strings.Contains(body, `"tiemout"`) {
		t.Errorf("failed reload: %d %q", resp.StatusCode, body)
	}
}

func TestReloadEndpoint_OpenWithoutTokensAndAbsentWithoutReload(t *testing.T) {
	srv := server.New(server.Options{Reload: func() error { return nil }})
	srv.Swap(newState(t, srv, "checks: [{name: db, type: fake}]"))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	if resp, body := do(t, "POST", ts.URL+"/-/reload"); resp.StatusCode != 200 {
		t.Errorf("no tokens configured: %d %q", resp.StatusCode, body)
	}
	ts2 := newServer(t, "checks: [{name: db, type: fake}]")
	if resp, _ := do(t, "POST", ts2.URL+"/-/reload"); resp.StatusCode != 404 && resp.StatusCode != 405 {
		t.Errorf("without a Reload func: %d", resp.StatusCode)
	}
}

// A probe that started on the old state finishes on it; WaitIdle returns
// only after it (so stopping the old runner then fails no probe), and a
// probe arriving after the swap uses the new state.
func TestSwap_ProbeInFlightKeepsItsStateAndWaitIdleWaitsForIt(t *testing.T) {
	srv := server.New(server.Options{})
	old := newState(t, srv, "defaults: {cache_ttl: 0s, max_stale: 0s}\nchecks: [{name: slow, type: fake, sleep: 300ms}]")
	srv.Swap(old)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	got := make(chan string, 1)
	go func() {
		_, body := get(t, ts.URL+"/ht/?format=json")
		got <- body
	}()
	deadline := time.Now().Add(2 * time.Second)
	for checkRuns(old) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // until the probe is running the check
	}
	srv.Swap(newState(t, srv, "checks: [{name: fresh, type: fake}]"))
	if _, body := get(t, ts.URL+"/ht/?format=json"); body != `{"fresh": "working"}` {
		t.Errorf("a probe after the swap got %q", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := old.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
	old.Runner.Stop() // what a reload does next: it must fail no probe in flight
	if body := <-got; body != `{"slow": "working"}` {
		t.Errorf("the in-flight probe got %q", body)
	}
}

func checkRuns(st *server.State) int64 {
	return st.Runner.Checks()[0].Checker().(*checkstest.Fake).Runs()
}
