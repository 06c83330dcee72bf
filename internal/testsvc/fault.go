// Package testsvc gives tests real servers and real faults: addresses that
// refuse, listeners that accept and never answer, ports that black-hole
// their SYNs, and a TCP proxy the test can cut, hang and restore.
package testsvc

import (
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// RefusedAddr returns a loopback address that refuses connections for the
// rest of the test: a socket bound to it, never listening, holds the port,
// so that no test running beside this one can start listening there (a
// port that was merely free a moment ago can be taken on a busy machine, and
// the "refused" check then passes).
func RefusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("testsvc: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("testsvc: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("testsvc: getsockname: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// FreePort returns a loopback port that was free a moment ago, for a server
// the test starts there itself.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// HangingAddr returns the address of a listener that accepts connections and
// never writes a byte: a server that is up but hung.
func HangingAddr(t testing.TB) string {
	t.Helper()
	return HangingAt(t, "127.0.0.1:0")
}

// HangingAt is HangingAddr on a given address: a hung TCP server on the port
// of a UDP one (a DNS server whose TCP side hangs), for instance.
func HangingAt(t testing.TB, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("testsvc: listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c) // read and ignore, never answer
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

// BlackholeAddr returns an address whose TCP handshake never completes: a
// listening socket with a zero backlog that never accepts, its queue already
// full, so the kernel drops further SYNs as a firewalled host would.
func BlackholeAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("testsvc: socket: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatalf("testsvc: bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		t.Fatalf("testsvc: listen: %v", err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the accept queue; with tcp_abort_on_overflow=0 later SYNs are dropped.
	var fillers []net.Conn
	for i := 0; i < 4; i++ {
		d := net.Dialer{Timeout: 200e6}
		if c, err := d.Dial("tcp", addr); err == nil {
			fillers = append(fillers, c)
		}
	}
	t.Cleanup(func() {
		for _, c := range fillers {
			c.Close()
		}
		syscall.Close(fd)
	})
	return addr
}
