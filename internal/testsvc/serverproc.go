package testsvc

import (
	"bytes"
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

// serverProc is a server process of the test's own on a fixed loopback
// port, started by a command line, ready once its port accepts. The test may
// stop (SIGKILL, like a crash), hang (SIGSTOP) and start it again on the same
// port; Cleanup kills it.
type serverProc struct {
	t      testing.TB
	name   string
	port   int
	args   func() []string // the command line, built at each start
	cmd    *exec.Cmd
	exited chan struct{}
	out    *strings.Builder
}

func newServerProc(t testing.TB, name string, args func() []string) *serverProc {
	p := &serverProc{t: t, name: name, port: FreePort(t), args: args}
	t.Cleanup(p.Stop)
	return p
}

// Addr is the server's host:port.
func (p *serverProc) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// Port is the server's port.
func (p *serverProc) Port() int { return p.port }

// Start starts the server (again, on the same port) and waits until its
// port accepts connections.
func (p *serverProc) Start() {
	p.t.Helper()
	if p.cmd != nil {
		p.t.Fatalf("testsvc: %s already running", p.name)
	}
	argv := p.args()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.out = &strings.Builder{}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("testsvc: start %s: %v", p.name, err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() { cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("testsvc: %s on %s not ready after 10s: %v\n%s", p.name, p.Addr(), err, p.out)
		}
		select {
		case <-p.exited:
			p.cmd = nil
			p.t.Fatalf("testsvc: %s exited at start: %s", p.name, p.out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop kills the server (SIGKILL, like a crash) and waits until it is gone.
func (p *serverProc) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGCONT) // a hung one too
	p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// Hang stops the server's process (SIGSTOP): connections are accepted by
// the kernel, and nothing answers. Resume ends it; Cleanup kills it anyway.
func (p *serverProc) Hang() {
	p.t.Helper()
	if p.cmd == nil {
		p.t.Fatalf("testsvc: %s is not running", p.name)
	}
	p.cmd.Process.Signal(syscall.SIGSTOP)
	// The signal is delivered asynchronously: wait until the kernel shows
	// the process stopped, or a probe right after could still be answered.
	stat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(stat)
		if err != nil {
			p.t.Fatalf("testsvc: %s: %v", p.name, err)
		}
		// pid (comm) STATE …: comm may hold spaces, so read after the last ')'.
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && (f[0] == "T" || f[0] == "t") {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("testsvc: %s not stopped 5s after SIGSTOP", p.name)
		}
		time.Sleep(time.Millisecond)
	}
}

// Resume continues a hung server (SIGCONT).
func (p *serverProc) Resume() {
	if p.cmd != nil {
		p.cmd.Process.Signal(syscall.SIGCONT)
	}
}
