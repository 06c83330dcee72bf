package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
	"github.com/healthd/healthd/internal/testsvc"
)

// newServer serves yaml's checks on an httptest server.
func newServer(t *testing.T, yaml string) *httptest.Server {
	t.Helper()
	srv := server.New(server.Options{Version: "test"})
	srv.Swap(newState(t, srv, yaml))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// newState builds yaml's checks into a State of srv, with a runner set up
// as the daemon sets it up (not started: the first probe runs the checks);
// the runner and the checks' clients are closed when the test ends.
func newState(t *testing.T, srv *server.Server, yaml string) *server.State {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r := checkstest.NewRunner(t, cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors})
	st, err := srv.NewState(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	return do(t, http.MethodGet, url, header...)
}

func do(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const healthy = `
checks:
  - {name: database, type: fake, groups: [readiness]}
  - {name: cache, type: fake, groups: [readiness]}
  - {name: disk, type: fake, groups: [liveness]}
`

func TestHT_JSONIsTheSeedsFlatMap(t *testing.T) {
	ts := newServer(t, healthy)
	for _, how := range []struct{ url, accept string }{
		{"/ht/", "application/json"},
		{"/ht/?format=json", ""},
		{"/ht/?format=json", "text/html"},
		{"/ht/", "application/*"},
	} {
		resp, body := get(t, ts.URL+how.url, "Accept", how.accept)
		if resp.StatusCode != 200 {
			t.Fatalf("%+v: status %d", how, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%+v: content type %q", how, ct)
		}
		want := `{"cache": "working", "database": "working", "disk": "working"}`
		if body != want {
			t.Errorf("%+v: body %s, want %s", how, body, want)
		}
	}
}

func TestHT_FailingCriticalCheckAnswersFailureStatus(t *testing.T) {
	for _, c := range []struct {
		yaml string
		code int
	}{
		{"checks: [{name: db, type: fake, fail: 'connection refused (127.0.0.1:5432)'}]", 500},
		{"server: {failure_status: 503}\nchecks: [{name: db, type: fake, fail: 'connection refused (127.0.0.1:5432)'}]", 503},
		{"checks: [{name: db, type: fake, fail: 'x', critical: false}, {name: ok, type: fake}]", 200},
		{"checks: [{name: disk, type: fake, warn: 'web-1 93.2% disk usage exceeds 90%'}]", 500},
		{"health_check: {WARNINGS_AS_ERRORS: false}\nchecks: [{name: disk, type: fake, warn: 'web-1 93.2% disk usage exceeds 90%'}]", 200},
	} {
		ts := newServer(t, c.yaml)
		resp, body := get(t, ts.URL+"/ht/?format=json")
		if resp.StatusCode != c.code {
			t.Errorf("%s: status %d, want %d (%s)", c.yaml, resp.StatusCode, c.code, body)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Errorf("body is not a JSON map: %s", body)
		}
		if v, ok := m["db"]; ok && v == "working" && c.code != 200 {
			t.Errorf("failing db shown as working")
		}
		if v, ok := m["disk"]; ok && v != "warning: web-1 93.2% disk usage exceeds 90%" {
			t.Errorf("disk value %q", v)
		}
	}
}

func TestHT_AcceptNegotiation(t *testing.T) {
	ts := newServer(t, healthy)
	cases := []struct {
		accept string
		code   int
		ctype  string
	}{
		{"", 200, "text/html; charset=utf-8"},
		{"*/*", 200, "text/html; charset=utf-8"},
		{"text/html", 200, "text/html; charset=utf-8"},
		{"application/xhtml+xml", 200, "text/html; charset=utf-8"},
		{"text/*", 200, "text/html; charset=utf-8"},
		{"application/json", 200, "application/json"},
		{"application/*", 200, "application/json"},
		{"text/html;q=0.5, application/json", 200, "application/json"},
		{"application/json;q=0.2, text/html;q=0.9", 200, "text/html; charset=utf-8"},
		{"image/png, application/json;q=0.1", 200, "application/json"},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200, "text/html; charset=utf-8"}, // a browser
		{"image/png", 406, "text/plain; charset=utf-8"},
		{"application/json;q=0", 406, "text/plain; charset=utf-8"},
		{"application/xml", 406, "text/plain; charset=utf-8"},
	}
	for _, c := range cases {
		resp, body := get(t, ts.URL+"/ht/", "Accept", c.accept)
		if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != c.ctype {
			t.Errorf("Accept %q: %d %q, want %d %q", c.accept, resp.StatusCode, resp.Header.Get("Content-Type"), c.code, c.ctype)
		}
		if c.code == 406 && !strings.Contains(body, "text/html, application/xhtml+xml, application/json") {
			t.Errorf("406 body does not list the supported types: %q", body)
		}
		if v := resp.Header.Get("Vary"); v != "Accept" {
			t.Errorf("Vary %q", v)
		}
		if v := resp.Header.Get("Cache-Control"); c.code == 200 && v != "no-store" {
			t.Errorf("Cache-Control %q", v)
		}
	}
}

func TestHT_MalformedAcceptNeverGets500(t *testing.T) {
	ts := newServer(t, healthy)
	for _, h := range []string{
		";;;", "/", "text/", "/json", "*/json", "text/html;q=abc", "application/json;q=2", "a/b/c",
		"text/html;;;q=", ",,,", "tëxt/html", strings.Repeat("text/html,", 1000),
	} {
		resp, _ := get(t, ts.URL+"/ht/", "Accept", h)
		if resp.StatusCode >= 500 || (resp.StatusCode != 200 && (resp.StatusCode < 400 || resp.StatusCode > 499)) {
			t.Errorf("Accept %q: status %d", h, resp.StatusCode)
		}
	}
}

func TestHT_UnknownFormatIs400(t *testing.T) {
	ts := newServer(t, healthy)
	resp, body := get(t, ts.URL+"/ht/?format=xml")
	if resp.StatusCode != 400 || !strings.Contains(body, "html, json") {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
}

func TestHT_HTMLDashboard(t *testing.T) {
	ts := newServer(t, `
checks:
  - {name: database, type: fake, fail: "<script>alert(1)</script> refused"}
  - {name: cache, type: fake}
`)
	resp, body := get(t, ts.URL+"/ht/")
	if resp.StatusCode != 500 {
		t.Errorf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"<h1>System status</h1>", "database", "cache", "status_failing", "status_passing",
		"&lt;script&gt;alert(1)&lt;/script&gt; refused", `name="viewport"`} {
		if !strings.Contains(body, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Errorf("check message not escaped")
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("HTML references an external resource")
	}
}

func TestHT_HeadHasStatusAndNoBody(t *testing.T) {
	ts := newServer(t, "checks: [{name: db, type: fake, fail: down}]")
	resp, body := do(t, http.MethodHead, ts.URL+"/ht/")
	if resp.StatusCode != 500 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
}

func TestHT_Groups(t *testing.T) {
	ts := newServer(t, `
checks:
  - {name: database, type: fake, fail: down, groups: [readiness]}
  - {name: disk, type: fake, groups: [liveness]}
`)
	resp, body := get(t, ts.URL+"/ht/liveness/?format=json")
	if resp.StatusCode != 200 || body != `{"disk": "working"}` {
		t.Errorf("liveness: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, ts.URL+"/ht/readiness?format=json")
	if resp.StatusCode != 500 || body != `{"database": "unavailable: down"}` {
		t.Errorf("readiness: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, ts.URL+"/ht/nope/")
	if resp.StatusCode != 404 || !strings.Contains(body, "known groups: liveness, readiness") {
		t.Errorf("unknown group: %d %q", resp.StatusCode, body)
	}
}

func TestPing(t *testing.T) {
	srv := server.New(server.Options{Version: "test"})
	st := newState(t, srv, "checks: [{name: slow, type: fake, sleep: 1s}]")
	srv.Swap(st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	start := time.Now()
	resp, body := get(t, ts.URL+"/ping")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != "pong" {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	testsvc.NotHung(t, "/ping", time.Since(start), 0)
	if n := checkRuns(st); n != 0 {
		t.Errorf("/ping ran the checks: %d runs", n)
	}
}

func TestHT_OtherMethodsAre405(t *testing.T) {
	ts := newServer(t, healthy)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "BREW"} {
		resp, _ := do(t, m, ts.URL+"/ht/")
		if resp.StatusCode != 405 {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
}

func TestHT_TimedOutCheckAnswersWithinItsTimeout(t *testing.T) {
	ts := newServer(t, `
checks:
  - {name: hung, type: fake, sleep: 10s, ignore_context: true, timeout: 300ms}
  - {name: ok, type: fake}
`)
	start := time.Now()
	resp, body := get(t, ts.URL+"/ht/?format=json")
	testsvc.NotHung(t, "the response", time.Since(start), 300*time.Millisecond)
	if resp.StatusCode != 500 || body != `{"hung": "unavailable: timed out after 300ms", "ok": "working"}` {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
