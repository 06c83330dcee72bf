package checks

// The sql check's MySQL connections, as dialled: what the server sends for
// one request is bounded, and a probe can stop reading an answer without
// the driver draining it.

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// errSQLMyCut is what the driver reads from a connection the check has
// stopped reading (an answer over the cap, or a row too many). The driver
// closes the connection on it and database/sql drops it from the pool.
var errSQLMyCut = errors.New("sql: the check stopped reading this answer")

// The capability flags of the client's first packet (the handshake
// response, or the request for TLS) that change what goes over the wire
// afterwards: TLS records, or compressed packets, instead of plain MySQL
// packets.
const (
	sqlMyClientCompress = 1 << 5
	sqlMyClientSSL      = 1 << 11
)

// sqlMyWire is one connection of the sql check's MySQL pool. It passes the
// driver at most sqlMaxAnswer bytes of what the server sends after each of
// the client's writes (a request and its answer). On a plain connection it
// reads the packet headers as they go by, and stops at the header of a
// packet that would go over the cap: the driver allocates room for a whole
// packet (up to 16 MiB) from its header, before reading its body. Over TLS
// the headers are encrypted, and the cap counts the bytes as they come: the
// driver may then allocate for one packet before the cap stops it.
//
// Read and Write are the driver's, one at a time; cut may come from the
// probe's goroutine between two of the driver's calls.
type sqlMyWire struct {
	net.Conn
	pool *sqlMyConnector

	wrote   bool // the client's first packet has been seen
	plain   bool // plain MySQL packets: neither TLS nor compression
	read    int  // bytes read since the client's last write
	hdr     [4]byte
	nhdr    int  // bytes of hdr read so far
	body    int  // bytes left of the current packet's body
	stopped bool // the answer went over the cap

	tooLarge atomic.Bool // the cap stopped an answer
	cutOff   atomic.Bool // the probe stopped reading
}

func (w *sqlMyWire) Write(p []byte) (int, error) {
	if !w.wrote && len(p) >= 8 {
		flags := uint32(p[4]) | uint32(p[5])<<8 | uint32(p[6])<<16 | uint32(p[7])<<24
		w.plain = flags&(sqlMyClientSSL|sqlMyClientCompress) == 0
	}
	w.wrote = true
	// A new request: its answer starts at a packet boundary.
	w.read, w.nhdr, w.body, w.stopped = 0, 0, 0, false
	return w.Conn.Write(p)
}

func (w *sqlMyWire) Read(p []byte) (int, error) {
	if w.cutOff.Load() || w.stopped {
		return 0, errSQLMyCut
	}
	n, err := w.Conn.Read(p)
	if ok := w.admit(p[:n]); ok < n {
		w.stopped = true
		w.tooLarge.Store(true)
		if ok == 0 {
			return 0, errSQLMyCut
		}
		return ok, nil // the next Read fails
	}
	return n, err
}

// admit counts b, just read, and returns how many of its bytes may go to
// the driver: all of them, or those before the header (or the byte) that
// takes the answer over the cap.
func (w *sqlMyWire) admit(b []byte) int {
	if !w.plain || !w.wrote { // the server's greeting comes before any write; it is small
		if w.read+len(b) > sqlMaxAnswer && w.wrote {
			ok := max(sqlMaxAnswer-w.read, 0)
			w.read += ok
			return ok
		}
		w.read += len(b)
		return len(b)
	}
	start := 0 // where in b the header being read began
	for i := 0; i < len(b); {
		if w.body > 0 {
			k := min(w.body, len(b)-i)
			w.body -= k
			i += k
			continue
		}
		if w.nhdr == 0 {
			start = i
		}
		w.hdr[w.nhdr] = b[i]
		w.nhdr++
		i++
		if w.nhdr < len(w.hdr) {
			continue
		}
		w.nhdr = 0
		w.body = int(w.hdr[0]) | int(w.hdr[1])<<8 | int(w.hdr[2])<<16
		// The header began at read+start (or in an earlier read, when
		// start is 0 and the header straddles two).
		if w.read+i+w.body > sqlMaxAnswer {
			w.read += start
			return start
		}
	}
	w.read += len(b)
	return len(b)
}

// SyscallConn is the socket's, for the driver's liveness check of an idle
// connection (a peek that bypasses Read).
func (w *sqlMyWire) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := w.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// cut makes every further read fail: the driver, which would read the rest
// of the answer to its end before reusing the connection, closes it
// instead, unread.
func (w *sqlMyWire) cut() { w.cutOff.Store(true) }

func (w *sqlMyWire) Close() error {
	w.pool.forget(w)
	return w.Conn.Close()
}

// sqlMyConnector makes the pool's connections through sqlMyWire and knows
// the wire under each, so that a probe can find the one under the
// connection database/sql lends it.
type sqlMyConnector struct {
	driver.Connector

	mu    sync.Mutex
	wires map[driver.Conn]*sqlMyWire
}

// sqlMyDialed carries, through the driver's Connect, the wire it dials.
type sqlMyDialed struct{ wire *sqlMyWire }

type sqlMyDialedKey struct{}

func (c *sqlMyConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dialed := &sqlMyDialed{}
	dc, err := c.Connector.Connect(context.WithValue(ctx, sqlMyDialedKey{}, dialed))
	if err != nil || dialed.wire == nil {
		return dc, err
	}
	c.mu.Lock()
	c.wires[dc] = dialed.wire
	c.mu.Unlock()
	return dc, nil
}

// dial is the driver's DialFunc.
func (c *sqlMyConnector) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer // keep-alive on, as the driver's own dial
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	w := &sqlMyWire{Conn: conn, pool: c}
	if dialed, ok := ctx.Value(sqlMyDialedKey{}).(*sqlMyDialed); ok {
		dialed.wire = w
	}
	return w, nil
}

// wire returns the wire under dc, the driver connection of a database/sql
// connection (sql.Conn.Raw); nil if there is none.
func (c *sqlMyConnector) wire(dc any) *sqlMyWire {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := dc.(driver.Conn); ok {
		return c.wires[k]
	}
	return nil
}

func (c *sqlMyConnector) forget(w *sqlMyWire) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.wires {
		if v == w {
			delete(c.wires, k)
		}
	}
}
