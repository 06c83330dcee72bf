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

// RefusedAddr returns a loopback address where nothing listens.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(RefusedAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}

// HangingAddr returns the address of a listener that accepts connections and
// never writes a byte: a server that is up but hung.
func HangingAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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

// Proxy forwards TCP connections to a target. Cut closes every connection
// and refuses new ones; Hang keeps accepting but stops forwarding; Restore
// forwards again. Tests use it to fail a real server without stopping it.
type Proxy struct {
	t      testing.TB
	target string
	l      net.Listener
	addr   string

	mu    sync.Mutex
	mode  int // 0 forward, 1 hang, 2 cut
	conns map[net.Conn]struct{}
}

const (
	modeForward = iota
	modeHang
	modeCut
)

// NewProxy starts a proxy on a loopback port in front of target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: proxy listen: %v", err)
	}
	p := &Proxy{t: t, target: target, l: l, addr: l.Addr().String(), conns: map[net.Conn]struct{}{}}
	go p.serve(l)
	t.Cleanup(func() {
		p.mu.Lock()
		p.mode = modeCut
		p.mu.Unlock()
		p.closeAll()
	})
	return p
}

// Addr is the proxy's listening address (host:port).
func (p *Proxy) Addr() string { return p.addr }

// Port is the proxy's port.
func (p *Proxy) Port() int {
	_, ps, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(ps)
	return n
}

func (p *Proxy) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if mode == modeCut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		if mode == modeHang {
			go io.Copy(io.Discard, c)
			continue
		}
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.mode != modeForward {
		p.mu.Unlock()
		up.Close()
		c.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	p.drop(c)
	p.drop(up)
}

func (p *Proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Cut closes every connection through the proxy, stops listening (so new
// connections are refused) until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.mode = modeCut
	l := p.l
	p.l = nil
	p.mu.Unlock()
	if l != nil {
		l.Close()
	}
	p.closeAll()
}

// Hang closes existing connections and makes new ones hang: accepted, never answered.
func (p *Proxy) Hang() {
	p.mu.Lock()
	p.mode = modeHang
	p.mu.Unlock()
	p.closeAll()
}

// Restore forwards connections again, on the same port.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.mode = modeForward
	needListen := p.l == nil
	p.mu.Unlock()
	if !needListen {
		return
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("testsvc: proxy relisten on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go p.serve(l)
}
