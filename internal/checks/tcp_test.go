package checks

import (
	"io"
	"net"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

// localListener accepts connections on a loopback port and counts the ones
// still open on the server side.
func localListener(t *testing.T) (addr string, open *atomic.Int32, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	open, accepted = new(atomic.Int32), new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			open.Add(1)
			accepted.Add(1)
			go func() {
				io.Copy(io.Discard, c) // until the client closes
				c.Close()
				open.Add(-1)
			}()
		}
	}()
	return l.Addr().String(), open, accepted
}

func TestTCP_ListeningPortPasses(t *testing.T) {
	addr, _, _ := localListener(t)
	r := localPasses(t, localNew(t, "tcp", map[string]any{"address": addr}, Settings{}))
	if !regexp.MustCompile(`^connected to ` + regexp.QuoteMeta(addr) + ` in \d+\.\d ms$`).MatchString(r.note) {
		t.Errorf("note = %q", r.note)
	}
	localObservation(t, r, "responseTime", "ms")
}

func TestTCP_RefusedPortFails(t *testing.T) {
	addr := testsvc.RefusedAddr(t)
	r := localRun(localNew(t, "tcp", map[string]any{"address": addr}, Settings{}))
	if want := "unavailable: connection refused (" + addr + ")"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestTCP_BlackholedPortTimesOut(t *testing.T) {
	addr := testsvc.BlackholeAddr(t)
	r := localRunWithin(localNewWithin(t, "tcp", map[string]any{"address": addr}, Settings{}, localShortTimeout), localShortTimeout)
	localWithinDeadline(t, r)
	if want := "unavailable: timed out after 300ms (" + addr + ")"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

// The tcp type only proves the port accepts connections: a server that
// accepts and never answers passes. Use a protocol check to catch that.
func TestTCP_AcceptingButSilentServerPasses(t *testing.T) {
	localPasses(t, localNew(t, "tcp", map[string]any{"address": testsvc.HangingAddr(t)}, Settings{}))
}

func TestTCP_RecoversWhenTheServerReturns(t *testing.T) {
	addr, _, _ := localListener(t)
	p := testsvc.NewProxy(t, addr)
	c := localNew(t, "tcp", map[string]any{"address": p.Addr()}, Settings{})
	localPasses(t, c)
	p.Cut()
	if r := localRun(c); r.msg != "unavailable: connection refused ("+p.Addr()+")" {
		t.Fatalf("after cut: %q", r.msg)
	}
	p.Restore()
	localPasses(t, c)
}

func TestTCP_ClosesEveryConnection(t *testing.T) {
	addr, open, accepted := localListener(t)
	c := localNew(t, "tcp", map[string]any{"address": addr}, Settings{})
	for i := 0; i < 50; i++ {
		localPasses(t, c)
	}
	deadline := time.Now().Add(testsvc.HangSlack)
	for (open.Load() != 0 || accepted.Load() < 50) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n != 0 {
		t.Fatalf("%d of %d connections still open on the server", n, accepted.Load())
	}
	if n := accepted.Load(); n != 50 {
		t.Errorf("server accepted %d connections for 50 probes", n)
	}
}

func TestTCP_ConfigValidation(t *testing.T) {
	const hostPort = `key "address": must be host:port, such as 127.0.0.1:5432 or db.internal:5432`
	localConfigTable(t, "tcp", []localConfigCase{
		{"ipv4", map[string]any{"address": "127.0.0.1:5432"}, ""},
		{"name", map[string]any{"address": "db.internal:5432"}, ""},
		{"ipv6", map[string]any{"address": "[::1]:6379"}, ""},
		{"missing", map[string]any{}, `key "address": is required`},
		{"no port", map[string]any{"address": "localhost"}, hostPort},
		{"url instead of address", map[string]any{"address": "tcp://localhost:80"}, hostPort},
		{"no host", map[string]any{"address": ":80"}, `key "address": must name a host, such as 127.0.0.1:80`},
		{"port zero", map[string]any{"address": "localhost:0"}, `key "address": must end with a port number from 1 to 65535`},
		{"named port", map[string]any{"address": "localhost:http"}, `key "address": must end with a port number from 1 to 65535`},
		{"port too big", map[string]any{"address": "localhost:70000"}, `key "address": must end with a port number from 1 to 65535`},
		{"misspelled key", map[string]any{"adress": "localhost:80"},
			"key \"address\": is required\nkey \"adress\": unknown key (did you mean \"address\"?)"},
	})
}
