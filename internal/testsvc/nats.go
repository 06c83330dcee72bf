package testsvc

import (
	"bufio"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MachineNATSAddr is the machine's nats-server (JetStream on). Tests may
// use it but must never stop it.
const MachineNATSAddr = "127.0.0.1:4222"

// MachineNATS returns MachineNATSAddr after checking that it greets with
// INFO.
func MachineNATS(t testing.TB) string {
	NeedsServer(t)
	t.Helper()
	c, err := net.DialTimeout("tcp", MachineNATSAddr, 2*time.Second)
	if err != nil {
		t.Fatalf("testsvc: the machine's nats-server at %s does not answer (run scripts/test-setup.sh): %v", MachineNATSAddr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("testsvc: the machine's nats-server at %s does not greet with INFO: %q %v", MachineNATSAddr, line, err)
	}
	return MachineNATSAddr
}

// NATS is a nats-server of the test's own (JetStream on, its own store
// under t.TempDir()) on a free loopback port.
type NATS struct {
	*serverProc
	User, Password string
}

// StartNATS starts `nats-server -a 127.0.0.1 -p PORT -js -sd DIR`, with
// --user and --pass when user is not empty, and extra arguments (--auth
// TOKEN, -c CONF), and waits until it accepts.
func StartNATS(t testing.TB, user, password string, extra ...string) *NATS {
	NeedsServer(t)
	t.Helper()
	bin := "/usr/sbin/nats-server"
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("testsvc: nats-server not found (run scripts/test-setup.sh): %v", err)
	}
	dir := t.TempDir()
	n := &NATS{User: user, Password: password}
	n.serverProc = newServerProc(t, "nats-server", func() []string {
		args := []string{bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", dir}
		if user != "" {
			args = append(args, "--user", user, "--pass", password)
		}
		return append(args, extra...)
	})
	n.Start()
	return n
}
