package testsvc

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Dnsmasq is a dnsmasq of the test's own on a loopback port (UDP and TCP),
// answering from its own records and nothing else: no /etc/hosts, no
// resolv.conf, no upstream but those the test names. The test may kill it
// (Stop), start it again on the same port (Start), and hang it (Hang,
// Resume); Cleanup kills it.
type Dnsmasq struct {
	Addr string
	proc *serverProc
}

// StartDnsmasq starts `dnsmasq --no-daemon` on a free port with hosts (the
// lines of an /etc/hosts file) and extra options (--txt-record=…,
// --mx-host=…, --srv-host=…, --cname=…, --server=/zone/addr…), and waits
// until it answers.
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
	d := &Dnsmasq{}
	d.proc = newServerProc(t, "dnsmasq", func() []string {
		return append([]string{bin, "--no-daemon", "--port=" + strconv.Itoa(d.proc.Port()), "--listen-address=127.0.0.1",
			"--bind-interfaces", "--no-resolv", "--no-hosts", "--addn-hosts=" + hostsFile, "--pid-file=",
			"--log-facility=-"}, options...)
	})
	d.Addr = d.proc.Addr()
	d.Start()
	return d
}

// Start starts dnsmasq (again, on the same port) and waits until it
// answers over UDP: its TCP port, which Start watches, opens first.
func (d *Dnsmasq) Start() {
	d.proc.t.Helper()
	d.proc.Start()
	// Ready when it answers anything (its own version, in class CHAOS).
	q := new(dns.Msg)
	q.SetQuestion("version.bind.", dns.TypeTXT)
	q.Question[0].Qclass = dns.ClassCHAOS
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err := c.Exchange(q, d.Addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			d.proc.t.Fatalf("testsvc: dnsmasq on %s not answering after 10s: %v\n%s", d.Addr, err, d.proc.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills dnsmasq (SIGKILL, like a crash) and waits until it is gone.
func (d *Dnsmasq) Stop() { d.proc.Stop() }

// Hang stops dnsmasq's process (SIGSTOP): queries queue in its socket and
// nothing answers, until Resume.
func (d *Dnsmasq) Hang() { d.proc.t.Helper(); d.proc.Hang() }

// Resume continues a hung dnsmasq (SIGCONT).
func (d *Dnsmasq) Resume() { d.proc.Resume() }

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
