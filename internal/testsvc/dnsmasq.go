package testsvc

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Dnsmasq is a dnsmasq of the test's own on a loopback port (UDP and TCP),
// answering from its own records and nothing else: no /etc/hosts, no
// resolv.conf, no upstream but those the test names.
type Dnsmasq struct {
	Addr string
	cmd  *exec.Cmd
}

// StartDnsmasq starts `dnsmasq --no-daemon` on a free port with hosts (the
// lines of an /etc/hosts file) and extra options (--txt-record=…,
// --mx-host=…, --srv-host=…, --cname=…, --server=/zone/addr…), and waits
// until it answers. Cleanup kills it.
func StartDnsmasq(t testing.TB, hosts []string, options ...string) *Dnsmasq {
	NeedsServer(t)
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dnsmasq"); serr != nil {
			t.Fatalf("testsvc: dnsmasq not found (run scripts/test-setup.sh): %v", err)
		}
		bin = "/usr/sbin/dnsmasq"
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // dnsmasq reads it after dropping to nobody
	hostsFile := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsFile, []byte(strings.Join(hosts, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	args := append([]string{"--no-daemon", "--port=" + strconv.Itoa(port), "--listen-address=127.0.0.1",
		"--bind-interfaces", "--no-resolv", "--no-hosts", "--addn-hosts=" + hostsFile, "--pid-file=",
		"--log-facility=-"}, options...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testsvc: start dnsmasq: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	d := &Dnsmasq{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd}
	// Ready when it answers anything (its own version, in class CHAOS).
	q := new(dns.Msg)
	q.SetQuestion("version.bind.", dns.TypeTXT)
	q.Question[0].Qclass = dns.ClassCHAOS
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := c.Exchange(q, d.Addr); err == nil {
			return d
		}
		select {
		case <-exited:
			t.Fatalf("testsvc: dnsmasq exited at start: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testsvc: dnsmasq on %s not answering after 10s: %s", d.Addr, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SilentUDPAddr returns the address of a UDP socket that reads every
// datagram and never answers: a DNS server that is up but hung.
func SilentUDPAddr(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: listen udp: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

// RefusedUDPAddr returns a loopback UDP port that nothing listens on (the
// kernel answers ICMP port unreachable), held by no socket: a short race
// with another test binding it is possible but harmless for a DNS query.
func RefusedUDPAddr(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: listen udp: %v", err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}
