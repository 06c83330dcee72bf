package checks_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// http checks of one timeout share a transport: fifty checks of one app
// keep at most four idle connections to it once their probes are done,
// not fifty, and the last Close drops them.
func TestHTTP_ChecksShareATransport(t *testing.T) {
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if s == http.StateClosed || s == http.StateHijacked {
			delete(open, c)
		} else {
			open[c] = true
		}
	}
	srv.Start()
	defer srv.Close()
	conns := func() int { mu.Lock(); defer mu.Unlock(); return len(open) }

	cs := new(checks.Clients)
	keys := map[string]any{"url": srv.URL + "/ht/"}
	const n = 50
	cks := make([]*checkstest.Check, n)
	for i := range cks {
		cks[i] = checkstest.New(t, "http", keys, checkstest.Options{Clients: cs})
	}
	other := checkstest.New(t, "http", keys, checkstest.Options{Clients: cs, Timeout: checkstest.Timeout + time.Second})
	if cs.Len() != 2 {
		t.Fatalf("%d checks of one timeout and one of another hold %d transports, want 2", n+1, cs.Len())
	}
	other.Close()
	for range 3 {
		var wg sync.WaitGroup
		for _, c := range cks {
			wg.Go(func() {
				if r := c.Run(); r.Err != nil {
					t.Errorf("probe failed: %s", r.Message)
				}
			})
		}
		wg.Wait()
	}
	// A connection the transport could not keep idle is closed by it; the
	// server sees the close a moment later.
	settle := func(want func(int) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(testsvc.HangSlack)
		for !want(conns()) {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections open, want %s", conns(), what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	settle(func(n int) bool { return n >= 1 && n <= 4 }, "1 to 4 idle ones kept")
	for _, c := range cks[:n-1] {
		c.Close()
	}
	cks[n-1].Passes(t)
	settle(func(n int) bool { return n >= 1 && n <= 4 }, "the last check's transport still open")
	cks[n-1].Close()
	if cs.Len() != 0 {
		t.Errorf("after the last Close: %d transports, want 0", cs.Len())
	}
	settle(func(n int) bool { return n == 0 }, "none after the last check closed")
}
