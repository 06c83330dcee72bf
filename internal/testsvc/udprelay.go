package testsvc

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// UDPRelay forwards each datagram a client sends to a UDP server (a real
// dnsmasq) from a socket of its own, and passes the server's answer back
// after the delay the test sets: a DNS server that answers, late. It carries
// no TCP. Each query's socket is closed once its answer is passed on, or
// after udpRelayWait without one, so the relay holds nothing for long
// (fault suites count goroutines and file descriptors).
type UDPRelay struct {
	pc     net.PacketConn
	target string
	ctx    context.Context
	wg     sync.WaitGroup

	mu    sync.Mutex
	delay time.Duration
}

// udpRelayWait bounds how long a query waits for the server's answer.
const udpRelayWait = 2 * time.Second

// NewUDPRelay starts a relay on a loopback port in front of target
// (host:port). Cleanup closes it and waits for its goroutines.
func NewUDPRelay(t testing.TB, target string) *UDPRelay {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: relay listen udp: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &UDPRelay{pc: pc, target: target, ctx: ctx}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(func() {
		cancel()
		pc.Close()
		r.wg.Wait()
	})
	return r
}

// Addr is the relay's address (host:port).
func (r *UDPRelay) Addr() string { return r.pc.LocalAddr().String() }

// Delay holds every answer from now on for d before passing it on.
func (r *UDPRelay) Delay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

func (r *UDPRelay) currentDelay() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delay
}

func (r *UDPRelay) serve() {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, client, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := append([]byte(nil), buf[:n]...)
		r.wg.Add(1)
		go r.relay(q, client)
	}
}

// relay sends one query to the target and its answer, delayed, back to the
// client.
func (r *UDPRelay) relay(q []byte, client net.Addr) {
	defer r.wg.Done()
	c, err := net.Dial("udp", r.target)
	if err != nil {
		return
	}
	defer c.Close()
	stop := context.AfterFunc(r.ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(udpRelayWait))
	if _, err := c.Write(q); err != nil {
		return
	}
	answer := make([]byte, 64<<10)
	n, err := c.Read(answer)
	if err != nil {
		return // no server, or it did not answer in time: neither does the relay
	}
	if d := r.currentDelay(); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.ctx.Done():
			return
		}
	}
	r.pc.WriteTo(answer[:n], client)
}
