package server_test

import (
	"strings"
	"testing"
)

const filtered = `
health_check: {WARNINGS_AS_ERRORS: false}
defaults: {cache_ttl: 1h}
checks:
  - {name: database, type: fake, fail: refused, groups: [readiness]}
  - {name: cache, type: fake, groups: [readiness]}
  - {name: disk, type: fake, groups: [liveness, readiness]}
  - {name: workers, type: fake, fail: "no worker", critical: false}
`

func TestHT_SelectingChecks(t *testing.T) {
	f := newFixture(t, filtered, nil)
	cases := []struct {
		url  string
		code int
		body string
	}{
		{"/ht/check/cache/", 200, `{"cache": "working"}`},
		{"/ht/check/cache", 200, `{"cache": "working"}`},
		{"/ht/check/database/", 500, `{"database": "unavailable: refused"}`},
		// A non-critical check alone still does not fail the response.
		{"/ht/check/workers/", 200, `{"workers": "unavailable: no worker"}`},
		{"/ht/?check=cache,disk", 200, `{"cache": "working", "disk": "working"}`},
		{"/ht/?check=cache&check=disk", 200, `{"cache": "working", "disk": "working"}`},
		{"/ht/?check=cache,,%20disk%20", 200, `{"cache": "working", "disk": "working"}`},
		{"/ht/?skip=database", 200, `{"cache": "working", "disk": "working", "workers": "unavailable: no worker"}`},
		{"/ht/?skip=database,workers", 200, `{"cache": "working", "disk": "working"}`},
		{"/ht/?check=database,cache&skip=database", 200, `{"cache": "working"}`},
		{"/ht/?check=", 500, `{"cache": "working", "database": "unavailable: refused", "disk": "working", "workers": "unavailable: no worker"}`},
		// Filters narrow a group: readiness without the database passes.
		{"/ht/readiness/?skip=database", 200, `{"cache": "working", "disk": "working"}`},
		{"/ht/readiness/?check=database,disk", 500, `{"database": "unavailable: refused", "disk": "working"}`},
		// ...and only ever narrow it: workers is not in readiness.
		{"/ht/readiness/?check=workers,cache", 200, `{"cache": "working"}`},
		{"/ht/liveness/?check=disk", 200, `{"disk": "working"}`},
		{"/ht/check/disk/?skip=cache", 200, `{"disk": "working"}`},
	}
	for _, c := range cases {
		resp, body := get(t, f.ts.URL+c.url, "Accept", "application/json")
		if resp.StatusCode != c.code || body != c.body {
			t.Errorf("%s: %d %s\n want %d %s", c.url, resp.StatusCode, body, c.code, c.body)
		}
	}
}

func TestHT_SelectingUnknownOrNoChecks(t *testing.T) {
	f := newFixture(t, filtered, nil)
	known := "known checks: cache, database, disk, workers"
	cases := []struct {
		url  string
		code int
		want []string
	}{
		{"/ht/check/nope/", 404, []string{`unknown check "nope"`, known}},
		{"/ht/check/nope/?format=health", 404, []string{`unknown check "nope"`, known}},
		{"/ht/?check=cache,nope", 400, []string{`unknown check "nope"`, known}},
		{"/ht/?skip=nope,nada", 400, []string{`unknown check "nope", "nada"`, known}},
		{"/ht/readiness/?check=nope", 400, []string{`unknown check "nope"`, known}},
		{"/ht/liveness/?check=workers", 400, []string{"leave no check to run"}},
		{"/ht/check/cache/?skip=cache", 400, []string{"leave no check to run"}},
		{"/ht/?skip=database,cache,disk,workers", 400, []string{"leave no check to run"}},
		{"/ht/nope/", 404, []string{`unknown group "nope"`, "known groups: liveness, readiness"}},
	}
	for _, c := range cases {
		resp, body := get(t, f.ts.URL+c.url)
		if resp.StatusCode != c.code {
			t.Errorf("%s: status %d, want %d (%q)", c.url, resp.StatusCode, c.code, body)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: body %q lacks %q", c.url, body, w)
			}
		}
	}
}

func TestHT_FilteredChecksDoNotRun(t *testing.T) {
	f := newFixture(t, "defaults: {cache_ttl: 0s, max_stale: 0s}\nchecks: [{name: fast, type: fake}, {name: slow, type: fake, sleep: 2s}]", nil)
	resp, body := get(t, f.ts.URL+"/ht/?skip=slow&format=text")
	if resp.StatusCode != 200 || body != "[+]fast ok\nhealthd check passed\n" {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	if last := f.r.Lookup("slow").Last(); last != nil {
		t.Errorf("the skipped check ran: %+v", last)
	}
}
