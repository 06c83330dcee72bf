package main

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxy forwards TCP connections to target and counts them. Cut closes
// every connection and refuses (accepts and closes at once) new ones until
// Restore.
type proxy struct {
	ln     net.Listener
	target string
	opened atomic.Int64
	live   connGauge // connections forwarded and still open
	// limit, when above 0, caps live: a connection beyond it is handed to
	// refuse (or closed at once) and counted in refused, so a client that
	// opens too many cannot take every slot of a server the machine shares.
	limit   int64
	refuse  func(net.Conn)
	refused atomic.Int64
	cut     atomic.Bool
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
}

// connGauge counts open connections and remembers the most open at once.
type connGauge struct{ open, peak atomic.Int64 }

// add counts a connection opened, unless limit (when above 0) are open
// already.
func (g *connGauge) add(limit int64) bool {
	n := g.open.Add(1)
	if limit > 0 && n > limit {
		g.open.Add(-1)
		return false
	}
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return true
		}
	}
}

func (g *connGauge) done() { g.open.Add(-1) }

func newProxy(target string) (*proxy, error) { return newLimitedProxy(target, 0, nil) }

// newLimitedProxy is newProxy with at most limit connections forwarded at
// once (0: no limit); refuse, when set, answers one beyond the limit and
// closes it.
func newLimitedProxy(target string, limit int64, refuse func(net.Conn)) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, limit: limit, refuse: refuse, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.cut.Load() {
			c.Close()
			continue
		}
		p.opened.Add(1)
		if !p.live.add(p.limit) {
			p.refused.Add(1)
			if p.refuse != nil {
				go p.refuse(c)
			} else {
				c.Close()
			}
			continue
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	defer p.live.done()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(c, u, true)
	defer p.track(c, u, false)
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
}

func (p *proxy) track(c, u net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	} else {
		delete(p.conns, c)
		delete(p.conns, u)
	}
}

// Cut drops every connection and refuses new ones.
func (p *proxy) Cut() {
	p.cut.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *proxy) Restore() { p.cut.Store(false) }

func (p *proxy) Close() { p.ln.Close(); p.Cut() }

// hangListener accepts connections and never answers: a hung dependency.
func hangListener() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return ln, nil
}

// pgTooManyClients answers a PostgreSQL client as a server at its
// max_connections does: it reads the startup message and sends FATAL 53300
// "sorry, too many clients already". (A client that asks for TLS first is
// told no, then answered the same.)
func pgTooManyClients(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		if n < 8 || n > 10000 {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(n-8)); err != nil {
			return
		}
		// SSLRequest and GSSENCRequest: refuse, and read the startup
		// message that follows.
		if code := binary.BigEndian.Uint32(hdr[4:]); n == 8 && (code == 80877103 || code == 80877104) {
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		break
	}
	var body []byte
	for _, f := range []struct {
		code byte
		v    string
	}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', "53300"}, {'M', "sorry, too many clients already"}} {
		body = append(append(append(body, f.code), f.v...), 0)
	}
	body = append(body, 0)
	msg := binary.BigEndian.AppendUint32([]byte{'E'}, uint32(4+len(body)))
	c.Write(append(msg, body...))
}
