package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

type cacheEnv struct {
	cfg *config.Config
	r   *runner.Runner
	srv *server.Server
	ts  *httptest.Server
}

func newCacheEnv(t *testing.T, yaml string) *cacheEnv {
	t.Helper()
	srv := server.New(server.Options{Version: "test"})
	st := newState(t, srv, yaml)
	srv.Swap(st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &cacheEnv{cfg: st.Config, r: st.Runner, srv: srv, ts: ts}
}

func (e *cacheEnv) fake(name string) *checkstest.Fake { return checkstest.FakeOf(e.r, name) }

var everyCachedFormat = []string{"json", "health", "text", "html"}

// A body depends on the results only, not on when it is asked for: two
// probes of the same results get the same bytes in every cached format,
// even the ones that show ages and uptimes.
func TestBodies_SameResultsSameBytes(t *testing.T) {
	e := newCacheEnv(t, `
defaults: {cache_ttl: 1h}
checks:
  - {name: database, type: fake, sleep: 5ms}
  - {name: disk, type: fake, warn: "93% used", critical: false}
  - {name: broker, type: fake, fail: "connection refused (127.0.0.1:5672)", critical: false}
`)
	for _, f := range everyCachedFormat {
		_, first := get(t, e.ts.URL+"/ht/?format="+f)
		time.Sleep(20 * time.Millisecond) // an age computed from the clock would change
		_, second := get(t, e.ts.URL+"/ht/?format="+f)
		if first != second {
			t.Errorf("%s: two probes of the same results differ:\n%s\n---\n%s", f, first, second)
		}
	}
}

// A new result (a new run) gives a new body at once.
func TestBodies_NewResultNewBody(t *testing.T) {
	e := newCacheEnv(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: database, type: fake}
`)
	for _, f := range everyCachedFormat {
		e.fake("database").SetFail("")
		resp, passing := get(t, e.ts.URL+"/ht/?format="+f)
		if resp.StatusCode != 200 {
			t.Fatalf("%s passing: %d %s", f, resp.StatusCode, passing)
		}
		e.fake("database").SetFail("connection refused (127.0.0.1:5432)")
		resp, failing := get(t, e.ts.URL+"/ht/?format="+f)
		if resp.StatusCode != 500 || !strings.Contains(failing, "connection refused") {
			t.Errorf("%s after the check failed: %d %s", f, resp.StatusCode, failing)
		}
		e.fake("database").SetFail("")
		resp, body := get(t, e.ts.URL+"/ht/?format="+f)
		if resp.StatusCode != 200 || body == failing {
			t.Errorf("%s after it recovered: %d %s", f, resp.StatusCode, body)
		}
		if (f == "json" || f == "text") && body != passing {
			t.Errorf("%s after it recovered: %s, want %s", f, body, passing)
		}
	}
}

// The selection is part of the key: a group, a single check, ?check= and
// ?skip= each get their own body from the same results.
func TestBodies_SelectionsDoNotShareBodies(t *testing.T) {
	e := newCacheEnv(t, `
defaults: {cache_ttl: 1h}
checks:
  - {name: database, type: fake, groups: [readiness]}
  - {name: cache, type: fake, groups: [readiness]}
  - {name: disk, type: fake, groups: [liveness]}
`)
	for _, c := range []struct{ url, want string }{
		{"/ht/?format=json", `{"cache": "working", "database": "working", "disk": "working"}`},
		{"/ht/readiness/?format=json", `{"cache": "working", "database": "working"}`},
		{"/ht/liveness/?format=json", `{"disk": "working"}`},
		{"/ht/check/cache/?format=json", `{"cache": "working"}`},
		{"/ht/?format=json&check=disk", `{"disk": "working"}`},
		{"/ht/?format=json&skip=disk", `{"cache": "working", "database": "working"}`},
		{"/ht/?format=text&check=disk", "[+]disk ok\nhealthd check passed\n"},
		{"/ht/check/disk/?format=text", "[+]disk ok\ndisk check passed\n"},
		{"/ht/liveness/?format=text", "[+]disk ok\nliveness check passed\n"},
		{"/ht/?format=json", `{"cache": "working", "database": "working", "disk": "working"}`},
	} {
		if _, body := get(t, e.ts.URL+c.url); body != c.want {
			t.Errorf("%s: %q, want %q", c.url, body, c.want)
		}
	}
}

// An authorised caller's body is never served to one without a token, nor
// the other way round.
func TestBodies_AuthorisedAndAnonymousDoNotShare(t *testing.T) {
	e := newCacheEnv(t, `
server: {auth: {tokens: ["s3cret-token"]}}
defaults: {cache_ttl: 1h}
checks:
  - {name: database, type: fake, fail: "connection refused (127.0.0.1:5432)"}
`)
	for range 2 {
		_, body := get(t, e.ts.URL+"/ht/?format=json", "Authorization", "Bearer s3cret-token")
		if !strings.Contains(body, "database") {
			t.Errorf("authorised: %s", body)
		}
		_, body = get(t, e.ts.URL+"/ht/?format=json")
		if body != `{"status": "failing"}` {
			t.Errorf("anonymous: %s", body)
		}
	}
}

// Draining changes the answer at once, though no result changed.
func TestBodies_DrainingIsPartOfTheKey(t *testing.T) {
	e := newCacheEnv(t, `
defaults: {cache_ttl: 1h}
checks:
  - {name: database, type: fake}
`)
	if resp, body := get(t, e.ts.URL+"/ht/?format=text"); resp.StatusCode != 200 || body != "[+]database ok\nhealthd check passed\n" {
		t.Fatalf("before drain: %d %q", resp.StatusCode, body)
	}
	e.srv.Drain()
	resp, body := get(t, e.ts.URL+"/ht/?format=text")
	if resp.StatusCode != 500 || !strings.Contains(body, "shutting down") {
		t.Errorf("draining: %d %q", resp.StatusCode, body)
	}
}

// The shared header values are never appended to in place: a caller
// without a token adds Vary: Authorization to its own response only.
func TestBodies_SharedHeadersStayIntact(t *testing.T) {
	e := newCacheEnv(t, `
server: {auth: {tokens: ["s3cret-token"]}}
checks:
  - {name: database, type: fake}
`)
	for range 3 {
		resp, _ := get(t, e.ts.URL+"/ht/?format=json")
		if v := resp.Header.Values("Vary"); strings.Join(v, ",") != "Accept,Authorization" {
			t.Errorf("Vary %q", v)
		}
		if v := resp.Header.Values("Cache-Control"); len(v) != 1 || v[0] != "no-store" {
			t.Errorf("Cache-Control %q", v)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/ht/?format=json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Values("Vary"); len(v) != 2 {
		t.Errorf("Vary %q", v)
	}
}
