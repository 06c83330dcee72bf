package checks

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// TestNetFailure_WordsRealSocketErrors feeds the classifier the errors real
// sockets give (no hand-made error values) and asserts the shared words. All
// traffic stays on loopback: names are resolved by a resolver whose only
// server is a UDP socket the test runs.
func TestNetFailure_WordsRealSocketErrors(t *testing.T) {
	const timeout = 250 * time.Millisecond
	for _, tc := range []struct {
		name     string
		err      func(t *testing.T, ctx context.Context) (err error, where string)
		want     string        // %s is where
		deadline time.Duration // the probe's ctx; 10s when 0
	}{
		{"refused", func(t *testing.T, ctx context.Context) (error, string) {
			addr := closedPort(t)
			_, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			return err, addr
		}, "connection refused (%s)", 0},
		{"reset by a server closing with SO_LINGER 0", func(t *testing.T, ctx context.Context) (error, string) {
			addr := serve(t, resetAfterHello)
			return readOnce(t, ctx, addr), addr
		}, "connection reset by server (%s)", 0},
		{"closed by server (EOF)", func(t *testing.T, ctx context.Context) (error, string) {
			addr := serve(t, closeAfterHello)
			return readOnce(t, ctx, addr), addr
		}, "connection closed by server (%s)", 0},
		{"silent server: socket deadline", func(t *testing.T, ctx context.Context) (error, string) {
			addr := serve(t, func(c *net.TCPConn) { t.Cleanup(func() { c.Close() }) })
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, err = c.Read(make([]byte, 1))
			return err, addr
		}, "timed out after 250ms (%s)", 0},
		{"no such socket", func(t *testing.T, ctx context.Context) (error, string) {
			path := filepath.Join(t.TempDir(), "none.sock")
			_, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
			return err, path
		}, "no such socket (%s)", 0},
		{"host not found (NXDOMAIN)", func(t *testing.T, ctx context.Context) (error, string) {
			_, err := fakeDNS(t, 3).LookupHost(ctx, "db.invalid")
			return err, "db.invalid:5432"
		}, "host db.invalid not found (%s)", 0},
		{"cannot resolve (SERVFAIL)", func(t *testing.T, ctx context.Context) (error, string) {
			_, err := fakeDNS(t, 2).LookupHost(ctx, "db.invalid")
			return err, "db.invalid:5432"
		}, "cannot resolve host db.invalid (%s)", 0},
		{"resolver never answers: the probe's deadline", func(t *testing.T, ctx context.Context) (error, string) {
			_, err := fakeDNS(t, -1).LookupHost(ctx, "db.invalid")
			return err, "db.invalid:5432"
		}, "timed out after 250ms (%s)", 50 * time.Millisecond},
		{"certificate not trusted", func(t *testing.T, ctx context.Context) (error, string) {
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake error the client causes
			srv.StartTLS()
			t.Cleanup(srv.Close)
			addr := srv.Listener.Addr().String()
			_, err := (&tls.Dialer{Config: &tls.Config{ServerName: "127.0.0.1"}}).DialContext(ctx, "tcp", addr)
			return err, addr
		}, "TLS certificate not accepted: x509: certificate signed by unknown authority (%s)", 0},
		{"server not speaking TLS", func(t *testing.T, ctx context.Context) (error, string) {
			addr := serve(t, func(c *net.TCPConn) {
				c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
				t.Cleanup(func() { c.Close() })
			})
			_, err := (&tls.Dialer{Config: &tls.Config{ServerName: "127.0.0.1"}}).DialContext(ctx, "tcp", addr)
			return err, addr
		}, "TLS handshake failed: server does not speak TLS (%s)", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.deadline
			if d == 0 {
				d = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			err, where := tc.err(t, ctx)
			if err == nil {
				t.Fatal("no error")
			}
			got := netFailure(ctx, err, timeout, where)
			if got == nil {
				t.Fatalf("netFailure(%v) = nil, want a network failure", err)
			}
			if want := fmt.Sprintf(tc.want, where); Message(got) != "unavailable: "+want {
				t.Errorf("netFailure(%q) = %q, want %q", err, Message(got), "unavailable: "+want)
			}
		})
	}
}

// TestNetFailure_DoneContextIsATimeout: once the probe's ctx has ended,
// whatever the client returned is worded as the deadline.
func TestNetFailure_DoneContextIsATimeout(t *testing.T) {
	addr := closedPort(t)
	_, err := net.Dial("tcp", addr)
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if got, want := Message(netFailure(expired, err, time.Second, addr)), "unavailable: timed out after 1s ("+addr+")"; got != want {
		t.Errorf("expired ctx: %q, want %q", got, want)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if got, want := Message(netFailure(canceled, err, time.Second, addr)), "unavailable: canceled ("+addr+")"; got != want {
		t.Errorf("canceled ctx: %q, want %q", got, want)
	}
}

// TestNetFailure_ProtocolErrorsAreLeftToTheCheck: an error that is not about
// the network gets no words, so the check words it.
func TestNetFailure_ProtocolErrorsAreLeftToTheCheck(t *testing.T) {
	if got := netFailure(context.Background(), errors.New("WRONGPASS invalid username-password pair"), time.Second, "x:1"); got != nil {
		t.Errorf("netFailure = %q, want nil", Message(got))
	}
}

// TestFrameErrorReason_SharesTheWords: amqp091 passes a socket error on as
// text only; the text of a real reset and a real EOF map to the same words
// as the errors themselves.
func TestFrameErrorReason_SharesTheWords(t *testing.T) {
	ctx := context.Background()
	reset := readOnce(t, ctx, serve(t, resetAfterHello))
	eof := readOnce(t, ctx, serve(t, closeAfterHello))
	for _, err := range []error{reset, eof} {
		want, _ := netFaultReason(err)
		if got, ok := frameErrorReason(err.Error()); !ok || got != want {
			t.Errorf("frameErrorReason(%q) = %q, %v; want %q", err, got, ok, want)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serve accepts connections on loopback and hands each to fn.
func serve(t *testing.T, fn func(c *net.TCPConn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fn(c.(*net.TCPConn))
		}
	}()
	return l.Addr().String()
}

// resetAfterHello reads the client's first byte, then resets the
// connection: SO_LINGER 0 makes Close send an RST.
func resetAfterHello(c *net.TCPConn) {
	c.Read(make([]byte, 1))
	c.SetLinger(0)
	c.Close()
}

// closeAfterHello reads the client's first byte, then closes cleanly.
func closeAfterHello(c *net.TCPConn) {
	c.Read(make([]byte, 1))
	c.Close()
}

// readOnce connects to addr, says hello (one byte, so the server's close
// comes after the connection is set up) and returns the error of its first
// read.
func readOnce(t *testing.T, ctx context.Context, addr string) error {
	t.Helper()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read succeeded")
	}
	return err
}

// fakeDNS returns a resolver whose every query goes to a loopback UDP
// socket answering with rcode (3 NXDOMAIN, 2 SERVFAIL), or never (-1).
func fakeDNS(t *testing.T, rcode int) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if rcode < 0 || n < 12 {
				continue
			}
			if resp := dnsAnswer(buf[:n], rcode); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer turns a query into an answer with no records and rcode: the
// header with QR, RD and RA set, and the question alone.
func dnsAnswer(q []byte, rcode int) []byte {
	end := 12
	for end < len(q) && q[end] != 0 { // the question's name, label by label
		end += int(q[end]) + 1
	}
	end += 1 + 4 // the root label, QTYPE and QCLASS
	if end > len(q) {
		return nil
	}
	resp := append([]byte(nil), q[:end]...)
	flags := binary.BigEndian.Uint16(q[2:4])
	flags = 0x8000 | flags&0x0100 | 0x0080 | uint16(rcode)
	binary.BigEndian.PutUint16(resp[2:4], flags)
	binary.BigEndian.PutUint16(resp[4:6], 1)  // QDCOUNT
	binary.BigEndian.PutUint16(resp[6:8], 0)  // ANCOUNT
	binary.BigEndian.PutUint16(resp[8:10], 0) // NSCOUNT
	binary.BigEndian.PutUint16(resp[10:12], 0)
	return resp
}
