package server_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/server"
)

// keyword is a string an uptime robot may look for in the HTML page, as
// docs/dashboard.md's keyword table documents it: state is the page state
// in which it appears (passing, warning, failing), or "any".
type keyword struct{ text, state string }

var (
	keywordRow = regexp.MustCompile("(?m)^\\|\\s*`([^`]+)`\\s*\\|\\s*(passing|warning|failing|any)\\s*\\|")
	quoted     = regexp.MustCompile("`([^`\n]+)`")
)

// documentedKeywords reads the keyword table of docs/dashboard.md, and
// every string quoted about keyword checks in README.md and docs/*.md (in
// a section whose heading names keywords, or a paragraph that says
// "keyword check"), so that what the docs tell users to match is tested.
func documentedKeywords(t *testing.T) (table []keyword, quotes map[string][]string) {
	t.Helper()
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	quotes = map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, f)
		inSection := false // under a heading about keywords
		for _, para := range strings.Split(string(b), "\n\n") {
			lower := strings.ToLower(para)
			if strings.HasPrefix(para, "#") {
				inSection = strings.Contains(lower, "keyword")
			}
			if !inSection && !strings.Contains(lower, "keyword check") {
				continue
			}
			for _, m := range quoted.FindAllStringSubmatch(para, -1) {
				quotes[name] = append(quotes[name], m[1])
			}
			if name == filepath.Join("docs", "dashboard.md") {
				for _, m := range keywordRow.FindAllStringSubmatch(para, -1) {
					table = append(table, keyword{m[1], m[2]})
				}
			}
		}
	}
	return table, quotes
}

// keywordPages are a page of every state, each with check messages that
// try to forge the marker of another state.
var keywordPages = []struct {
	name, state, yaml string
	drain             bool
}{
	{"every check passes", "passing", `
checks:
  - {name: database, type: fake, note: 'data-healthd-status="failing" data-healthd-status="warning"'}
  - {name: cache, type: fake}`, false},
	{"a non-critical check fails", "warning", `
checks:
  - {name: database, type: fake}
  - {name: workers, type: fake, critical: false, fail: 'data-healthd-status="failing" data-healthd-status="passing"'}`, false},
	{"a check warns, WARNINGS_AS_ERRORS false", "warning", `
health_check: {WARNINGS_AS_ERRORS: false}
checks:
  - {name: database, type: fake}
  - {name: disk, type: fake, warn: 'disk 93% full data-healthd-status="passing"'}`, false},
	{"a critical check fails", "failing", `
checks:
  - {name: database, type: fake, fail: 'refused data-healthd-status="passing" data-healthd-status="warning"'}
  - {name: workers, type: fake, critical: false, fail: down}`, false},
	{"a check warns, WARNINGS_AS_ERRORS true", "failing", `
checks:
  - {name: database, type: fake}
  - {name: disk, type: fake, warn: 'disk 93% full'}`, false},
	{"healthd is shutting down", "failing", `
checks:
  - {name: database, type: fake}`, true},
}

// TestDashboard_DocumentedKeywordsTellTheStatesApart: each keyword the docs
// give for keyword checks (Pingdom, UptimeRobot) appears in the pages of its
// state and in no other page, CSS and scripts included, whether the caller
// has a token (the dashboard) or not (the minimal page).
func TestDashboard_DocumentedKeywordsTellTheStatesApart(t *testing.T) {
	table, quotes := documentedKeywords(t)
	inTable := map[string]bool{}
	for _, k := range table {
		inTable[k.text] = true
	}
	for _, state := range []string{"passing", "warning", "failing"} {
		if !slices.ContainsFunc(table, func(k keyword) bool { return k.state == state }) {
			t.Errorf("docs/dashboard.md's keyword table has no keyword for %s pages", state)
		}
	}
	// The README names every state keyword of the table.
	for _, k := range table {
		if k.state != "any" && !slices.Contains(quotes["README.md"], k.text) {
			t.Errorf("README.md's keyword paragraph does not give %q", k.text)
		}
	}

	var pages []string // every page served below, to find undocumented matches
	for _, p := range keywordPages {
		srv := server.New(server.Options{Version: "test"})
		srv.Swap(newState(t, srv, "server: {auth: {tokens: [kw-token]}}\n"+p.yaml))
		if p.drain {
			srv.Drain()
		}
		ts := httptest.NewServer(srv)
		for _, caller := range []struct {
			name   string
			header []string
		}{
			{"the dashboard (with a token)", []string{"Accept", "*/*", "Authorization", "Bearer kw-token"}},
			{"the minimal page (no token)", []string{"Accept", "*/*"}},
		} {
			resp, body := get(t, ts.URL+"/ht/", caller.header...)
			pages = append(pages, body)
			if want := map[bool]int{true: 500, false: 200}[p.state == "failing"]; resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%s, %s: %d %s, want %d HTML", p.name, caller.name, resp.StatusCode, resp.Header.Get("Content-Type"), want)
			}
			for _, k := range table {
				want := k.state == "any" || k.state == p.state
				if got := strings.Contains(body, k.text); got != want {
					t.Errorf("%s (a %s page), %s: contains %q = %v, want %v", p.name, p.state, caller.name, k.text, got, want)
				}
			}
		}
		ts.Close()
	}
	// Whatever a keyword paragraph quotes that can be matched in a page is
	// a keyword, and must say in the table when it appears.
	for file, qs := range quotes {
		for _, q := range qs {
			if inTable[q] {
				continue
			}
			if slices.ContainsFunc(pages, func(body string) bool { return strings.Contains(body, q) }) {
				t.Errorf("%s quotes %q beside keyword checks, and pages contain it, but docs/dashboard.md's keyword table does not say when", file, q)
			}
		}
	}
	for _, k := range table {
		t.Logf("keyword %q: %s pages", k.text, k.state)
	}
}
