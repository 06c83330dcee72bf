package testsvc

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a target, so a test can fail a real
// server without stopping it. Every connection it accepts is closed as soon
// as the client hangs up, whatever the mode, so the proxy itself leaks
// nothing (fault suites count goroutines and file descriptors). Besides forwarding it can:
//   - Delay: forward, but hold everything the server sends for d before
//     passing it on (a server that answers, too late);
//   - Hang: accept and never answer (nothing is forwarded);
//   - Cut: close every connection, in flight or not, and refuse new ones;
//   - Stale: close each open connection at the client's next request;
//   - Restore: forward again on the same port.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	l     net.Listener
	mode  faultMode
	delay time.Duration
	conns map[net.Conn]struct{}
	stale map[net.Conn]bool
	wg    sync.WaitGroup
	// clients are the client connections open now, and peak the most
	// there ever were at once.
	clients map[net.Conn]struct{}
	peak    int
	// down counts the bytes handed to clients: what a client was sent,
	// read or left in its socket buffer.
	down atomic.Int64
}

type faultMode int

const (
	faultForward faultMode = iota
	faultDelay
	faultHang
	faultCut
)

// NewProxy starts a forwarding proxy on a loopback port in front of
// target. The test's cleanup closes it and waits for its goroutines.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: fault proxy listen: %v", err)
	}
	p := &Proxy{t: t, target: target, l: l, addr: l.Addr().String(), conns: map[net.Conn]struct{}{}, stale: map[net.Conn]bool{}, clients: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve(l)
	t.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
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

// Open returns how many client connections are open through the proxy
// now: a client's pool size, seen from outside. A connection the client
// closed counts until the proxy has read its end.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// Delay makes the proxy hold the server's answers for d, on connections
// already open too (pooled clients see the server turn slow mid-session).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.mode, p.delay = faultDelay, d
	p.mu.Unlock()
}

// PeakClients is the most client connections the proxy ever held open at
// once: a client's connections counted from its side (one is gone as soon
// as the client closes it), whatever the server does.
func (p *Proxy) PeakClients() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// Downstream is how many bytes of the servers' answers the proxy has
// passed on to its clients so far. A client that stops reading stops it,
// after the socket buffers between them have filled.
func (p *Proxy) Downstream() int64 { return p.down.Load() }

// currentDelay is how long the next chunk from the server is held.
func (p *Proxy) currentDelay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

// Stale makes every connection open now close, unforwarded, at the
// client's next request; new connections forward. It is a server gone
// since the client pooled the connection, whose close the client has not
// seen yet (no FIN arrived, so a liveness test before reuse passes): the
// client's write succeeds and its read finds the connection closed.
func (p *Proxy) Stale() {
	p.mu.Lock()
	for c := range p.conns {
		p.stale[c] = true
	}
	p.mu.Unlock()
}

func (p *Proxy) isStale(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stale[c]
}

// Hang closes every connection; new ones are accepted and never answered.
func (p *Proxy) Hang() { p.setMode(faultHang, 0) }

// Forward forwards without delay (the initial mode) and keeps open
// connections; it does not relisten after Cut (use Restore).
func (p *Proxy) Forward() {
	p.mu.Lock()
	p.mode, p.delay = faultForward, 0
	p.mu.Unlock()
}

func (p *Proxy) setMode(m faultMode, d time.Duration) {
	p.mu.Lock()
	p.mode, p.delay = m, d
	p.mu.Unlock()
	p.closeAll()
}

// Cut closes every connection through the proxy, including those with a
// request in flight, and stops listening, so new connections are refused
// until Restore: the server was killed.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.mode = faultCut
	l := p.l
	p.l = nil
	p.mu.Unlock()
	if l != nil {
		l.Close()
	}
	p.closeAll()
}

// Restore listens again on the same port and forwards: the server is back.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.mode, p.delay = faultForward, 0
	listening := p.l != nil
	p.mu.Unlock()
	if listening {
		return
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Errorf("testsvc: fault proxy relisten on %s: %v", p.addr, err)
		return
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	p.wg.Add(1)
	go p.serve(l)
}

// track registers c, a client's connection or the proxy's own to the
// target; it returns false (and closes c) when the proxy is cut.
func (p *Proxy) track(c net.Conn, client bool) (faultMode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == faultCut {
		c.Close()
		return p.mode, false
	}
	p.conns[c] = struct{}{}
	if client {
		p.clients[c] = struct{}{}
		p.peak = max(p.peak, len(p.clients))
	}
	return p.mode, true
}

func (p *Proxy) drop(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
		delete(p.stale, c)
		delete(p.clients, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.stale = map[net.Conn]bool{}
	p.clients = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

func (p *Proxy) serve(l net.Listener) {
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		mode, ok := p.track(c, true)
		if !ok {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if mode == faultHang {
				io.Copy(io.Discard, c) // until the client hangs up or Cut
				p.drop(c)
				return
			}
			p.forward(c)
		}()
	}
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	if _, ok := p.track(up, false); !ok {
		p.drop(c)
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.copyUp(up, c); done <- struct{}{} }()
	go func() { p.copyDelayed(c, up); done <- struct{}{} }()
	<-done
	p.drop(c, up) // unblocks the other copy
	<-done
}

// copyUp copies the client's bytes (src) to the server (dst) until src is
// marked stale.
func (p *Proxy) copyUp(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.isStale(src) {
				return
			}
			w, werr := dst.Write(buf[:n])
			p.down.Add(int64(w))
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// copyDelayed copies the server's bytes (src) to the client (dst), each
// chunk held for the delay in force when it arrived.
func (p *Proxy) copyDelayed(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := p.currentDelay(); d > 0 {
				time.Sleep(d)
			}
			w, werr := dst.Write(buf[:n])
			p.down.Add(int64(w))
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
