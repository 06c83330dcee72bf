package checks_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// startDNS starts a dnsmasq with a record of each type under .test, and a
// zone (slow.test) forwarded to a server that never answers.
func startDNS(t *testing.T) string {
	silent := strings.Replace(testsvc.SilentUDPAddr(t), ":", "#", 1)
	d := testsvc.StartDnsmasq(t, []string{"10.1.2.3 web.test", "10.1.2.4 web.test", "fd00::5 v6.test"},
		"--txt-record=txt.test,v=spf1 -all",
		"--mx-host=mail.test,mx1.test,10",
		"--srv-host=_api._tcp.svc.test,web.test,8080,1,5",
		"--cname=alias.test,web.test",
		"--server=/slow.test/"+silent,
		"--local=/test/", // every other name under .test is NXDOMAIN, answered by dnsmasq itself
	)
	return d.Addr
}

func dnsCheck(t *testing.T, keys map[string]any) *checkstest.Check {
	return checkstest.New(t, "dns", keys, checkstest.Options{})
}

func TestDNS_Answers(t *testing.T) {
	t.Parallel()
	srv := startDNS(t)
	for _, tc := range []struct {
		name string
		keys map[string]any
		want string // "" passes; else the message, with ADDR for the server
		note string // a regexp of the note, when it passes
	}{
		{name: "A, any answer", keys: map[string]any{"domain": "web.test"}, note: `^web\.test A 10\.1\.2\.[34] and 1 more in \d+\.\d ms \(ADDR\)$`},
		{name: "A expected", keys: map[string]any{"domain": "web.test", "expect": []any{"10.1.2.3", "10.1.2.4"}}},
		{name: "A missing one", keys: map[string]any{"domain": "web.test", "expect": []any{"10.1.2.3", "10.1.2.9"}},
			want: `unexpected result: web.test A: expected 10.1.2.9, got 10.1.2.[34], 10.1.2.[34] \(ADDR\)`},
		{name: "AAAA", keys: map[string]any{"domain": "v6.test", "record": "AAAA", "expect": []any{"fd00::5"}}},
		{name: "TXT", keys: map[string]any{"domain": "txt.test", "record": "TXT", "expect": "v=spf1 -all"}},
		{name: "MX by host", keys: map[string]any{"domain": "mail.test", "record": "MX", "expect": "MX1.test."}},
		{name: "MX with preference", keys: map[string]any{"domain": "mail.test", "record": "MX", "expect": "10 mx1.test"}},
		{name: "SRV", keys: map[string]any{"domain": "_api._tcp.svc.test", "record": "SRV", "expect": []any{"web.test:8080"}}, note: `^_api\._tcp\.svc\.test SRV web\.test:8080 in`},
		{name: "CNAME", keys: map[string]any{"domain": "alias.test", "record": "CNAME", "expect": "web.test"}},
		{name: "no answer of that type", keys: map[string]any{"domain": "web.test", "record": "MX"},
			want: `unexpected result: no MX record for web\.test \(ADDR\)`},
		{name: "NXDOMAIN", keys: map[string]any{"domain": "nope.test"},
			want: `unexpected result: no such name nope\.test \(NXDOMAIN\) \(ADDR\)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := map[string]any{"server": srv}
			for k, v := range tc.keys {
				keys[k] = v
			}
			c := dnsCheck(t, keys)
			addr := regexp.QuoteMeta(srv)
			if tc.want == "" {
				r := c.Passes(t)
				r.Observation(t, "resolutionTime", "ms")
				if tc.note != "" && !regexp.MustCompile(strings.ReplaceAll(tc.note, "ADDR", addr)).MatchString(r.Note) {
					t.Errorf("note = %q, want %s", r.Note, tc.note)
				}
				return
			}
			r := c.Fails(t, "")
			if re := regexp.MustCompile("^" + strings.ReplaceAll(tc.want, "ADDR", addr) + "$"); !re.MatchString(r.Message) {
				t.Errorf("message = %q, want %s", r.Message, re)
			}
		})
	}
}

// Sixty addresses do not fit in a 512-byte UDP answer: the server sets TC
// and the check asks again over TCP, and sees them all.
func TestDNS_TruncatedAnswerIsAskedAgainOverTCP(t *testing.T) {
	t.Parallel()
	var hosts []string
	for i := 1; i <= 60; i++ {
		hosts = append(hosts, fmt.Sprintf("10.2.0.%d big.test", i))
	}
	d := testsvc.StartDnsmasq(t, hosts, "--local=/test/")
	r := dnsCheck(t, map[string]any{"domain": "big.test", "server": d.Addr, "expect": []any{"10.2.0.1", "10.2.0.60"}}).Passes(t)
	if !strings.Contains(r.Note, " and 59 more ") {
		t.Errorf("note = %q, want all 60 answers", r.Note)
	}
}

// A validating resolver whose upstream (the dnsmasq above) signs nothing,
// while its trust anchor says the root is signed, cannot validate any
// answer: it says SERVFAIL, as a resolver does when DNSSEC breaks.
func TestDNS_ServerFailure(t *testing.T) {
	t.Parallel()
	upstream := startDNS(t)
	validator := testsvc.StartDnsmasq(t, nil, "--dnssec",
		"--trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D", // the root's KSK-2017
		"--server="+strings.Replace(upstream, ":", "#", 1))
	c := dnsCheck(t, map[string]any{"domain": "web.test", "server": validator.Addr})
	c.Fails(t, "unavailable: server failed to answer for web.test (SERVFAIL) ("+validator.Addr+")")
}

// A server that never answers, and nothing listening on the port: the
// words every network type uses. The TCP fault proxy of test/faults cannot
// stand in front of a UDP server, so the faults are here. dnsmasq itself,
// waiting on a silent upstream, does not answer before the deadline.
func TestDNS_ServerFaults(t *testing.T) {
	t.Parallel()
	const short = 300 * time.Millisecond
	silent := testsvc.SilentUDPAddr(t)
	c := checkstest.New(t, "dns", map[string]any{"domain": "web.test", "server": silent}, checkstest.Options{Timeout: short})
	for range 2 {
		if r := c.Fails(t, ""); r.Message != "unavailable: timed out after 300ms ("+silent+")" {
			t.Errorf("silent server: %q", r.Message)
		}
	}
	refused := testsvc.RefusedUDPAddr(t)
	c = checkstest.New(t, "dns", map[string]any{"domain": "web.test", "server": refused}, checkstest.Options{Timeout: short})
	c.Fails(t, "unavailable: connection refused ("+refused+")")

	srv := startDNS(t)
	checkstest.New(t, "dns", map[string]any{"domain": "x.slow.test", "server": srv}, checkstest.Options{Timeout: short}).
		Fails(t, "unavailable: timed out after 300ms ("+srv+")")
}

// A real dnsmasq behind a relay that holds its answers: an answer later
// than the timeout is a timeout, at the timeout, each time; one within it
// passes, and its resolution time counts the wait.
func TestDNS_SlowServer(t *testing.T) {
	t.Parallel()
	const short = 300 * time.Millisecond
	relay := testsvc.NewUDPRelay(t, startDNS(t))
	late := checkstest.New(t, "dns", map[string]any{"domain": "web.test", "server": relay.Addr()}, checkstest.Options{Timeout: short})
	inTime := checkstest.New(t, "dns", map[string]any{"domain": "web.test", "server": relay.Addr()}, checkstest.Options{Timeout: testsvc.AnswerTimeout})

	relay.Delay(2 * short)
	for range 2 {
		r := late.FailsWith(t, "unavailable: timed out after 300ms ("+relay.Addr()+")")
		t.Logf("answer after 600ms, timeout 300ms: failed in %v", r.Took)
	}
	relay.Delay(short)
	r := inTime.Passes(t)
	if ms := r.Observation(t, "resolutionTime", "ms"); ms < 300 {
		t.Errorf("resolutionTime = %v ms, want at least the relay's 300 ms", ms)
	}
	t.Logf("answer after 300ms, timeout %v: passed in %v", testsvc.AnswerTimeout, r.Took)
}

// dnsmasq stopped (SIGSTOP): the queries queue in its socket and the probe
// times out at its deadline; after SIGCONT the first probe passes.
// dnsmasq killed: refused; started again on the same port: the first probe
// passes.
func TestDNS_ServerHungThenKilledAndRestarted(t *testing.T) {
	t.Parallel()
	const short = 300 * time.Millisecond
	d := testsvc.StartDnsmasq(t, []string{"10.1.2.3 web.test"}, "--local=/test/")
	c := checkstest.New(t, "dns", map[string]any{"domain": "web.test", "server": d.Addr, "expect": "10.1.2.3"}, checkstest.Options{Timeout: short})
	c.Passes(t)

	d.Hang()
	for range 2 {
		r := c.FailsWith(t, "unavailable: timed out after 300ms ("+d.Addr+")")
		t.Logf("hung: failed in %v", r.Took)
	}
	d.Resume()
	r := c.Passes(t)
	t.Logf("after SIGCONT: passed in %v", r.Took)

	d.Stop()
	c.FailsWith(t, "unavailable: connection refused ("+d.Addr+")")
	d.Start()
	r = c.Passes(t)
	t.Logf("after the restart: passed in %v", r.Took)
}

// An answer too big for UDP comes back truncated, and the check asks again
// over TCP on the same port: a TCP side that refuses or hangs fails within
// the timeout, with words that say it was the TCP retry (a UDP query to the
// same server, as dig sends, works).
func TestDNS_TCPRetryFaults(t *testing.T) {
	t.Parallel()
	const short = 300 * time.Millisecond
	var hosts []string
	for i := 1; i <= 60; i++ {
		hosts = append(hosts, fmt.Sprintf("10.2.0.%d big.test", i))
	}
	d := testsvc.StartDnsmasq(t, hosts, "--local=/test/")
	for _, tc := range []struct {
		name string
		tcp  func(t *testing.T, addr string) // what listens on the relay's port over TCP
		want string
	}{
		{name: "refused", tcp: func(*testing.T, string) {}, want: "unavailable: connection refused (ADDR, over TCP after a truncated UDP answer)"},
		{name: "hanging", tcp: func(t *testing.T, addr string) { testsvc.HangingAt(t, addr) }, want: "unavailable: timed out after 300ms (ADDR, over TCP after a truncated UDP answer)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The relay carries UDP only: its port's TCP side is the fault.
			relay := testsvc.NewUDPRelay(t, d.Addr)
			tc.tcp(t, relay.Addr())
			c := checkstest.New(t, "dns", map[string]any{"domain": "big.test", "server": relay.Addr()}, checkstest.Options{Timeout: short})
			for range 2 {
				r := c.FailsWith(t, strings.ReplaceAll(tc.want, "ADDR", relay.Addr()))
				t.Logf("%s: failed in %v", tc.name, r.Took)
			}
		})
	}
}

// Without server, the system resolver: localhost is in every /etc/hosts,
// which Go reads before asking any server, so this stays off the network.
func TestDNS_SystemResolver(t *testing.T) {
	t.Parallel()
	r := dnsCheck(t, map[string]any{"domain": "localhost", "expect": "127.0.0.1"}).Passes(t)
	if !strings.HasSuffix(r.Note, "(system resolver)") {
		t.Errorf("note = %q", r.Note)
	}
}

func TestDNS_ConfigValidation(t *testing.T) {
	checkstest.ConfigTable(t, "dns", []checkstest.ConfigCase{
		{Name: "minimal", Keys: map[string]any{"domain": "db.internal"}},
		{Name: "all", Keys: map[string]any{"domain": "example.com", "record": "MX", "server": "10.0.0.2:53", "expect": []any{"mail.example.com"}}},
		{Name: "missing", Keys: map[string]any{}, Want: `key "domain": is required`},
		{Name: "record", Keys: map[string]any{"domain": "a.b", "record": "PTR"}, Want: `key "record"`, Contains: true},
		{Name: "server without port", Keys: map[string]any{"domain": "a.b", "server": "10.0.0.2"}, Want: `key "server": must be host:port, such as 127.0.0.1:5432 or db.internal:5432`},
		{Name: "A expects IPv4", Keys: map[string]any{"domain": "a.b", "expect": []any{"10.0.0.1", "fd00::1"}}, Want: `key "expect[1]": must be an IPv4 address for record A, not "fd00::1"`},
		{Name: "AAAA expects IPv6", Keys: map[string]any{"domain": "a.b", "record": "AAAA", "expect": "10.0.0.1"}, Want: `key "expect[0]": must be an IPv6 address for record AAAA, not "10.0.0.1"`},
	})
}
