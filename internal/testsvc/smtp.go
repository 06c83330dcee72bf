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
}

// StartSMTP starts Debian's aiosmtpd (/usr/bin/python3; scripts/setup/
// aiosmtpd.sh) with o, and waits until it answers.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTP {
	NeedsServer(t)
	t.Helper()
	script := filepath.Join(t.TempDir(), "smtpserver.py")
	if err := os.WriteFile(script, smtpServerScript, 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	args := []string{script, strconv.Itoa(port)}
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
	s := &SMTP{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
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

// BannerThenSilenceAddr returns the address of a listener that greets each
// connection with "220 hi" and then never writes again: an SMTP server
// hung after its banner.
func BannerThenSilenceAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: listen: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); close(done) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("220 hi\r\n"))
				buf := make([]byte, 512)
				go func() { <-done; c.Close() }()
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}
