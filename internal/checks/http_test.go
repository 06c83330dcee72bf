package checks

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

	"github.com/healthd/healthd/internal/testsvc"
)

// localHTTPServer serves handler and counts the connections it opened.
func localHTTPServer(t *testing.T, handler http.HandlerFunc) (srv *httptest.Server, conns *atomic.Int32) {
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

func TestHTTP_ExpectedStatusAndBodyPass(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"ok"}`)
	})
	c := localNew(t, "http", map[string]any{"url": srv.URL + "/health", "expect_body": `"ok"`}, Settings{})
	r := localPasses(t, c)
	if !regexp.MustCompile(`^status 200 in \d+\.\d ms$`).MatchString(r.note) {
		t.Errorf("note = %q", r.note)
	}
	localObservation(t, r, "responseTime", "ms")
}

func TestHTTP_UnexpectedStatusFails(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	r := localRun(localNew(t, "http", map[string]any{"url": srv.URL + "/health"}, Settings{}))
	if want := "unexpected result: status 503, expected 200-399 (" + srv.URL + "/health)"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestHTTP_ExpectStatusAcceptsCodesRangesAndLists(t *testing.T) {
	var status atomic.Int32
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
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
			r := localRun(localNew(t, "http", map[string]any{"url": srv.URL, "expect_status": tc.expect}, Settings{}))
			if tc.pass {
				if r.err != nil {
					t.Fatalf("failed: %s", r.msg)
				}
				return
			}
			if want := fmt.Sprintf("unexpected result: status %d, expected %s (%s)", tc.status, tc.shown, srv.URL); r.msg != want {
				t.Fatalf("message = %q, want %q", r.msg, want)
			}
		})
	}
}

func TestHTTP_BodyWithoutExpectedTextFails(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"degraded"}`)
	})
	r := localRun(localNew(t, "http", map[string]any{"url": srv.URL + "/ht/", "expect_body": `"ok"`}, Settings{}))
	if want := `unexpected result: response body does not contain "\"ok\"" (` + srv.URL + `/ht/)`; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestHTTP_ReadsAtMostOneMiBOfBody(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", httpMaxBody)))
		w.Write([]byte("marker"))
	})
	r := localRun(localNew(t, "http", map[string]any{"url": srv.URL, "expect_body": "marker"}, Settings{}))
	localWantPrefix(t, r, `unexpected result: response body does not contain "marker"`)
}

func TestHTTP_HangingHandlerTimesOut(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers nothing until the client gives up
	})
	r := localRunWithin(localNewWithin(t, "http", map[string]any{"url": srv.URL + "/health"}, Settings{}, localShortTimeout), localShortTimeout)
	localWithinDeadline(t, r)
	if want := "unavailable: timed out after 300ms (" + strings.TrimPrefix(srv.URL, "http://") + ")"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestHTTP_HangingServerTimesOut(t *testing.T) {
	// Accepts the connection and never answers: not even HTTP.
	addr := testsvc.HangingAddr(t)
	r := localRunWithin(localNewWithin(t, "http", map[string]any{"url": "http://" + addr + "/"}, Settings{}, localShortTimeout), localShortTimeout)
	localWithinDeadline(t, r)
	if want := "unavailable: timed out after 300ms (" + addr + ")"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestHTTP_BlackholedServerTimesOut(t *testing.T) {
	addr := testsvc.BlackholeAddr(t)
	r := localRunWithin(localNewWithin(t, "http", map[string]any{"url": "http://" + addr + "/"}, Settings{}, localShortTimeout), localShortTimeout)
	localWithinDeadline(t, r)
	localWantPrefix(t, r, "unavailable: timed out after 300ms")
}

func TestHTTP_RefusedFails(t *testing.T) {
	addr := testsvc.RefusedAddr(t)
	r := localRun(localNew(t, "http", map[string]any{"url": "http://" + addr + "/health"}, Settings{}))
	if want := "unavailable: connection refused (" + addr + ")"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestHTTP_NoSecretInTheMessage(t *testing.T) {
	const password, token = "s3cr3t-pw", "tok-123456"
	for _, tc := range []struct {
		name string
		addr func(testing.TB) string
	}{
		{"refused", testsvc.RefusedAddr},
		{"hanging", testsvc.HangingAddr},
		{"unexpected status", func(tb testing.TB) string {
			srv, _ := localHTTPServer(tb.(*testing.T), func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
			return strings.TrimPrefix(srv.URL, "http://")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "http://monitor:" + password + "@" + tc.addr(t) + "/health?token=" + token
			c := localNew(t, "http", map[string]any{"url": url}, Settings{})
			r := localRun(c)
			if r.err == nil {
				t.Fatal("passed, want a failure")
			}
			for _, secret := range []string{password, token, "monitor"} {
				if strings.Contains(r.msg, secret) {
					t.Fatalf("message %q contains %q", r.msg, secret)
				}
			}
		})
	}
}

func TestHTTP_UserinfoIsSentAsBasicAuth(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "monitor" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	withAuth := strings.Replace(srv.URL, "http://", "http://monitor:pw@", 1)
	localPasses(t, localNew(t, "http", map[string]any{"url": withAuth}, Settings{}))
	r := localRun(localNew(t, "http", map[string]any{"url": srv.URL}, Settings{}))
	localWantPrefix(t, r, "unexpected result: status 401")
}

func TestHTTP_FollowsUpToFiveRedirects(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/r/%d", &n)
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
			return
		}
		fmt.Fprint(w, "arrived")
	})
	localPasses(t, localNew(t, "http", map[string]any{"url": srv.URL + "/r/5", "expect_body": "arrived"}, Settings{}))
	r := localRun(localNew(t, "http", map[string]any{"url": srv.URL + "/r/6"}, Settings{}))
	if want := "unavailable: stopped after 5 redirects (" + srv.URL + "/r/6)"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestHTTP_HeadMethod(t *testing.T) {
	var method atomic.Value
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) { method.Store(r.Method) })
	localPasses(t, localNew(t, "http", map[string]any{"url": srv.URL, "method": "head"}, Settings{}))
	if m := method.Load(); m != "HEAD" {
		t.Fatalf("server saw %v, want HEAD", m)
	}
}

func TestHTTP_UnverifiableCertificateFails(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake error the client causes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r := localRun(localNew(t, "http", map[string]any{"url": srv.URL}, Settings{}))
	localWantPrefix(t, r, "unavailable: ")
	t.Log(r.msg)
	if !strings.Contains(r.msg, "certificate signed by unknown authority") || !strings.HasSuffix(r.msg, "("+strings.TrimPrefix(srv.URL, "https://")+")") {
		t.Fatalf("message = %q", r.msg)
	}
}

func TestHTTP_ReusesOneConnection(t *testing.T) {
	srv, conns := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	c := localNew(t, "http", map[string]any{"url": srv.URL, "expect_body": "ok"}, Settings{})
	for i := 0; i < 50; i++ {
		localPasses(t, c)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("50 probes opened %d connections, want 1", n)
	}
	// A failing status must not cost a connection either.
	bad := localNew(t, "http", map[string]any{"url": srv.URL, "expect_status": 204}, Settings{})
	for i := 0; i < 20; i++ {
		localRun(bad)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("after 20 failing probes of a second check: %d connections, want 2", n)
	}
}

func TestHTTP_RecoversWhenTheServerReturns(t *testing.T) {
	srv, _ := localHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {})
	p := testsvc.NewProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	c := localNew(t, "http", map[string]any{"url": "http://" + p.Addr() + "/"}, Settings{})
	localPasses(t, c)
	p.Cut()
	r := localRun(c)
	if r.err == nil {
		t.Fatal("passed while the proxy was cut")
	}
	if want := "unavailable: connection refused (" + p.Addr() + ")"; r.msg != want {
		t.Fatalf("while cut: %q, want %q", r.msg, want)
	}
	p.Restore()
	localPasses(t, c)
	p.Hang()
	r = localRun(c)
	localWithinDeadline(t, r)
	if want := "unavailable: timed out after " + localTimeout.String() + " (" + p.Addr() + ")"; r.msg != want {
		t.Fatalf("while hung: %q, want %q", r.msg, want)
	}
	p.Restore()
	localPasses(t, c)
}

func TestHTTP_ConfigValidation(t *testing.T) {
	const statusMsg = `must be a status code such as 200, a range such as "200-399", or a list of them, not `
	localConfigTable(t, "http", []localConfigCase{
		{"url only", map[string]any{"url": "http://127.0.0.1:8000/ht/"}, ""},
		{"everything", map[string]any{"url": "https://app.internal/ht/", "expect_status": []any{200, "300-302"},
			"expect_body": "ok", "method": "GET"}, ""},
		{"status as string after env expansion", map[string]any{"url": "http://a/", "expect_status": "200"}, ""},
		{"missing url", map[string]any{}, `key "url": is required`},
		{"not http", map[string]any{"url": "ftp://files.internal/"}, `key "url": must start with http:// or https://`},
		{"no scheme", map[string]any{"url": "app.internal:8000/ht/"}, `key "url": must start with http:// or https://`},
		{"no host", map[string]any{"url": "http:///ht/"}, `key "url": must name a host, such as http://127.0.0.1:8000/ht/`},
		{"unparsable url, password not echoed", map[string]any{"url": "http://u:pw@[::1/"}, `key "url": is not a valid URL`},
		{"status out of range", map[string]any{"url": "http://a/", "expect_status": 700}, `key "expect_status": ` + statusMsg + `700`},
		{"reversed range", map[string]any{"url": "http://a/", "expect_status": "399-200"}, `key "expect_status": ` + statusMsg + `"399-200"`},
		{"status words", map[string]any{"url": "http://a/", "expect_status": "ok"}, `key "expect_status": ` + statusMsg + `"ok"`},
		{"bad list item", map[string]any{"url": "http://a/", "expect_status": []any{200, true}}, `key "expect_status[1]": ` + statusMsg + `a boolean`},
		{"empty list", map[string]any{"url": "http://a/", "expect_status": []any{}}, `key "expect_status": must not be an empty list`},
		{"post", map[string]any{"url": "http://a/", "method": "POST"}, `key "method": must be GET or HEAD, not "POST"`},
		{"body with head", map[string]any{"url": "http://a/", "method": "HEAD", "expect_body": "ok"},
			`key "expect_body": cannot be checked with method HEAD, which has no body`},
		{"misspelled key", map[string]any{"url": "http://a/", "expect_stauts": 200},
			`key "expect_stauts": unknown key (did you mean "expect_status"?)`},
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
	r := localRun(localNew(t, "http", map[string]any{"url": "http://" + l.Addr().String() + "/"}, Settings{}))
	if want := "unavailable: connection closed by server (" + l.Addr().String() + ")"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}
