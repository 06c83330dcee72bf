package hardening

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

const passing = `
checks:
  - {name: db, type: fake, groups: [readiness]}
`

// TestHTTP_BadInputGetsACleanAnswer sends what scanners and broken clients
// send to a real listener: every answer is a clean 4xx, or the normal answer
// when the path names a real route; never a 5xx, a hang or a dropped
// connection.
func TestHTTP_BadInputGetsACleanAnswer(t *testing.T) {
	t.Parallel()
	addr := serve(t, passing)
	req := func(method, target string, headers ...string) string {
		return method + " " + target + " HTTP/1.1\r\nHost: healthd\r\n" + strings.Join(headers, "") + "Connection: close\r\n\r\n"
	}
	for _, c := range []struct {
		name    string
		request string
		want    []int // any of these
	}{
		{"headers over MaxHeaderBytes", req("GET", "/ht/", "X-Big: "+strings.Repeat("a", 40<<10)+"\r\n"), []int{431}},
		{"many headers over MaxHeaderBytes", req("GET", "/ht/", strings.Repeat("X-Many: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 600)), []int{431}},
		{"URL over MaxHeaderBytes", req("GET", "/ht/?format=json&x="+strings.Repeat("a", 100<<10)), []int{431}},
		{"long URL under the limit", req("GET", "/ht/"+strings.Repeat("a", 16<<10)+"/"), []int{404}},
		{"long query under the limit", req("GET", "/ht/?check="+strings.Repeat("a,", 8<<10)), []int{400}},
		{"POST", req("POST", "/ht/", "Content-Length: 0\r\n"), []int{405}},
		{"PUT", req("PUT", "/ht/", "Content-Length: 0\r\n"), []int{405}},
		{"DELETE", req("DELETE", "/ht/check/db/"), []int{405}},
		{"PATCH", req("PATCH", "/ht/readiness/"), []int{405}},
		{"OPTIONS", req("OPTIONS", "/ht/"), []int{405}},
		{"TRACE", req("TRACE", "/ht/"), []int{405}},
		{"made-up method", req("BREW", "/ht/"), []int{405}},
		// net/http answers "OPTIONS *" itself: 200, empty, no handler runs.
		{"OPTIONS *", req("OPTIONS", "*"), []int{200}},
		{"CONNECT", req("CONNECT", "healthd:443"), []int{400, 404, 405}},
		{"method with a bad character", req("GE(T", "/ht/"), []int{400}},
		{"dot-dot", req("GET", "/ht/../"), []int{404}},
		{"dot-dot out of the root", req("GET", "/../../etc/passwd"), []int{404}},
		{"double slashes", req("GET", "//ht//"), []int{404}},
		{"single dot", req("GET", "/ht/./"), []int{404}},
		{"encoded dot-dot", req("GET", "/ht/%2e%2e/%2e%2e/etc/passwd"), []int{404}},
		{"encoded slashes", req("GET", "/ht%2Fcheck%2Fdb/"), []int{404}},
		{"encoded slash in a check name", req("GET", "/ht/check/db%2F..%2F/"), []int{404}},
		{"encoded null byte", req("GET", "/ht/check/db%00/"), []int{404}},
		{"raw null byte", req("GET", "/ht/\x00/"), []int{400}},
		{"bad percent-encoding", req("GET", "/ht/%zz/"), []int{400}},
		{"control character in a header", req("GET", "/ht/", "X-Bad: a\x01b\r\n"), []int{400}},
		{"absolute-form target", req("GET", "http://healthd/ht/"), []int{200}},
		{"real route with an empty query", req("GET", "/ht/?"), []int{200}},
		{"group route without its slash", req("GET", "/ht/readiness"), []int{200}},
		{"HTTP/0.9-style request", "GET /ht/\r\n\r\n", []int{400, 505}},
		{"unknown HTTP version", "GET /ht/ HTTP/7.1\r\nHost: h\r\n\r\n", []int{505, 400}},
		{"no Host header", "GET /ht/ HTTP/1.1\r\nConnection: close\r\n\r\n", []int{400}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			resp, err := raw(t, addr, c.request)
			if err != nil {
				t.Fatalf("no answer (%v) after %s", err, time.Since(start))
			}
			ok := false
			for _, w := range c.want {
				ok = ok || resp.StatusCode == w
			}
			if !ok {
				t.Errorf("status %d, want one of %v", resp.StatusCode, c.want)
			}
			if resp.StatusCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

// TestHTTP_SecurityHeadersOnTheDashboard: the HTML page forbids framing,
// sends no referrer, restricts what it may load, and nothing is sniffed.
func TestHTTP_SecurityHeadersOnTheDashboard(t *testing.T) {
	t.Parallel()
	addr := serve(t, passing)
	for _, path := range []string{"/ht/", "/ht/readiness/", "/ht/check/db/"} {
		resp, err := http.Get("http://" + addr + path + "?format=html")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: Content-Type %q, want HTML", path, resp.Header.Get("Content-Type"))
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s: no %s header", path, h)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != "" && !strings.Contains(csp, "default-src") {
			t.Errorf("%s: Content-Security-Policy %q has no default-src", path, csp)
		}
	}
}

// TestHTTP_SlowlorisIsDisconnected: a client that sends its headers a line
// at a time and never finishes is disconnected once ReadHeaderTimeout (5s)
// has passed since the request began, however steadily it dribbles.
func TestHTTP_SlowlorisIsDisconnected(t *testing.T) {
	t.Parallel()
	addr := serve(t, passing)
	// Timed from before the dial: the server's timeout cannot start earlier.
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /ht/ HTTP/1.1\r\nHost: healthd\r\n"))
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case took := <-closed:
			t.Logf("disconnected after %s", took.Round(time.Millisecond))
			if took < 4500*time.Millisecond {
				t.Errorf("disconnected after %s, before ReadHeaderTimeout", took)
			}
			return
		case <-tick.C:
			if time.Since(start) > 5*time.Second+testsvc.HangSlack {
				t.Fatalf("still connected after %s: no header timeout", time.Since(start))
			}
			c.Write([]byte("X-Slow: a\r\n"))
		}
	}
}
