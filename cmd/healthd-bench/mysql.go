package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// mysqlTarget is the machine's MariaDB (root without a password over TCP,
// database test), which the bench's mysql check reaches through a
// mysqlCounter.
const mysqlTarget = "127.0.0.1:3306"

// mysqlCounter forwards TCP connections to a MySQL server and counts the
// statements its clients send: COM_QUERY and COM_STMT_EXECUTE packets. The
// server is shared with other clients, so its own counters (Com_select,
// Questions) would count theirs too; this counts only healthd's. Each
// statement healthd sends outside a transaction is one (autocommit)
// transaction.
type mysqlCounter struct {
	ln         net.Listener
	statements atomic.Int64
	mu         sync.Mutex
	conns      map[net.Conn]struct{}
}

func newMySQLCounter() (*mysqlCounter, error) {
	if c, err := net.Dial("tcp", mysqlTarget); err != nil {
		return nil, fmt.Errorf("the machine's MariaDB at %s (run scripts/test-setup.sh): %w", mysqlTarget, err)
	} else {
		c.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mysqlCounter{ln: ln, conns: map[net.Conn]struct{}{}}
	go m.serve()
	return m, nil
}

func (m *mysqlCounter) Addr() string { return m.ln.Addr().String() }

// checkLine is the bench config's mysql check.
func (m *mysqlCounter) checkLine() checkLine {
	return checkLine{"mysql", fmt.Sprintf(`{name: mysql, type: mysql, dsn: "root@tcp(%s)/test"}`, m.Addr())}
}

func (m *mysqlCounter) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		go m.pipe(c)
	}
}

func (m *mysqlCounter) pipe(c net.Conn) {
	u, err := net.Dial("tcp", mysqlTarget)
	if err != nil {
		c.Close()
		return
	}
	m.mu.Lock()
	m.conns[c], m.conns[u] = struct{}{}, struct{}{}
	m.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { m.countCopy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
	m.mu.Lock()
	delete(m.conns, c)
	delete(m.conns, u)
	m.mu.Unlock()
}

// countCopy copies the client's packets to the server, counting the
// commands that run a statement. A command starts a new exchange, so its
// packet has sequence number 0 (the login's packets do not).
func (m *mysqlCounter) countCopy(dst io.Writer, src io.Reader) {
	hdr := make([]byte, 4)
	for {
		if _, err := io.ReadFull(src, hdr); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(append(hdr[:3:3], 0)))
		body := make([]byte, n)
		if _, err := io.ReadFull(src, body); err != nil {
			return
		}
		if hdr[3] == 0 && n > 0 && (body[0] == 0x03 || body[0] == 0x17) { // COM_QUERY, COM_STMT_EXECUTE
			m.statements.Add(1)
		}
		if _, err := dst.Write(append(hdr, body...)); err != nil {
			return
		}
	}
}

func (m *mysqlCounter) Close() {
	m.ln.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.conns {
		c.Close()
	}
}

// mysqlReport is the report's line and target row for statements sent
// during probes.
func mysqlReport(statements, probes int64) (line, row string) {
	per := float64(statements) / float64(probes)
	line = fmt.Sprintf("- MySQL (MariaDB): %d statements, each its own transaction (COM_QUERY packets counted by a proxy in front of 3306, healthd's whole life) for %d probes: %.5f per probe, %.2f per 1,000\n",
		statements, probes, per, per*1000)
	row = fmt.Sprintf("| <= 0.01 MySQL transactions per probe (over >= 10,000 probes) | %.5f over %d | %s |\n", per, probes, passFail(per <= 0.01 && probes >= 10000))
	return line, row
}
