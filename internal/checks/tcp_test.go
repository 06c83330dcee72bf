package checks_test

import (
	"io"
	"net"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// countingListener accepts connections on a loopback port and counts the ones
// still open on the server side.
func countingListener(t *testing.T) (addr string, open *atomic.Int32, accepted *atomic.Int32) {
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
	addr, _, _ := countingListener(t)
	r := checkstest.New(t, "tcp", map[string]any{"address": addr}, checkstest.Options{}).Passes(t)
	if !regexp.MustCompile(`^connected to ` + regexp.QuoteMeta(addr) + ` in \d+\.\d ms$`).MatchString(r.Note) {
		t.Errorf("note = %q", r.Note)
	}
	r.Observation(t, "responseTime", "ms")
}

func TestTCP_RefusedPortFails(t *testing.T) {
	addr := testsvc.RefusedAddr(t)
	checkstest.New(t, "tcp", map[string]any{"address": addr}, checkstest.Options{}).FailsWith(t, "unavailable: connection refused ("+addr+")")
}

func TestTCP_BlackholedPortTimesOut(t *testing.T) {
	addr := testsvc.BlackholeAddr(t)
	c := checkstest.New(t, "tcp", map[string]any{"address": addr}, checkstest.Options{Timeout: 300 * time.Millisecond})
	c.FailsWith(t, "unavailable: timed out after 300ms ("+addr+")") // within the deadline
}

// The tcp type only proves the port accepts connections: a server that
// accepts and never answers passes. Use a protocol check to catch that.
func TestTCP_AcceptingButSilentServerPasses(t *testing.T) {
	checkstest.New(t, "tcp", map[string]any{"address": testsvc.HangingAddr(t)}, checkstest.Options{}).Passes(t)
}

func TestTCP_RecoversWhenTheServerReturns(t *testing.T) {
	addr, _, _ := countingListener(t)
	p := testsvc.NewProxy(t, addr)
	c := checkstest.New(t, "tcp", map[string]any{"address": p.Addr()}, checkstest.Options{})
	c.Passes(t)
	p.Cut()
	c.FailsWith(t, "unavailable: connection refused ("+p.Addr()+")")
	p.Restore()
	c.Passes(t)
}

func TestTCP_ClosesEveryConnection(t *testing.T) {
	addr, open, accepted := countingListener(t)
	c := checkstest.New(t, "tcp", map[string]any{"address": addr}, checkstest.Options{})
	for range 50 {
		c.Passes(t)
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
	checkstest.ConfigTable(t, "tcp", []checkstest.ConfigCase{
		{Name: "ipv4", Keys: map[string]any{"address": "127.0.0.1:5432"}},
		{Name: "name", Keys: map[string]any{"address": "db.internal:5432"}},
		{Name: "ipv6", Keys: map[string]any{"address": "[::1]:6379"}},
		{Name: "missing", Keys: map[string]any{}, Want: `key "address": is required`},
		{Name: "no port", Keys: map[string]any{"address": "localhost"}, Want: hostPort},
		{Name: "url instead of address", Keys: map[string]any{"address": "tcp://localhost:80"}, Want: hostPort},
		{Name: "no host", Keys: map[string]any{"address": ":80"}, Want: `key "address": must name a host, such as 127.0.0.1:80`},
		{Name: "port zero", Keys: map[string]any{"address": "localhost:0"}, Want: `key "address": must end with a port number from 1 to 65535`},
		{Name: "named port", Keys: map[string]any{"address": "localhost:http"}, Want: `key "address": must end with a port number from 1 to 65535`},
		{Name: "port too big", Keys: map[string]any{"address": "localhost:70000"}, Want: `key "address": must end with a port number from 1 to 65535`},
		{Name: "misspelled key", Keys: map[string]any{"adress": "localhost:80"}, Want: "key \"address\": is required\nkey \"adress\": unknown key (did you mean \"address\"?)"},
	})
}
