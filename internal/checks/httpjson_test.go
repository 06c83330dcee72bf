package checks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/daemon"
)

// jsonApp serves body (changed with Store) as an app's health endpoint.
func jsonApp(t *testing.T, body string) (url string, set func(string)) {
	t.Helper()
	var cur atomic.Value
	cur.Store(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, cur.Load().(string))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/health/", func(s string) { cur.Store(s) }
}

func httpJSONCheck(t *testing.T, url string, expect ...map[string]any) *checkstest.Check {
	t.Helper()
	list := make([]any, len(expect))
	for i, e := range expect {
		list[i] = e
	}
	return checkstest.New(t, "http", map[string]any{"url": url, "expect_json": list}, checkstest.Options{})
}

// A health endpoint such as an app's own: a status, and per-dependency
// statuses and latencies.
const appHealth = `{"status":"ok","version":"2.4.1","checks":{"db":{"status":"pass","latency_ms":3},"cache":{"status":"pass","latency_ms":0.4}},
"queues":[{"name":"default","depth":12},{"name":"mail","depth":0}],"maintenance":false,"uptime_s":"86400",
"workers":[{"name":"w1","alive":true},{"name":"w2","alive":false},{"name":"w3","alive":true}]}`

func TestHTTPJSON_ExpectationsOnAnAppsHealthBody(t *testing.T) {
	t.Parallel()
	url, _ := jsonApp(t, appHealth)
	shown := " (" + strings.TrimSuffix(url, "/health/") + "/health/)"
	for _, tc := range []struct {
		name   string
		expect []map[string]any
		want   string // "" passes
	}{
		{"status equals", []map[string]any{{"path": "status", "equals": "ok"}}, ""},
		{"a nested field", []map[string]any{{"path": "checks.db.status", "equals": "pass"}}, ""},
		{"a number within thresholds", []map[string]any{{"path": "checks.db.latency_ms", "warn_above": 50, "fail_above": 200}}, ""},
		{"a query into an array", []map[string]any{{"path": `queues.#(name=="default").depth`, "fail_above": 100}}, ""},
		{"counting with a query", []map[string]any{{"path": "workers.#(alive==true)#|#", "warn_below": 2, "fail_below": 1}}, ""},
		{"below warn_below", []map[string]any{{"path": "workers.#(alive==true)#|#", "warn_below": 3, "fail_below": 1}},
			`warning: workers.#(alive==true)#|# 2 is below 3 (warn_below)` + shown},
		{"a boolean", []map[string]any{{"path": "maintenance", "equals": false}}, ""},
		{"a number sent as a string", []map[string]any{{"path": "uptime_s", "fail_below": 60}}, ""},
		{"a path that only has to exist", []map[string]any{{"path": "version"}}, ""},
		{"every item must hold", []map[string]any{{"path": "status", "equals": "ok"}, {"path": "checks.cache.status", "equals": "fail"}},
			`unexpected result: checks.cache.status is "pass", expected "fail"` + shown},
		{"status differs", []map[string]any{{"path": "status", "equals": "degraded"}},
			`unexpected result: status is "ok", expected "degraded"` + shown},
		{"above warn_above", []map[string]any{{"path": "checks.db.latency_ms", "warn_above": 2, "fail_above": 200, "unit": "ms"}},
			`warning: checks.db.latency_ms 3 ms is above 2 (warn_above)` + shown},
		{"a failure beats a warning", []map[string]any{{"path": "checks.db.latency_ms", "warn_above": 2}, {"path": `queues.#(name=="default").depth`, "fail_above": 10}},
			`unexpected result: queues.#(name=="default").depth 12 is above 10 (fail_above)` + shown},
		{"a missing path", []map[string]any{{"path": "checks.celery.status", "equals": "pass"}},
			`unexpected result: no checks.celery.status in the JSON body` + shown},
		{"text where a number is expected", []map[string]any{{"path": "status", "fail_above": 1}},
			`unexpected result: status is "ok", not a number` + shown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := httpJSONCheck(t, url, tc.expect...)
			if tc.want == "" {
				c.Passes(t)
				return
			}
			if r := c.Fails(t, tc.want); r.Message != tc.want {
				t.Errorf("message = %q, want %q", r.Message, tc.want)
			}
		})
	}
}

func TestHTTPJSON_NumbersAreObservations(t *testing.T) {
	t.Parallel()
	url, set := jsonApp(t, appHealth)
	c := httpJSONCheck(t, url,
		map[string]any{"path": "checks.db.latency_ms", "measurement": "db_latency", "unit": "ms", "fail_above": 5},
		map[string]any{"path": `queues.#(name=="default").depth`},
		map[string]any{"path": "status", "equals": "ok"})
	r := c.Passes(t)
	if v := r.Observation(t, "db_latency", "ms"); v != 3 {
		t.Errorf("db_latency = %v, want 3", v)
	}
	if v := r.Observation(t, `queues.#(name=="default").depth`, ""); v != 12 {
		t.Errorf("depth = %v, want 12", v)
	}
	r.Observation(t, "responseTime", "ms")
	// A failing run still reports what it saw.
	set(strings.Replace(appHealth, `"latency_ms":3`, `"latency_ms":250`, 1))
	r = c.Fails(t, "unexpected result: checks.db.latency_ms 250 ms is above 5 (fail_above)")
	if v := r.Observation(t, "db_latency", "ms"); v != 250 {
		t.Errorf("db_latency = %v, want 250", v)
	}
}

func TestHTTPJSON_BodiesThatAreNotJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, want string }{
		{"HTML", "<html><body>OK</body></html>", "unexpected result: response body is not JSON"},
		{"empty", "", "unexpected result: response body is not JSON"},
		{"cut short", `{"status":"ok","checks":{`, "unexpected result: response body is not JSON"},
		{"null", `{"status":null}`, "unexpected result: status is null"},
		{"over 1 MiB", `{"status":"ok","pad":"` + strings.Repeat("x", 1<<20) + `"}`, "unexpected result: response body is over 1 MiB, more than expect_json reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := jsonApp(t, tc.body)
			c := httpJSONCheck(t, url, map[string]any{"path": "status", "equals": "ok"})
			c.Fails(t, tc.want)
		})
	}
}

func TestHTTPJSON_ConfigErrors(t *testing.T) {
	rows := []struct {
		name string
		keys map[string]any
		want string
	}{
		{"a list of expectations", map[string]any{"url": "http://a/", "expect_json": []any{map[string]any{"path": "status", "equals": "ok"}, map[string]any{"path": "n", "warn_above": 1, "fail_above": 2}}}, ""},
		{"with expect_body", map[string]any{"url": "http://a/", "expect_body": "ok", "expect_json": []any{map[string]any{"path": "status"}}}, ""},
		{"not a list", map[string]any{"url": "http://a/", "expect_json": map[string]any{"path": "status", "equals": "ok"}}, `key "expect_json": must be a list of mappings, not a mapping`},
		{"no path", map[string]any{"url": "http://a/", "expect_json": []any{map[string]any{"equals": "ok"}}}, `key "expect_json[0].path": is required`},
		{"HEAD", map[string]any{"url": "http://a/", "method": "HEAD", "expect_json": []any{map[string]any{"path": "status"}}}, `key "expect_json": cannot be checked with method HEAD, which has no body`},
		{"warn above fail", map[string]any{"url": "http://a/", "expect_json": []any{map[string]any{"path": "status"}, map[string]any{"path": "n", "warn_above": 3, "fail_above": 2}}}, `key "expect_json[1].warn_above": must not be above fail_above (2)`},
		{"misspelled key", map[string]any{"url": "http://a/", "expect_json": []any{map[string]any{"path": "n", "fail_abov": 2}}}, `key "expect_json[0].fail_abov": unknown key (did you mean "fail_above"?)`},
	}
	var cases []checkstest.ConfigCase
	for _, r := range rows {
		cases = append(cases, checkstest.ConfigCase{Name: r.name, Keys: r.keys, Want: r.want})
	}
	checkstest.ConfigTable(t, "http", cases)
}

// One healthd checking another: the http check reads the other's JSON, in
// the seed's flat format and in health+json.
func TestHTTPJSON_OneHealthdReadsAnother(t *testing.T) {
	dir := t.TempDir()
	result := filepath.Join(dir, "database.result")
	if err := os.WriteFile(result, []byte("pass"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "healthd.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: database, type: fake, result_file: %q}
  - {name: queue, type: fake, observe: 12, measurement: messages, unit: messages}
`, result)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- daemon.Serve(ctx, daemon.Options{ConfigPath: cfg, Registry: checkstest.Registry(), Version: "test",
			Stderr: io.Discard, NoWatch: true, Ready: func(a string) { addr <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the other healthd did not start")
	}

	// The flat map answers 500 while a check fails: expect_status lets
	// the JSON say which one.
	flat := checkstest.New(t, "http", map[string]any{"url": base + "/ht/?format=json", "expect_status": []any{200, 500},
		"expect_json": []any{map[string]any{"path": "database", "equals": "working"}}}, checkstest.Options{})
	health := checkstest.New(t, "http", map[string]any{"url": base + "/ht/?format=health",
		"expect_json": []any{
			map[string]any{"path": "status", "equals": "pass"},
			map[string]any{"path": "checks.queue:messages.0.observedValue", "measurement": "queue", "unit": "messages", "warn_above": 100},
		}}, checkstest.Options{})

	flat.Passes(t)
	if r := health.Passes(t); r.Observation(t, "queue", "messages") != 12 {
		t.Errorf("observations = %+v, want queue 12 messages", r.Observations)
	}
	if err := os.WriteFile(result, []byte("fail connection refused (127.0.0.1:5432)"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := `unexpected result: database is "unavailable: connection refused (127.0.0.1:5432)", expected "working" (` + base + `/ht/)`
	if r := flat.Fails(t, want); r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
	health.Fails(t, "unexpected result: status 500, expected 200-399")
}
