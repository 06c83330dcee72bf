package checks_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// countingHTTPServer serves handler and counts the connections it opened.
func countingHTTPServer(t *testing.T, handler http.HandlerFunc) (srv *httptest.Server, conns *atomic.Int32) {
	t.Helper()
	conns = new(atomic.Int32)
	srv = httptest.NewUnstartedServer(handler)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

// httpShortTimeout is the timeout of a check a test expects to time out (the
// others have checkstest.Timeout); the test waits for it.
const httpShortTimeout = 300 * time.Millisecond

// newHTTPCheck builds an http check with checkstest.Timeout; it is closed
// when the test ends.
func newHTTPCheck(t *testing.T, keys map[string]any) *checkstest.Check {
	t.Helper()
	return checkstest.New(t, "http", keys, checkstest.Options{})
}

func TestHTTP_ExpectedStatusAndBodyPass(t *testing.T) {
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"ok"}`)
	})
	r := newHTTPCheck(t, map[string]any{"url": srv.URL + "/health", "expect_body": `"ok"`}).Passes(t)
	if !regexp.MustCompile(`^status 200 in \d+\.\d ms$`).MatchString(r.Note) {
		t.Errorf("note = %q", r.Note)
	}
	r.Observation(t, "responseTime", "ms")
}

func TestHTTP_UnexpectedStatusFails(t *testing.T) {
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	newHTTPCheck(t, map[string]any{"url": srv.URL + "/health"}).FailsWith(t, "unexpected result: status 503, expected 200-399 ("+srv.URL+"/health)")
}

func TestHTTP_ExpectStatusAcceptsCodesRangesAndLists(t *testing.T) {
	var status atomic.Int32
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	})
	cases := []struct {
		expect any
		status int
		pass   bool
		shown  string
	}{
		{204, 204, true, ""},
		{204, 200, false, "204"},
		{"401", 401, true, ""},
		{"500-599", 503, true, ""},
		{"500-599", 200, false, "500-599"},
		{[]any{200, "401-403"}, 403, true, ""},
		{[]any{200, "401-403"}, 404, false, "200, 401-403"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v/%d", tc.expect, tc.status), func(t *testing.T) {
			status.Store(int32(tc.status))
			c := newHTTPCheck(t, map[string]any{"url": srv.URL, "expect_status": tc.expect})
			if tc.pass {
				c.Passes(t)
				return
			}
			c.FailsWith(t, fmt.Sprintf("unexpected result: status %d, expected %s (%s)", tc.status, tc.shown, srv.URL))
		})
	}
}

func TestHTTP_BodyWithoutExpectedTextFails(t *testing.T) {
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"degraded"}`)
	})
	newHTTPCheck(t, map[string]any{"url": srv.URL + "/ht/", "expect_body": `"ok"`}).FailsWith(t, `unexpected result: response body does not contain "\"ok\"" (`+srv.URL+`/ht/)`)
}

func TestHTTP_ReadsAtMostOneMiBOfBody(t *testing.T) {
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", checks.HTTPMaxBody)))
		w.Write([]byte("marker"))
	})
	newHTTPCheck(t, map[string]any{"url": srv.URL, "expect_body": "marker"}).Fails(t, `unexpected result: response body does not contain "marker"`)
}

func TestHTTP_HangingHandlerTimesOut(t *testing.T) {
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers nothing until the client gives up
	})
	c := checkstest.New(t, "http", map[string]any{"url": srv.URL + "/health"}, checkstest.Options{Timeout: httpShortTimeout})
	c.FailsWith(t, "unavailable: timed out after 300ms ("+strings.TrimPrefix(srv.URL, "http://")+")") // within the deadline
}

func TestHTTP_HangingServerTimesOut(t *testing.T) {
	// Accepts the connection and never answers: not even HTTP.
	addr := testsvc.HangingAddr(t)
	c := checkstest.New(t, "http", map[string]any{"url": "http://" + addr + "/"}, checkstest.Options{Timeout: httpShortTimeout})
	c.FailsWith(t, "unavailable: timed out after 300ms ("+addr+")") // within the deadline
}

func TestHTTP_BlackholedServerTimesOut(t *testing.T) {
	addr := testsvc.BlackholeAddr(t)
	c := checkstest.New(t, "http", map[string]any{"url": "http://" + addr + "/"}, checkstest.Options{Timeout: httpShortTimeout})
	c.Fails(t, "unavailable: timed out after 300ms") // within the deadline
}

func TestHTTP_RefusedFails(t *testing.T) {
	addr := testsvc.RefusedAddr(t)
	newHTTPCheck(t, map[string]any{"url": "http://" + addr + "/health"}).FailsWith(t, "unavailable: connection refused ("+addr+")")
}

func TestHTTP_NoSecretInTheMessage(t *testing.T) {
	t.Parallel() // a hanging server is waited for to the deadline
	const password, token = "s3cr3t-pw", "tok-123456"
	for _, tc := range []struct {
		name string
		addr func(testing.TB) string
	}{
		{"refused", testsvc.RefusedAddr},
		{"hanging", testsvc.HangingAddr},
		{"unexpected status", func(tb testing.TB) string {
			srv, _ := countingHTTPServer(tb.(*testing.T), func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
			return strings.TrimPrefix(srv.URL, "http://")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "http://monitor:" + password + "@" + tc.addr(t) + "/health?token=" + token
			r := checkstest.New(t, "http", map[string]any{"url": url}, checkstest.Options{Timeout: httpShortTimeout}).Fails(t, "")
			for _, secret := range []string{password, token, "monitor"} {
				if strings.Contains(r.Message, secret) {
					t.Fatalf("message %q contains %q", r.Message, secret)
				}
			}
		})
	}
}

func TestHTTP_UserinfoIsSentAsBasicAuth(t *testing.T) {
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "monitor" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	withAuth := strings.Replace(srv.URL, "http://", "http://monitor:pw@", 1)
	newHTTPCheck(t, map[string]any{"url": withAuth}).Passes(t)
	newHTTPCheck(t, map[string]any{"url": srv.URL}).Fails(t, "unexpected result: status 401")
}

func TestHTTP_FollowsUpToFiveRedirects(t *testing.T) {
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/r/%d", &n)
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
			return
		}
		fmt.Fprint(w, "arrived")
	})
	newHTTPCheck(t, map[string]any{"url": srv.URL + "/r/5", "expect_body": "arrived"}).Passes(t)
	newHTTPCheck(t, map[string]any{"url": srv.URL + "/r/6"}).FailsWith(t, "unavailable: stopped after 5 redirects ("+srv.URL+"/r/6)")
}

func TestHTTP_HeadMethod(t *testing.T) {
	var method atomic.Value
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) { method.Store(r.Method) })
	newHTTPCheck(t, map[string]any{"url": srv.URL, "method": "head"}).Passes(t)
	if m := method.Load(); m != "HEAD" {
		t.Fatalf("server saw %v, want HEAD", m)
	}
}

func TestHTTP_UnverifiableCertificateFails(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake error the client causes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r := newHTTPCheck(t, map[string]any{"url": srv.URL}).Fails(t, "unavailable: ")
	t.Log(r.Message)
	if !strings.Contains(r.Message, "certificate signed by unknown authority") || !strings.HasSuffix(r.Message, "("+strings.TrimPrefix(srv.URL, "https://")+")") {
		t.Fatalf("message = %q", r.Message)
	}
}

func TestHTTP_ReusesOneConnection(t *testing.T) {
	srv, conns := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	c := newHTTPCheck(t, map[string]any{"url": srv.URL, "expect_body": "ok"})
	for range 50 {
		c.Passes(t)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("50 probes opened %d connections, want 1", n)
	}
	// A failing status must not cost a connection either.
	bad := newHTTPCheck(t, map[string]any{"url": srv.URL, "expect_status": 204})
	for range 20 {
		bad.Run()
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("after 20 failing probes of a second check: %d connections, want 2", n)
	}
}

func TestHTTP_RecoversWhenTheServerReturns(t *testing.T) {
	t.Parallel() // a hanging server is waited for to the deadline
	srv, _ := countingHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {})
	p := testsvc.NewProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	c := checkstest.New(t, "http", map[string]any{"url": "http://" + p.Addr() + "/"}, checkstest.Options{Timeout: time.Second})
	c.Passes(t)
	p.Cut()
	c.FailsWith(t, "unavailable: connection refused ("+p.Addr()+")")
	p.Restore()
	c.Passes(t)
	p.Hang()
	c.FailsWith(t, "unavailable: timed out after 1s ("+p.Addr()+")") // within the deadline
	p.Restore()
	c.Passes(t)
}

func TestHTTP_ConfigValidation(t *testing.T) {
	const statusMsg = `must be a status code such as 200, a range such as "200-399", or a list of them, not `
	checkstest.ConfigTable(t, "http", []checkstest.ConfigCase{
		{Name: "url only", Keys: map[string]any{"url": "http://127.0.0.1:8000/ht/"}},
		{Name: "everything", Keys: map[string]any{"url": "https://app.internal/ht/", "expect_status": []any{200, "300-302"},
			"expect_body": "ok", "method": "GET"}},
		{Name: "status as string after env expansion", Keys: map[string]any{"url": "http://a/", "expect_status": "200"}},
		{Name: "missing url", Keys: map[string]any{}, Want: `key "url": is required`},
		{Name: "not http", Keys: map[string]any{"url": "ftp://files.internal/"}, Want: `key "url": must start with http:// or https://`},
		{Name: "no scheme", Keys: map[string]any{"url": "app.internal:8000/ht/"}, Want: `key "url": must start with http:// or https://`},
		{Name: "no host", Keys: map[string]any{"url": "http:///ht/"}, Want: `key "url": must name a host, such as http://127.0.0.1:8000/ht/`},
		{Name: "unparsable url, password not echoed", Keys: map[string]any{"url": "http://u:pw@[::1/"}, Want: `key "url": is not a valid URL`},
		{Name: "status out of range", Keys: map[string]any{"url": "http://a/", "expect_status": 700}, Want: `key "expect_status": ` + statusMsg + `700`},
		{Name: "reversed range", Keys: map[string]any{"url": "http://a/", "expect_status": "399-200"}, Want: `key "expect_status": ` + statusMsg + `"399-200"`},
		{Name: "status words", Keys: map[string]any{"url": "http://a/", "expect_status": "ok"}, Want: `key "expect_status": ` + statusMsg + `"ok"`},
		{Name: "bad list item", Keys: map[string]any{"url": "http://a/", "expect_status": []any{200, true}}, Want: `key "expect_status[1]": ` + statusMsg + `a boolean`},
		{Name: "empty list", Keys: map[string]any{"url": "http://a/", "expect_status": []any{}}, Want: `key "expect_status": must not be an empty list`},
		{Name: "post", Keys: map[string]any{"url": "http://a/", "method": "POST"}, Want: `key "method": must be GET or HEAD, not "POST"`},
		{Name: "body with head", Keys: map[string]any{"url": "http://a/", "method": "HEAD", "expect_body": "ok"},
			Want: `key "expect_body": cannot be checked with method HEAD, which has no body`},
		{Name: "misspelled key", Keys: map[string]any{"url": "http://a/", "expect_stauts": 200},
			Want: `key "expect_stauts": unknown key (did you mean "expect_status"?)`},
	})
}

func TestHTTP_ServerClosingWithoutAnswerFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 4096))
			c.Close()
		}
	}()
	newHTTPCheck(t, map[string]any{"url": "http://" + l.Addr().String() + "/"}).FailsWith(t, "unavailable: connection closed by server ("+l.Addr().String()+")")
}
