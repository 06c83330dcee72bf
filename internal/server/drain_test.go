package server_test

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/server"
)

const drainConfig = `
server: {failure_status: 503, auth: {tokens: [drain-token]}}
checks:
  - {name: database, type: fake, groups: [readiness]}
  - {name: cache, type: fake, groups: [readiness]}
  - {name: disk, type: fake, groups: [liveness]}
`

// TestHT_DrainingSaysShuttingDownInEveryFormat: while healthd drains every
// check passes, yet the answer is the failure status, and every body says
// why, with and without a token: no body may read as healthy beside a 503.
func TestHT_DrainingSaysShuttingDownInEveryFormat(t *testing.T) {
	srv := server.New(server.Options{Version: "test"})
	srv.Swap(newState(t, srv, drainConfig))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	token := []string{"Authorization", "Bearer drain-token"}

	// Before the drain, no body mentions it.
	for _, f := range []string{"json", "html", "health", "text", "openmetrics"} {
		for _, h := range [][]string{token, nil} {
			resp, body := get(t, ts.URL+"/ht/?format="+f, h...)
			if resp.StatusCode != 200 || strings.Contains(body, "shutting") || strings.Contains(body, "shutdown") {
				t.Errorf("%s before the drain (token %v): %d %.200q", f, h != nil, resp.StatusCode, body)
			}
		}
	}

	srv.Drain()
	shuttingDown := regexp.MustCompile(`(?m)^healthd_shutting_down 1(\.0)?$`)
	for _, c := range []struct {
		format string
		header []string
		check  func(body string) string // what is wrong, or ""
	}{
		{"json", token, func(body string) string {
			// The seed's flat map: the checks keep their own results, and
			// one more entry fails, under a key no check can have.
			if want := `{"cache": "working", "database": "working", "disk": "working", "healthd:shutdown": "unavailable: healthd is shutting down"}`; body != want {
				return "want " + want
			}
			return ""
		}},
		{"json", nil, func(body string) string {
			if want := `{"healthd:shutdown": "unavailable: healthd is shutting down", "status": "failing"}`; body != want {
				return "want " + want
			}
			return ""
		}},
		{"health", token, healthDraining},
		{"health", nil, healthDraining},
		{"text", token, func(body string) string {
			if want := "[+]database ok\n[+]cache ok\n[+]disk ok\n[-]shutdown failed: healthd is shutting down\nhealthd check failed\n"; body != want {
				return "want " + want
			}
			return ""
		}},
		{"text", nil, func(body string) string {
			if want := "[-]shutdown failed: healthd is shutting down\nhealthd check failed\n"; body != want {
				return "want " + want
			}
			return ""
		}},
		{"openmetrics", token, func(body string) string {
			if !shuttingDown.MatchString(body) || !strings.Contains(body, "healthd_response_ok 0") || !strings.HasSuffix(body, "# EOF\n") {
				return "want healthd_shutting_down 1 and healthd_response_ok 0"
			}
			return ""
		}},
		{"openmetrics", nil, func(body string) string {
			if !shuttingDown.MatchString(body) || !strings.Contains(body, "healthd_response_ok 0") || strings.Contains(body, "database") {
				return "want healthd_shutting_down 1, healthd_response_ok 0 and no check"
			}
			return ""
		}},
		{"html", token, htmlDraining},
		{"html", nil, htmlDraining},
	} {
		for _, how := range []string{"?format=" + c.format, ""} {
			h := c.header
			if how == "" { // the same format by negotiation
				h = append(append([]string(nil), h...), "Accept", map[string]string{
					"json": "application/json", "health": "application/health+json", "text": "text/plain",
					"openmetrics": "application/openmetrics-text", "html": "*/*"}[c.format])
			}
			resp, body := get(t, ts.URL+"/ht/"+how, h...)
			if resp.StatusCode != 503 {
				t.Errorf("%s (token %v) while draining: status %d, want 503", c.format, c.header != nil, resp.StatusCode)
			}
			if !strings.Contains(body, "shutting down") {
				t.Errorf("%s (token %v) while draining does not say healthd is shutting down: %.300q", c.format, c.header != nil, body)
			}
			if problem := c.check(body); problem != "" {
				t.Errorf("%s (token %v) while draining: %s\n got %.600q", c.format, c.header != nil, problem, body)
			}
		}
	}
	// A group and a single check drain too.
	for _, path := range []string{"/ht/liveness/?format=json", "/ht/check/disk/?format=json"} {
		resp, body := get(t, ts.URL+path, token...)
		if resp.StatusCode != 503 || !strings.Contains(body, `"healthd:shutdown": "unavailable: healthd is shutting down"`) {
			t.Errorf("%s while draining: %d %s", path, resp.StatusCode, body)
		}
	}
}

func healthDraining(body string) string {
	var doc struct{ Status, Output string }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return err.Error()
	}
	if doc.Status != "fail" || doc.Output != "healthd is shutting down" {
		return `want status "fail" and output "healthd is shutting down"`
	}
	return ""
}

func htmlDraining(body string) string {
	switch {
	case strings.Contains(body, "all checks passing"):
		return `the page says "all checks passing"`
	case strings.Contains(body, ">Healthy<"):
		return "the page says Healthy"
	case !strings.Contains(body, `data-healthd-status="failing"`) || strings.Contains(body, `data-healthd-status="passing"`):
		return `want the failing marker, not the passing one`
	}
	return ""
}

// TestServer_DrainOutlivesReload: a reload during the drain (SIGHUP, the
// file watcher or POST /-/reload racing the shutdown) serves a new state,
// and that state drains too.
func TestServer_DrainOutlivesReload(t *testing.T) {
	srv := server.New(server.Options{Version: "test"})
	srv.Swap(newState(t, srv, healthy))
	srv.Drain()
	srv.Swap(newState(t, srv, healthy))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	resp, body := get(t, ts.URL+"/ht/?format=text")
	if resp.StatusCode != 500 || !strings.Contains(body, "healthd is shutting down") {
		t.Errorf("after a reload during the drain: %d %q", resp.StatusCode, body)
	}
}
