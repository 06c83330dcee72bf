package server_test

import (
	"strings"
	"testing"
)

// Two tokens, the first from the environment as an operator would set it.
const guarded = `
server:
  auth:
    tokens: ["${HEALTHD_TOKEN}", "second-token"]
health_check: {WARNINGS_AS_ERRORS: false}
defaults: {cache_ttl: 1h}
checks:
  - {name: database, type: fake, fail: "connection refused (10.0.0.7:5432)", groups: [readiness], password: s3cret}
  - {name: cache, type: fake, groups: [readiness], observe: 12, measurement: connections, unit: connections}
  - {name: disk, type: fake, warn: "web-1 93.2% disk usage exceeds 90%", groups: [liveness]}
`

var tokenEnv = map[string]string{"HEALTHD_TOKEN": "env-token-7f3a"}

// details are strings that only an authorised caller may see.
var details = []string{"database", "cache", "disk", "readiness", "liveness", "refused", "10.0.0.7", "93.2",
	"connections", "fake", "s3cret", "env-token", "second-token", "test" /* the version */}

func TestAuth_WithoutValidTokenOnlyTheOverallStatus(t *testing.T) {
	f := newFixture(t, guarded, tokenEnv)
	f.warm(t)
	urls := []struct {
		path string
		code int
	}{
		{"/ht/", 500}, {"/ht/readiness/", 500}, {"/ht/liveness/", 200},
		{"/ht/check/database/", 500}, {"/ht/check/disk/", 200},
		{"/ht/?check=cache", 200}, {"/ht/?skip=database", 200}, {"/ht/readiness/?skip=database", 200},
	}
	callers := []struct {
		name   string
		header []string
	}{
		{"no header", nil},
		{"wrong token", []string{"Authorization", "Bearer nope"}},
		{"token prefix", []string{"Authorization", "Bearer env-token"}},
		{"token as basic auth", []string{"Authorization", "Basic env-token-7f3a"}},
		{"token without scheme", []string{"Authorization", "env-token-7f3a"}},
	}
	formats := []struct{ format, contentType string }{
		{"html", "text/html; charset=utf-8"},
		{"json", "application/json"},
		{"health", "application/health+json"},
		{"text", "text/plain; charset=utf-8"},
		{"openmetrics", "application/openmetrics-text; version=1.0.0; charset=utf-8"},
	}
	for _, u := range urls {
		for _, c := range callers {
			for _, fm := range formats {
				sep := "?"
				if strings.Contains(u.path, "?") {
					sep = "&"
				}
				url := f.ts.URL + u.path + sep + "format=" + fm.format
				resp, body := get(t, url, c.header...)
				if resp.StatusCode != u.code {
					t.Errorf("%s, %s: status %d, want %d as with a token", u.path, c.name, resp.StatusCode, u.code)
				}
				if ct := resp.Header.Get("Content-Type"); ct != fm.contentType {
					t.Errorf("%s, %s: content type %q", u.path, c.name, ct)
				}
				for _, d := range details {
					if strings.Contains(body, d) {
						t.Errorf("%s %s, %s: body shows %q:\n%s", u.path, fm.format, c.name, d, body)
					}
				}
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="healthd"`) {
					t.Errorf("%s, %s: WWW-Authenticate %q", u.path, c.name, resp.Header.Get("WWW-Authenticate"))
				}
			}
		}
	}
}

func TestAuth_OverallAnswersMatchGoldenFiles(t *testing.T) {
	f := newFixture(t, guarded, tokenEnv)
	f.warm(t)
	for _, fm := range []string{"html", "json", "health", "text", "openmetrics"} {
		for _, path := range []string{"/ht/", "/ht/liveness/"} {
			_, body := get(t, f.ts.URL+path+"?format="+fm)
			name := "overall-failing." + fm
			if strings.Contains(path, "liveness") {
				name = "overall-ok." + fm
			}
			golden(t, name, []byte(body))
		}
	}
}

func TestAuth_ValidTokenSeesEverything(t *testing.T) {
	f := newFixture(t, guarded, tokenEnv)
	for _, tok := range []string{"env-token-7f3a", "second-token"} {
		for _, scheme := range []string{"Bearer", "bearer"} {
			resp, body := get(t, f.ts.URL+"/ht/?format=text", "Authorization", scheme+" "+tok)
			want := "[-]database failed: unavailable: connection refused (10.0.0.7:5432)\n[+]cache ok\n[+]disk warning: web-1 93.2% disk usage exceeds 90%\nhealthd check failed\n"
			if resp.StatusCode != 500 || body != want {
				t.Errorf("%s %s: %d %q", scheme, tok, resp.StatusCode, body)
			}
			if resp.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("an authorised answer carries a challenge")
			}
			if v := resp.Header.Values("Vary"); !strings.Contains(strings.Join(v, ","), "Authorization") {
				t.Errorf("Vary %q lacks Authorization", v)
			}
		}
	}
	resp, body := get(t, f.ts.URL+"/ht/", "Authorization", "Bearer nope")
	if resp.Header.Get("WWW-Authenticate") != `Bearer realm="healthd", error="invalid_token"` {
		t.Errorf("a wrong token's challenge: %q", resp.Header.Get("WWW-Authenticate"))
	}
	if strings.Contains(body, "database") {
		t.Error("a wrong token sees check names")
	}
}

func TestAuth_ErrorsDoNotListNamesWithoutToken(t *testing.T) {
	f := newFixture(t, guarded, tokenEnv)
	for _, c := range []struct {
		url  string
		code int
	}{
		{"/ht/check/nope/", 404}, {"/ht/nope/", 404}, {"/ht/?check=nope", 400}, {"/ht/?skip=nope", 400},
	} {
		resp, body := get(t, f.ts.URL+c.url)
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d, want %d", c.url, resp.StatusCode, c.code)
		}
		for _, d := range details {
			if strings.Contains(body, d) {
				t.Errorf("%s: body shows %q: %q", c.url, d, body)
			}
		}
		resp, body = get(t, f.ts.URL+c.url, "Authorization", "Bearer second-token")
		if resp.StatusCode != c.code || !strings.Contains(body, "known ") {
			t.Errorf("%s with a token: %d %q, want the known names", c.url, resp.StatusCode, body)
		}
	}
}

func TestAuth_PingStaysOpen(t *testing.T) {
	f := newFixture(t, guarded, tokenEnv)
	resp, body := get(t, f.ts.URL+"/ping")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != "pong" {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
}

func TestAuth_MetricsNeedsTheToken(t *testing.T) {
	f := newFixture(t, guarded, tokenEnv)
	f.warm(t)
	resp, body := get(t, f.ts.URL+"/metrics")
	if resp.StatusCode != 401 || strings.Contains(body, "database") || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("without a token: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, f.ts.URL+"/metrics", "Authorization", "Bearer env-token-7f3a")
	if resp.StatusCode != 200 || !strings.Contains(body, `healthd_check_state{check="database",type="fake"} 0`) {
		t.Errorf("with a token: %d %.300s", resp.StatusCode, body)
	}
}

func TestAuth_NoTokensMeansOpen(t *testing.T) {
	f := newFixture(t, filtered, nil)
	resp, body := get(t, f.ts.URL+"/ht/?format=text")
	if !strings.Contains(body, "[+]cache ok") || resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("%q %v", body, resp.Header)
	}
	if resp, _ := get(t, f.ts.URL+"/metrics"); resp.StatusCode != 200 {
		t.Errorf("/metrics without tokens configured: %d", resp.StatusCode)
	}
}
