package server_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

const fuzzConfig = `
server: {failure_status: 503, auth: {tokens: [fuzz-token]}}
checks:
  - {name: database, type: fake, groups: [readiness, deps]}
  - {name: cache, type: fake, groups: [readiness], critical: false, fail: down}
  - {name: queue, type: fake, groups: [broken], fail: "connection refused"}
`

// FuzzServeQuery sends arbitrary request targets (paths, ?format, ?check,
// ?skip), Accept and Authorization headers and methods to the /ht/ router:
// it never panics and never answers a 5xx other than the configured failure
// status (503; nothing here can make the server itself fail), and answers
// 400 to a /ht/ query string that does not parse.
func FuzzServeQuery(f *testing.F) {
	cfg, err := config.Parse("fuzz.yaml", []byte(fuzzConfig), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		f.Fatal(err)
	}
	r := checkstest.NewRunner(f, cfg, runner.Options{})
	srv := server.New(server.Options{Version: "fuzz", Reload: func() error { return nil }})
	st, err := srv.NewState(cfg, r)
	if err != nil {
		f.Fatal(err)
	}
	srv.Swap(st)

	for _, s := range []struct{ method, target, accept, auth string }{
		{"GET", "/ht/", "", ""},
		{"GET", "/ht/?format=json", "", "Bearer fuzz-token"},
		{"GET", "/ht/readiness/?format=health&check=database", "", "Bearer fuzz-token"},
		{"GET", "/ht/?check=database,cache&skip=cache", "application/json", "Bearer fuzz-token"},
		{"GET", "/ht/?check=nosuch&format=text", "", "Bearer fuzz-token"},
		{"HEAD", "/ht/check/database/?format=openmetrics", "", "Bearer wrong"},
		{"GET", "/ht/broken", "text/plain", ""},
		{"GET", "/ht/../ht/?format=%00", "", ""},
		{"GET", "//ht//check//", "*/*;q=0", ""},
		{"POST", "/-/reload", "", "Bearer fuzz-token"},
		{"DELETE", "/ht/%2e%2e/%2fcheck", "", ""},
		{"GET", "/metrics?format=json&format=html", "", ""},
		{"GET", "/ht/?format=json&check=" + strings.Repeat("a,", 100), "", "Bearer fuzz-token"},
		{"GET", "/ht/?check=x%zz", "", "Bearer fuzz-token"},
		{"GET", "/ht/?format=%zz", "", ""},
		{"HEAD", "/ht/?format=json;check=database", "", ""},
	} {
		f.Add(s.method, s.target, s.accept, s.auth)
	}
	f.Fuzz(func(t *testing.T, method, target, accept, auth string) {
		raw := method + " " + target + " HTTP/1.1\r\nHost: healthd\r\nAccept: " + accept + "\r\nAuthorization: " + auth + "\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // not a request the server would route (it answers 400 itself)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != 503 {
			t.Fatalf("%s %q (Accept %q): status %d: %s", method, target, accept, w.Code, w.Body.String())
		}
		if w.Code < 100 || w.Header().Get("Content-Type") == "" && w.Code != http.StatusNoContent {
			t.Fatalf("%s %q: status %d without a Content-Type", method, target, w.Code)
		}
		// A query that does not parse is refused, never half-read.
		if _, err := url.ParseQuery(req.URL.RawQuery); err != nil && req.URL.Path == "/ht/" && (method == "GET" || method == "HEAD") && w.Code != http.StatusBadRequest {
			t.Fatalf("%s %q: malformed query (%v) answered %d, want 400", method, target, err, w.Code)
		}
	})
}
