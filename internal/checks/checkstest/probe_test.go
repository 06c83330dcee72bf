package checkstest_test

import (
	"net"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
)

// The harness on a real type: a tcp check passes against a listener, and
// the shared unreachable table holds for an http check.
func TestHarness_TCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	c := checkstest.New(t, "tcp", map[string]any{"address": l.Addr().String()}, checkstest.Options{})
	r := c.Passes(t)
	r.NotHung(t)
	if testing.Short() {
		return
	}
	// tcp passes when a listener accepts; http needs an answer.
	checkstest.Unreachable(t, 2, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "http", map[string]any{"url": "http://" + addr + "/"}, checkstest.Options{Timeout: 300 * time.Millisecond})
	})
}

func TestHarness_ConfigTable(t *testing.T) {
	checkstest.ConfigTable(t, "tcp", []checkstest.ConfigCase{
		{Name: "valid", Keys: map[string]any{"address": "127.0.0.1:1"}},
		{Name: "missing", Keys: map[string]any{}, Want: `key "address": is required`, Contains: true},
		{Name: "misspelt", Keys: map[string]any{"address": "h:1", "adress": "x"}, Want: `did you mean "address"?`, Contains: true},
	})
}
