package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A check may keep the key django-health-check 3.x gives it, spaces and
// colon included: it is that key in the flat JSON, and its own page is at
// its URL-escaped name.
func TestHT_DjangoHealthCheck3Names(t *testing.T) {
	f := newFixture(t, `checks:
  - {name: "Cache backend: default", type: fake}
  - {name: DatabaseBackend, type: fake}
`, nil)
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.ts.URL+path, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/ht/"); code != 200 || body != `{"Cache backend: default": "working", "DatabaseBackend": "working"}` {
		t.Errorf("/ht/ = %d %s", code, body)
	}
	if code, body := get("/ht/check/Cache%20backend:%20default/"); code != 200 || !strings.Contains(body, `"Cache backend: default"`) {
		t.Errorf("the check's page = %d %s", code, body)
	}
}
