package testsvc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Memcached is a memcached process of the test's own on a free loopback
// port (UDP off). The test may stop and start it; Cleanup kills it.
type Memcached struct {
	t       testing.TB
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	Startup time.Duration
}

// StartMemcached starts `memcached -l 127.0.0.1 -p PORT -U 0` (with -u nobody
// when run as root) and waits until it answers.
func StartMemcached(t testing.TB) *Memcached {
	NeedsServer(t)
	t.Helper()
	began := time.Now()
	if _, err := exec.LookPath("memcached"); err != nil {
		t.Fatalf("testsvc: memcached not found (run scripts/test-setup.sh): %v", err)
	}
	m := &Memcached{t: t, port: FreePort(t)}
	t.Cleanup(m.Stop)
	m.Start()
	m.Startup = time.Since(began)
	return m
}

// Addr is the server's host:port.
func (m *Memcached) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// Start starts the server (again, on the same port) and waits for it.
func (m *Memcached) Start() {
	m.t.Helper()
	if m.cmd != nil {
		m.t.Fatalf("testsvc: memcached already running")
	}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(m.port), "-U", "0", "-m", "16", "-c", "128"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	cmd := exec.Command("memcached", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("testsvc: start memcached: %v", err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() { cmd.Wait(); close(m.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := m.stats()
		if err == nil && st["curr_connections"] != "1" {
			err = fmt.Errorf("curr_connections %s, want 1", st["curr_connections"])
		}
		if err == nil {
			// Ready, and the readiness probes' own connections are gone
			// (1 is the connection asking): memcached counts a closed
			// connection out only when a worker thread has seen it
			// close, and a count taken before that made a test's
			// baseline one too high.
			return
		} else if time.Now().After(deadline) {
			m.t.Fatalf("testsvc: memcached on %s not ready after 10s: %v", m.Addr(), err)
		}
		select {
		case <-m.exited:
			m.cmd = nil
			m.t.Fatalf("testsvc: memcached exited at start: %s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop kills the server (SIGKILL, like a crash) and waits until it is gone.
func (m *Memcached) Stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// CurrConnections is the server's curr_connections minus the connection
// used to ask. A connection closed just before still counts until one of
// memcached's worker threads has seen it close.
func (m *Memcached) CurrConnections() int {
	m.t.Helper()
	st, err := m.stats()
	if err != nil {
		m.t.Fatalf("testsvc: memcached stats: %v", err)
	}
	n, err := strconv.Atoi(st["curr_connections"])
	if err != nil {
		m.t.Fatalf("testsvc: memcached stats: curr_connections %q", st["curr_connections"])
	}
	return n - 1
}

func (m *Memcached) stats() (map[string]string, error) {
	c, err := net.DialTimeout("tcp", m.Addr(), time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprint(c, "stats\r\n"); err != nil {
		return nil, err
	}
	st := map[string]string{}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "END" {
			return st, nil
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "STAT" {
			st[f[1]] = f[2]
		}
	}
	return nil, fmt.Errorf("stats: no END: %v", sc.Err())
}
