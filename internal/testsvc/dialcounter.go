package testsvc

import (
	"net"
	"testing"
)

// DialCounter is a loopback listener that counts the connections made to
// it, for tests asserting that something does not touch the network: an
// exact count instead of a guess from how long the thing took. It accepts
// nothing until Count, so a client that connects waits for an answer that
// never comes, as from a hung server.
type DialCounter struct {
	l net.Listener
	n int
}

// NewDialCounter listens on a loopback port until the test ends.
func NewDialCounter(t testing.TB) *DialCounter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return &DialCounter{l: l}
}

// Addr is the listener's host:port.
func (d *DialCounter) Addr() string { return d.l.Addr().String() }

// Count returns how many connections were made to d before the call. It
// needs no waiting: it connects itself and accepts up to its own
// connection, which the kernel queued behind every earlier one. The
// connections it accepts are closed.
func (d *DialCounter) Count(t testing.TB) int {
	t.Helper()
	own, err := net.Dial("tcp", d.Addr())
	if err != nil {
		t.Fatalf("testsvc: dial the counter: %v", err)
	}
	defer own.Close()
	for {
		c, err := d.l.Accept()
		if err != nil {
			t.Fatalf("testsvc: accept: %v", err)
		}
		mine := c.RemoteAddr().String() == own.LocalAddr().String()
		c.Close()
		if mine {
			return d.n
		}
		d.n++
	}
}
