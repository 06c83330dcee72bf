package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromium finds the browser the dashboard test drives. A missing browser
// fails the test: scripts/test-setup.sh installs it from Debian's packages.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatal("chromium not found: run scripts/test-setup.sh (it installs Debian's chromium package)")
	return ""
}

// browserLog records what the page did that a healthy dashboard never does.
type browserLog struct {
	mu       sync.Mutex
	problems []string
	requests []string
}

func (b *browserLog) add(list *[]string, s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*list = append(*list, s)
}

func (b *browserLog) snapshot() (problems, requests []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems), slices.Clone(b.requests)
}

// listen records console errors, uncaught exceptions, browser-log errors
// (CSP violations among them), dialogs, and every request URL.
func (b *browserLog) listen(ctx context.Context, pageURL string) error {
	return chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" || ev.Type == "assert" {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.add(&b.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			b.add(&b.problems, "exception: "+ev.ExceptionDetails.Text+" "+fmt.Sprint(ev.ExceptionDetails.Exception))
		case *cdplog.EventEntryAdded:
			e := ev.Entry
			if e.Level != "error" && e.Level != "warning" {
				return
			}
			// The page answers server.failure_status (500) while a critical
			// check fails: that is its contract with load balancers, and
			// Chromium logs every such answer. Nothing else may be logged.
			if e.Source == "network" && strings.HasPrefix(e.URL, pageURL) && strings.Contains(e.Text, "status of 500") {
				return
			}
			b.add(&b.problems, fmt.Sprintf("log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
		case *page.EventJavascriptDialogOpening:
			b.add(&b.problems, "dialog: "+ev.Message)
		case *network.EventRequestWillBeSent:
			b.add(&b.requests, ev.Request.URL)
		}
	})
}

const browserConfig = `
server: {refresh: 1s}
health_check: {WARNINGS_AS_ERRORS: false}
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: database, type: fake, note: "connected to db.internal:5432, 3 ms", groups: [readiness]}
  - {name: cache, type: fake, groups: [readiness]}
  - {name: queue, type: fake, result_file: %q, groups: [readiness, workers]}
  - {name: search, type: fake, critical: false, fail: "<script>alert(1)</script> connection refused (10.0.0.7:9200); the index is unavailable until the cluster elects a new master"}
  - {name: disk, type: fake, warn: "92%% used on / (threshold 90%%)", groups: [liveness]}
`

// browser is a headless Chromium tab that records what the pages it loads
// did wrong: console errors, exceptions, browser-log errors, and CSP
// violations (a securitypolicyviolation listener installed in every
// document before its own scripts run).
type browser struct {
	ctx context.Context
	log browserLog
}

// newBrowser starts Chromium with a profile in dir; it stops when the test
// ends. serverURL is the origin whose failure statuses are expected.
func newBrowser(t *testing.T, dir, serverURL string) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("drives Chromium; not under -short")
	}
	exe := chromium(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
	)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// Only proves that nothing hung: a busy machine starts Chromium slowly.
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	b := &browser{ctx: ctx}
	if err := b.log.listen(ctx, serverURL); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__csp = [];
		document.addEventListener("securitypolicyviolation", function (e) {
			window.__csp.push(e.violatedDirective + " blocked " + e.blockedURI + " at line " + e.lineNumber);
		});`})
	b.must(t, "install CSP listener", err)
	return b
}

func (b *browser) must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		problems, _ := b.log.snapshot()
		t.Fatalf("%s: %v\nbrowser problems: %q", what, err, problems)
	}
}

// problems are what went wrong in the browser so far, CSP violations of the
// current document included; requests are every URL it asked for.
func (b *browser) problems(t *testing.T) (problems, requests []string) {
	t.Helper()
	csp, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp`))
	b.must(t, "read CSP violations", err)
	problems, requests = b.log.snapshot()
	return append(problems, csp...), requests
}

// TestDashboard_InChromium drives the real page in Chromium: it loads with
// no console error and no request outside healthd, has one row per check,
// shows a failing check as failing with its (escaped) message, refreshes in
// place when a check changes, and is usable by keyboard. It writes the
// screenshots in docs/.
func TestDashboard_InChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives Chromium; not under -short")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "queue.state")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(state, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pass")
	ts := newServer(t, fmt.Sprintf(browserConfig, state))

	// Some history: the queue flapped a little before the page was opened.
	for _, s := range []string{"pass", "pass", "pass", "warn consumer lag 12s", "pass", "fail connection reset by peer", "fail connection reset by peer", "pass", "pass", "pass", "pass", "pass"} {
		write(s)
		resp, err := http.Get(ts.URL + "/ht/?format=json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	pageURL := ts.URL + "/ht/"
	b := newBrowser(t, dir, ts.URL)
	ctx, must := b.ctx, b.must
	must(t, "load", chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS("#summary")),
	))

	t.Run("problems first, then passing checks by group", func(t *testing.T) {
		names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("tr[data-check]")).map(tr => tr.dataset.check)`))
		must(t, "read rows", err)
		// queue is in two groups, so in both lists; a small page opens them.
		if want := []string{"search", "disk", "database", "cache", "queue", "queue"}; !slices.Equal(names, want) {
			t.Errorf("rows %q, want %q", names, want)
		}
		open, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`Array.from(document.querySelectorAll("details.group")).map(d => d.open)`))
		must(t, "read groups", err)
		if !slices.Equal(open, []bool{true, true}) {
			t.Errorf("groups of passing checks open: %v, want both open on a small page", open)
		}
		h1, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("h1").textContent`))
		must(t, "read h1", err)
		if h1 != "System status" {
			t.Errorf("h1 %q", h1)
		}
	})

	t.Run("a failing check shows as failing with its message as text", func(t *testing.T) {
		row, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
			const tr = document.querySelector('tr[data-check="search"]');
			return {class: tr.className, word: tr.querySelector(".word").textContent,
				message: tr.querySelector(".message").textContent, scripts: String(tr.querySelectorAll("script").length)};
		})()`))
		must(t, "read search row", err)
		if row["class"] != "status_failing" || row["word"] != "failing" {
			t.Errorf("search row: class %q, word %q", row["class"], row["word"])
		}
		if !strings.HasPrefix(row["message"], "unavailable: <script>alert(1)</script> connection refused") || row["scripts"] != "0" {
			t.Errorf("message not shown as text: %q (%s script elements)", row["message"], row["scripts"])
		}
		overall, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("overall").textContent`))
		must(t, "read overall", err)
		if !strings.Contains(overall, "Healthy 1 failing (non-critical), 1 warning") {
			t.Errorf("overall %q", overall)
		}
	})

	t.Run("history strips", func(t *testing.T) {
		strip, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(() => {
			const s = document.querySelector('tr[data-check="queue"] .bars');
			return {bars: s.textContent, label: s.getAttribute("aria-label"), runs: s.children.length};
		})()`))
		must(t, "read strip", err)
		// Runs: pass ×3, warn, pass, fail ×2, then passes (5 before the
		// page opened, and one per refresh since): five runs, one element each.
		bars, _ := strip["bars"].(string)
		label, _ := strip["label"].(string)
		if !strings.HasPrefix(bars, "▂▂▂▅▂██▂▂▂▂▂▂") || strip["runs"] != float64(5) ||
			!strings.HasPrefix(label, "Recent results, oldest first: 3 passing, 1 warning, 1 passing, 2 failing, ") {
			t.Errorf("queue's strip: %v", strip)
		}
	})

	t.Run("keyboard reaches the history tooltips", func(t *testing.T) {
		var (
			got map[string]any
			err error
		)
		for range 20 {
			must(t, "tab", chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)))
			got, err = chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(() => {
				const el = document.activeElement;
				if (!el || !el.classList.contains("run")) return {cell: false};
				const tip = el.querySelector(".tip").getBoundingClientRect(), style = getComputedStyle(el);
				return {cell: true, tipWidth: tip.width, tipHeight: tip.height, outline: style.outlineStyle, text: el.textContent};
			})()`))
			must(t, "read focus", err)
			if got["cell"] == true {
				break
			}
		}
		if got["cell"] != true {
			t.Fatalf("20 presses of Tab never reached a history run")
		}
		if w, _ := got["tipWidth"].(float64); w < 100 {
			t.Errorf("focused run's tooltip is not shown: %v", got)
		}
		if got["outline"] == "none" {
			t.Errorf("focused run has no visible focus ring: %v", got)
		}
		if txt, _ := got["text"].(string); !strings.Contains(txt, "took") {
			t.Errorf("tooltip text %q lacks the duration", txt)
		}
	})

	t.Run("refresh in place picks up a changed state", func(t *testing.T) {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.__notReloaded = true`))
		must(t, "mark page", err)
		write("fail replica lag 42s exceeds 30s")
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('tr[data-check="queue"]').className === "status_failing"`,
			chromedp.WithPollingTimeout(6*time.Second)))
		if err != nil {
			t.Fatalf("queue row did not turn failing without a reload: %v", err)
		}
		res, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({kept: window.__notReloaded === true,
			message: document.querySelector('tr[data-check="queue"] .message').textContent,
			overall: document.getElementById("overall").textContent, title: document.title})`))
		must(t, "read refreshed page", err)
		if res["kept"] != true {
			t.Errorf("the page was reloaded instead of refreshed in place")
		}
		// A group the reader closed stays closed across refreshes.
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("g-readiness").open = false`))
		must(t, "close a group", err)
		write("fail replica lag 43s exceeds 30s")
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('tr[data-check="queue"] .message').textContent.includes("43s")`,
			chromedp.WithPollingTimeout(6*time.Second)))
		must(t, "wait for the next refresh", err)
		if open, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("g-readiness").open`)); err != nil || open {
			t.Errorf("a closed group reopened on refresh (open %v, %v)", open, err)
		}
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("g-readiness").open = true`))
		must(t, "reopen the group", err)
		if res["message"] != "unavailable: replica lag 42s exceeds 30s" {
			t.Errorf("queue message %q", res["message"])
		}
		if !strings.Contains(res["overall"].(string), "Unhealthy") || !strings.Contains(res["title"].(string), "2 failing (1 non-critical), 1 warning") {
			t.Errorf("headline not refreshed: %q, title %q", res["overall"], res["title"])
		}
	})

	t.Run("screenshots", func(t *testing.T) {
		blur := chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`)
		shot := func(name string) {
			t.Helper()
			// Wait for a refresh to land so the page shows its latest state.
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('tr[data-check="queue"] .run:last-child.run_failing') !== null`,
				chromedp.WithPollingTimeout(5*time.Second)))
			must(t, "wait for refresh", err)
			buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			must(t, "screenshot", err)
			// The committed screenshots are refreshed only on request
			// (make screenshots), so a test run leaves the tree clean.
			dir := t.TempDir()
			if os.Getenv("HEALTHD_SCREENSHOTS") != "" {
				dir = filepath.Join("..", "..", "docs")
			}
			if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		must(t, "blur", chromedp.Do(ctx, blur))
		shot("dashboard.png")

		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		must(t, "dark mode", err)
		shot("dashboard-dark.png")
		_, err = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
		must(t, "light mode", err)

		must(t, "phone", chromedp.Do(ctx, chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile)))
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`document.documentElement.scrollWidth <= 320 ? [] :
			Array.from(document.querySelectorAll("main *"))
			.filter(el => el.getBoundingClientRect().right > 320.5 && !el.closest(".tip, .vh"))
			.map(el => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right) + "px")`))
		must(t, "measure", err)
		if len(wide) > 0 {
			t.Errorf("at 320px wide the page scrolls sideways: %q", wide)
		}
		shot("dashboard-phone.png")
	})

	t.Run("usable with JavaScript off", func(t *testing.T) {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		must(t, "disable JavaScript", err)
		must(t, "load without JavaScript", chromedp.Do(ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS("#summary"))))
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`new Set(Array.from(document.querySelectorAll("tr[data-check]")).map(tr => tr.dataset.check)).size`))
		must(t, "count rows", err)
		note, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("refresh-note").innerText`))
		must(t, "read note", err)
		if rows != 5 || !strings.Contains(note, "Reload the page") {
			t.Errorf("without JavaScript: %d rows, note %q", rows, note)
		}
		_, err = chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		must(t, "enable JavaScript", err)
	})

	problems, requests := b.problems(t)
	if len(problems) > 0 {
		t.Errorf("the page had problems:\n%s", strings.Join(problems, "\n"))
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, ts.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("request outside healthd: %s", u)
		}
	}
	if len(requests) < 2 {
		t.Errorf("only %d requests seen (%q): is the network listener working?", len(requests), requests)
	}
}

// TestMinimalPage_InChromium opens the page a caller without a token gets
// when server.auth.tokens are set: the browser reports no CSP violation
// (its inline style is allowed by the policy it is served with) and the
// style applies (margin, and the verdict's colour), failing and passing.
func TestMinimalPage_InChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives Chromium; not under -short")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "db.state")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(state, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("fail connection refused")
	ts := newServer(t, fmt.Sprintf(`
server: {auth: {tokens: [browser-token]}}
defaults: {cache_ttl: 0s, max_stale: 0s}
checks: [{name: database, type: fake, result_file: %q}]
`, state))
	b := newBrowser(t, dir, ts.URL)
	for _, c := range []struct {
		state, verdict, color string
	}{
		{"fail connection refused", "failing", "rgb(207, 34, 46)"},
		{"pass", "passing", "rgb(26, 127, 55)"},
	} {
		write(c.state)
		b.must(t, "load "+c.verdict, chromedp.Do(b.ctx,
			chromedp.Navigate(ts.URL+"/ht/"),
			chromedp.WaitVisible(chromedp.CSS("h1")),
		))
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[map[string]string](`(() => {
			const p = document.querySelector("body > p");
			return {text: p.textContent, margin: getComputedStyle(document.body).marginTop,
				color: getComputedStyle(p).color, csp: String(window.__csp.length)};
		})()`))
		b.must(t, "read the "+c.verdict+" page", err)
		if got["text"] != c.verdict {
			t.Errorf("%s page: text %q", c.verdict, got["text"])
		}
		if got["margin"] != "32px" || got["color"] != c.color {
			t.Errorf("%s page unstyled: body margin %s (want 32px), colour %s (want %s)", c.verdict, got["margin"], got["color"], c.color)
		}
		if got["csp"] != "0" {
			problems, _ := b.problems(t)
			t.Errorf("%s page: %s CSP violations: %q", c.verdict, got["csp"], problems)
		}
	}
	problems, requests := b.problems(t)
	if len(problems) > 0 {
		t.Errorf("the minimal page had problems:\n%s", strings.Join(problems, "\n"))
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, ts.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("request outside healthd: %s", u)
		}
	}
}
