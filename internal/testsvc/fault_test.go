package testsvc

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// A refused address stays refused: connecting is refused, and no listener
// can take the port while the test runs.
func TestRefusedAddr_StaysRefused(t *testing.T) {
	addr := RefusedAddr(t)
	for range 3 {
		_, err := net.Dial("tcp", addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	}
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("a listener took %s, which must stay refused", addr)
	}
}
