package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/server"
)

// rawGet sends target byte for byte over TCP (an http.Client would escape
// it) and returns the answer's status and body.
func rawGet(t *testing.T, ts *httptest.Server, target string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", ts.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // only proves it did not hang
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: healthd\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHT_MalformedQueryIs400: a query string that does not parse is refused
// whole. Dropping the bad pair would serve another selection than the one
// asked for: ?check=x%zz would check everything, ?format=%zz answer HTML.
func TestHT_MalformedQueryIs400(t *testing.T) {
	for _, tokens := range []string{"", "server: {auth: {tokens: [q-token]}}\n"} {
		ts := newServer(t, tokens+filtered)
		for _, c := range []struct{ target, why string }{
			{"/ht/?check=x%zz", `invalid URL escape "%zz"`},
			{"/ht/?format=%zz", `invalid URL escape "%zz"`},
			{"/ht/?format=json&check=cache%", `invalid URL escape "%"`},
			{"/ht/?skip=%4", `invalid URL escape "%4"`},
			{"/ht/readiness/?format=json&skip=data%Gbase", `invalid URL escape "%Gb"`},
			{"/ht/check/cache/?format=text&x=%zz", `invalid URL escape "%zz"`},
			{"/ht/?format=json;check=cache", "invalid semicolon separator in query"},
			{"/ht/?format%zz=json", `invalid URL escape "%zz"`},
		} {
			code, body := rawGet(t, ts, c.target)
			if code != http.StatusBadRequest || body != "malformed query string: "+c.why+"\n" {
				t.Errorf("%q (tokens %v): %d %.120q, want 400 naming %s", c.target, tokens != "", code, body, c.why)
			}
		}
		// Well-formed escapes still work.
		if code, body := rawGet(t, ts, "/ht/?check=cache%2Cdisk&format=%6Aso%6E"); code != 200 || (tokens == "" && body != `{"cache": "working", "disk": "working"}`) {
			t.Errorf("escaped but valid query: %d %.120q", code, body)
		}
	}
}

// TestHT_MalformedQueryIs400_RawQuery is the same through a handler call,
// with RawQuery set as a client that does not escape would send it.
func TestHT_MalformedQueryIs400_RawQuery(t *testing.T) {
	srv := server.New(server.Options{Version: "test"})
	srv.Swap(newState(t, srv, filtered))
	for _, q := range []string{"check=x%zz", "format=%zz", "format=json&skip=%"} {
		req := httptest.NewRequest(http.MethodGet, "/ht/", nil)
		req.URL.RawQuery = q
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(w.Body.String(), "malformed query string: ") {
			t.Errorf("?%s: %d %.120q", q, w.Code, w.Body.String())
		}
	}
}
