package testsvc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// MachineMosquittoAddr is the machine's Mosquitto (anonymous access). Tests
// may use it but must never stop it.
const MachineMosquittoAddr = "127.0.0.1:1883"

// MachineMosquitto returns MachineMosquittoAddr after checking that it
// accepts connections.
func MachineMosquitto(t testing.TB) string {
	NeedsServer(t)
	t.Helper()
	c, err := net.DialTimeout("tcp", MachineMosquittoAddr, 2*time.Second)
	if err != nil {
		t.Fatalf("testsvc: the machine's Mosquitto at %s does not answer (run scripts/test-setup.sh): %v", MachineMosquittoAddr, err)
	}
	c.Close()
	return MachineMosquittoAddr
}

// Mosquitto is a mosquitto broker of the test's own on a free loopback port,
// configured in t.TempDir(), without persistence.
type Mosquitto struct {
	*serverProc
	User, Password string
}

// StartMosquitto starts `mosquitto -c CONF`; with a user, anonymous access
// is off and a password_file made by mosquitto_passwd holds the user. Extra
// lines go to the listener's part of the config (certfile, keyfile…).
func StartMosquitto(t testing.TB, user, password string, extra ...string) *Mosquitto {
	NeedsServer(t)
	t.Helper()
	bin := "/usr/sbin/mosquitto"
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("testsvc: mosquitto not found (run scripts/test-setup.sh): %v", err)
	}
	dir := t.TempDir()
	m := &Mosquitto{User: user, Password: password}
	conf := filepath.Join(dir, "mosquitto.conf")
	m.serverProc = newServerProc(t, "mosquitto", func() []string { return []string{bin, "-c", conf} })
	body := fmt.Sprintf("listener %d 127.0.0.1\n", m.port)
	for _, l := range extra {
		body += l + "\n"
	}
	body += "persistence false\nlog_dest stderr\nuser root\n"
	if user == "" {
		body += "allow_anonymous true\n"
	} else {
		pwfile := filepath.Join(dir, "passwd")
		out, err := exec.Command("mosquitto_passwd", "-b", "-c", pwfile, user, password).CombinedOutput()
		if err != nil {
			t.Fatalf("testsvc: mosquitto_passwd: %v: %s", err, out)
		}
		body += "allow_anonymous false\npassword_file " + pwfile + "\n"
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Start()
	return m
}
