package testsvc

import (
	_ "embed"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

//go:embed testdata/smtpserver.py
var smtpServerScript []byte

// SMTPOptions choose what an SMTP server of StartSMTP offers.
type SMTPOptions struct {
	Leaf        *Leaf  // offer STARTTLS with this certificate
	ImplicitTLS bool   // with Leaf: TLS from the first byte instead (port 465 style)
	User        string // offer AUTH (after TLS), accepting only User and Password
	Password    string
}

// SMTP is an aiosmtpd server of the test's own on a loopback port. It
// accepts no mail. Cleanup kills it.
type SMTP struct {
	Addr string
	hang string // while this file exists, EHLO is not answered
}

// HangAfterBanner makes the server greet each new session and then never
// answer its EHLO (an aiosmtpd handler that awaits), until Answer.
func (s *SMTP) HangAfterBanner(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(s.hang, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Answer ends HangAfterBanner: EHLO is answered again.
func (s *SMTP) Answer(t testing.TB) {
	t.Helper()
	if err := os.Remove(s.hang); err != nil {
		t.Fatal(err)
	}
}

// StartSMTP starts Debian's aiosmtpd (/usr/bin/python3; scripts/setup/
// aiosmtpd.sh) with o, and waits until it answers.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTP {
	NeedsServer(t)
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "smtpserver.py")
	if err := os.WriteFile(script, smtpServerScript, 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	hang := filepath.Join(dir, "hang-ehlo")
	args := []string{script, strconv.Itoa(port), "--hang-ehlo-while", hang}
	if o.Leaf != nil {
		args = append(args, "--cert", o.Leaf.CertFile, "--key", o.Leaf.KeyFile)
		if o.ImplicitTLS {
			args = append(args, "--implicit-tls")
		}
	}
	if o.User != "" {
		args = append(args, "--user", o.User, "--password", o.Password)
	}
	cmd := exec.Command("/usr/bin/python3", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testsvc: start aiosmtpd (run scripts/test-setup.sh): %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	s := &SMTP{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), hang: hang}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("testsvc: aiosmtpd exited at start: %s", out.String())
		default:
		}
		if strings.Contains(out.String(), "ready\n") {
			if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
				c.Close()
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testsvc: aiosmtpd on %s not ready after 15s: %s", s.Addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
