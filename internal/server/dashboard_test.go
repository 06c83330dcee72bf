package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

var inlineElem = regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`)

func TestDashboard_SecurityHeaders(t *testing.T) {
	ts := newServer(t, "checks: [{name: db, type: fake}]")
	resp, body := get(t, ts.URL+"/ht/")
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "connect-src 'self'", "img-src data:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "nonce") {
		t.Errorf("CSP %q allows more than the page's own hashed elements", csp)
	}
	// Every inline element of the page is allowed by its hash.
	found := inlineElem.FindAllStringSubmatch(body, -1)
	if len(found) != 2 {
		t.Fatalf("want one inline script and one style, found %d", len(found))
	}
	directives := map[string]string{}
	for _, d := range strings.Split(csp, "; ") {
		name, value, _ := strings.Cut(d, " ")
		directives[name] = value
	}
	for _, m := range found {
		sum := sha256.Sum256([]byte(m[2]))
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if directives[m[1]+"-src"] != h {
			t.Errorf("CSP %q: %s-src is not exactly the page's <%s> hash %s", csp, m[1], m[1], h)
		}
	}
	// The policy is the same for every answer: bodies can be cached.
	resp2, _ := get(t, ts.URL+"/ht/")
	if resp2.Header.Get("Content-Security-Policy") != csp {
		t.Errorf("CSP changes between answers")
	}
	// JSON answers carry no page policy.
	resp, _ = get(t, ts.URL+"/ht/?format=json")
	if resp.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("JSON answer has a CSP")
	}
}

func TestDashboard_HistoryAndUptime(t *testing.T) {
	ts := newServer(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
checks: [{name: db, type: fake, fail: "down <b>hard</b>", history: 4}]`)
	for range 5 {
		get(t, ts.URL+"/ht/?format=json")
	}
	_, body := get(t, ts.URL+"/ht/")
	// Four failures with one message are one run: one element, four bars.
	if n := strings.Count(body, `<li class="run run_failing" tabindex="0"`); n != 1 {
		t.Errorf("history strip has %d failing runs, want 1", n)
	}
	for _, want := range []string{`<span class="bars" aria-hidden="true">████</span>`, "<b>✗ 4 failing</b>", "<strong>0%</strong> up over", "(4 results)",
		">2 earlier problems</summary>", "unavailable: down &lt;b&gt;hard&lt;/b&gt;", `aria-label="Recent results of db, oldest first"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// newCustomServer serves checks with the template file tmpl.
func newCustomServer(t *testing.T, tmpl string) (*server.Server, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(file, []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("server: {template: %q}\nchecks: [{name: db, type: fake, fail: '<i>x</i>'}]", file)
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r := checkstest.NewRunner(t, cfg, runner.Options{})
	srv := server.New(server.Options{Version: "test"})
	st, err := srv.NewState(cfg, r)
	if err != nil {
		return nil, err
	}
	srv.Swap(st)
	return srv, nil
}

func serve(t *testing.T, srv *server.Server) *httptest.Server {
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func TestDashboard_CustomTemplate(t *testing.T) {
	const tmpl = "<!DOCTYPE html>\r\n<title>{{.Overall.Word}}</title>\r\n<style>\r\n/* comment */ p { color: red }\r\n</style>\r\n" +
		"<main data-refresh=\"{{.Refresh}}\">{{range .Checks}}<p class=\"status_{{.Status}}\">{{.Name}}: {{.Message}}</p>{{end}}</main>\r\n" +
		"<script>\r\n// the same refresh as the built-in page could go here\r\nconsole.log(1)\r\n</script>\r\n"
	srv, err := newCustomServer(t, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, srv)
	resp, body := get(t, ts.URL+"/ht/")
	if !strings.Contains(body, `<p class="status_failing">db: unavailable: &lt;i&gt;x&lt;/i&gt;</p>`) {
		t.Errorf("custom page: %s", body)
	}
	// html/template drops the comments; the hashes are of what is sent, with
	// CRLF read as LF, as a browser does.
	csp := resp.Header.Get("Content-Security-Policy")
	if strings.Contains(body, "comment") || !strings.Contains(body, "console.log(1)") {
		t.Errorf("expected html/template to drop the comments and keep the code: %q", body)
	}
	inline := regexp.MustCompile(`(?s)<(?:script|style)>(.*?)</`).FindAllStringSubmatch(body, -1)
	if len(inline) != 2 {
		t.Fatalf("found %d inline elements, want 2", len(inline))
	}
	for _, m := range inline {
		sum := sha256.Sum256([]byte(strings.ReplaceAll(m[1], "\r\n", "\n")))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, h) {
			t.Errorf("CSP %q lacks %s for %q", csp, h, m[1])
		}
	}
	if strings.Contains(csp, "img-src") {
		t.Errorf("CSP %q allows images the page does not use", csp)
	}
}

func TestDashboard_CustomTemplateRejectedWhenTheCSPWouldBlockIt(t *testing.T) {
	for _, c := range []struct{ tmpl, err string }{
		{`<p style="color: red">{{.Title}}</p>`, `line 1: style="…" attribute`},
		{"<p>\n<button onclick=\"go()\">x</button>", `line 2: onclick="…" attribute`},
		{`<script>var refresh = {{.Refresh}};</script>`, "line 1: a <script> element must be literal text"},
		{`<style>p { color: {{.Overall.Status}} }</style>`, "line 1: a <style> element must be literal text"},
		{`<script src="/app.js"></script>`, "<script src=…>"},
		{`{{if .Checks}}<p>{{.Nope}}</p>{{end}}`, "rendering sample data"},
	} {
		_, err := newCustomServer(t, c.tmpl)
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "server.template") {
			t.Errorf("%s: error %v, want one with %q", c.tmpl, err, c.err)
		}
	}
}

// The minimal page (no token, tokens set) is served with a policy of its
// own, which allows exactly its inline style: the dashboard's would block it.
func TestMinimalPage_CSPAllowsItsOwnStyle(t *testing.T) {
	ts := newServer(t, "server: {auth: {tokens: [csp-token]}}\nchecks: [{name: db, type: fake}]")
	resp, body := get(t, ts.URL+"/ht/")
	dash, _ := get(t, ts.URL+"/ht/", "Authorization", "Bearer csp-token")
	csp := resp.Header.Get("Content-Security-Policy")
	if csp == "" || csp == dash.Header.Get("Content-Security-Policy") {
		t.Fatalf("minimal page CSP %q: want its own, not the dashboard's", csp)
	}
	found := inlineElem.FindAllStringSubmatch(body, -1)
	if len(found) != 1 || found[0][1] != "style" {
		t.Fatalf("want one inline style and no script in the minimal page, found %q", found)
	}
	sum := sha256.Sum256([]byte(found[0][2]))
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if csp != want {
		t.Errorf("minimal page CSP\n %s\nwant\n %s", csp, want)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

// rowAt matches a check's row on the built-in page.
var rowAt = regexp.MustCompile(`<tr class="status_(passing|warning|failing)" data-check="([^"]+)"`)

// TestDashboard_LargePageSummarisesAndCollapses: at 1,000 checks with
// their history, the page stays under 1 MB; it shows the failing checks,
// then the warning ones, before any passing one, and every passing check
// sits in its group's <details>, closed.
func TestDashboard_LargePageSummarisesAndCollapses(t *testing.T) {
	srv, _ := largeServer(t, 1000, 31) // 31 runs fill the 30-result strip
	ts := serve(t, srv)
	resp, body := get(t, ts.URL+"/ht/", "Accept", "text/html")
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500: three critical checks fail", resp.StatusCode)
	}
	if len(body) > 1<<20 {
		t.Errorf("page of 1,000 checks is %d bytes, want at most 1 MiB", len(body))
	}
	t.Logf("page of 1,000 checks: %d bytes", len(body))

	rows := rowAt.FindAllStringSubmatchIndex(body, -1)
	seen := map[string]bool{}
	var order []string // states in page order, consecutive duplicates dropped
	for _, m := range rows {
		state, name := body[m[2]:m[3]], body[m[4]:m[5]]
		seen[name] = true
		if len(order) == 0 || order[len(order)-1] != state {
			order = append(order, state)
		}
		if state == "passing" {
			open := strings.LastIndex(body[:m[0]], "<details class=\"card group\"")
			if open < 0 || strings.Contains(body[open:m[0]], "</details>") {
				t.Fatalf("passing check %s is not inside a group's <details>", name)
			}
			if tag := body[open : open+strings.Index(body[open:], ">")]; strings.Contains(tag, " open") {
				t.Fatalf("the <details> of passing check %s is open: %s", name, tag)
			}
		}
	}
	if want := []string{"failing", "warning", "passing"}; !slices.Equal(order, want) {
		t.Errorf("rows come in the order %q, want %q", order, want)
	}
	if len(seen) != 1000 {
		t.Errorf("%d checks on the page, want 1000", len(seen))
	}
	for _, want := range []string{
		`<li class="count_passing"><span class="icon" aria-hidden="true">✓</span><strong>985</strong> passing</li>`,
		`<li class="count_warning"><span class="icon" aria-hidden="true">!</span><strong>10</strong> warning</li>`,
		`<li class="count_failing"><span class="icon" aria-hidden="true">✗</span><strong>5</strong> failing</li>`,
		// grp1 holds svc-0100..0199: svc-0100 fails, svc-0150 warns.
		`<tr class="group_failing"><th scope="row"><span class="icon" aria-hidden="true">✗</span><a href="#g-grp1">grp1</a></th><td class="num">98</td><td class="num n_warning">1</td><td class="num n_failing">1</td></tr>`,
		`<h2 id="problems-title">Failing and warning checks <span class="meta">15</span></h2>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if n := strings.Count(body, `<details class="card group"`); n != 10 {
		t.Errorf("%d groups of passing checks, want 10", n)
	}
}

// A small page (at most server.ExpandedChecks checks) opens its groups;
// the summary counts a check in each of its groups, and the checks in no
// group in a last line.
func TestDashboard_SmallPageGroupsOpen(t *testing.T) {
	ts := newServer(t, `
health_check: {WARNINGS_AS_ERRORS: false}
checks:
  - {name: database, type: fake, groups: [readiness, liveness]}
  - {name: cache, type: fake, groups: [readiness]}
  - {name: queue, type: fake, warn: lagging, groups: [readiness]}
  - {name: search, type: fake, critical: false, fail: down}
  - {name: media, type: fake}
`)
	_, body := get(t, ts.URL+"/ht/", "Accept", "text/html")
	for _, want := range []string{
		`<a href="#g-readiness">readiness</a></th><td class="num">2</td><td class="num n_warning">1</td><td class="num zero">0</td>`,
		`<a href="#g-liveness">liveness</a></th><td class="num">1</td><td class="num zero">0</td><td class="num zero">0</td>`,
		`<a href="#g-"><span class="nogroup">no group</span></a></th><td class="num">1</td><td class="num zero">0</td><td class="num n_failing">1</td>`,
		`<details class="card group" id="g-readiness" data-key="g-readiness" open>`,
		`<details class="card group" id="g-liveness" data-key="g-liveness" open>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	var names []string
	for _, m := range rowAt.FindAllStringSubmatch(body, -1) {
		names = append(names, m[2])
	}
	// Problems first, then each group's passing checks (database is in two).
	if want := []string{"search", "queue", "database", "cache", "database", "media"}; !slices.Equal(names, want) {
		t.Errorf("rows %q, want %q", names, want)
	}
}
