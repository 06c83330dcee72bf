package faults

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

const (
	leakTimeout = 200 * time.Millisecond
	// leakChecksPerFault checks per dependency type and fault; with three
	// faults and leakRounds rounds, each dependency runs 3*10*34 = 1,020 times.
	leakChecksPerFault = 10
	leakRounds         = 34
	warmupRounds       = 3
	// Tolerances: the counts must come back to within this much of where
	// they started. Two goroutines and two descriptors cover what the test
	// binary itself may hold for a moment while the counts are taken (the
	// testing package's alarm goroutine, a runtime finalizer goroutine, a
	// loopback socket in TIME_WAIT handling); a leak of one goroutine or
	// socket per run would show as hundreds.
	goroutineTolerance = 2
	fdTolerance        = 2
	// settleTime bounds the wait for the counts to come back: a busy
	// machine closes the fixtures' sockets late, a leak never.
	settleTime = 4 * testsvc.HangSlack
)

// TestFaults_NoGoroutineOrDescriptorLeakAfterAThousandFailingRuns runs every
// network check type over a thousand times against refused, hanging and slow
// servers, through the runner, and counts the process's goroutines and open
// file descriptors: after the runs they are back to what they were after the
// first round (pools and clients are built by then), and after the config is
// closed back to what they were before it was loaded.
func TestFaults_NoGoroutineOrDescriptorLeakAfterAThousandFailingRuns(t *testing.T) {
	yaml := header(leakTimeout)
	perLabel := map[string]int{} // checks per dependency (its label)
	add := func(label, typ, keys, refused, hanging, slow string) {
		for i := range leakChecksPerFault {
			yaml += checkYAML(typ, keys, fmt.Sprintf("%s-refused-%d", label, i), refused)
			yaml += checkYAML(typ, keys, fmt.Sprintf("%s-hanging-%d", label, i), hanging)
			yaml += checkYAML(typ, keys, fmt.Sprintf("%s-slow-%d", label, i), slow)
			perLabel[label] += 3
		}
	}
	for _, d := range dependencies() {
		up, keys := d.upstream(t)
		// Fixtures close their side of every connection when the client
		// hangs up, so the counts see only the checks' own sockets.
		hang := testsvc.NewProxy(t, up)
		hang.Hang()
		slow := testsvc.NewProxy(t, up)
		slow.Delay(2 * leakTimeout)
		hangAddr, slowAddr := hang.Addr(), slow.Addr()
		if d.connectOnly { // accepting is passing: hang the handshake instead
			hangAddr, slowAddr = testsvc.BlackholeAddr(t), testsvc.BlackholeAddr(t)
		}
		add(d.label(), d.typ, keys, testsvc.RefusedAddr(t), hangAddr, slowAddr)
	}
	// dns speaks UDP, which the proxies do not carry: its faults are a port
	// that answers ICMP unreachable, a socket that never answers, and a
	// real dnsmasq whose answers a UDP relay holds for twice the timeout.
	dnsSlow := testsvc.NewUDPRelay(t, testsvc.StartDnsmasq(t, []string{"10.1.2.3 db.test"}, "--local=/test/").Addr)
	dnsSlow.Delay(2 * leakTimeout)
	add("dns", "dns", `domain: db.test, server: "%s"`, testsvc.RefusedUDPAddr(t), testsvc.SilentUDPAddr(t), dnsSlow.Addr())
	g0, f0 := testsvc.Settle(t, 0, 0, 0, 0, 0, nil)

	cfg := load(t, yaml)
	// net/http and go-redis keep a connection whose dial ended after its
	// probe gave up, idle for the next probe (at most 2 per check), and how
	// many there are when the counts are taken depends on how fast the
	// machine is. The http and s3 checks' are dropped before each count
	// (their Close does only that; the check stays usable); the redis
	// checks' are allowed for: at most 2 connections per redis check of a
	// hanging or slow server, each holding at most 3 goroutines and 3
	// descriptors (its own socket, the fixture proxy's). A leak of one per
	// run would still add hundreds (340 runs per type and fault).
	r := checkstest.NewRunner(t, cfg, runner.Options{})
	dropIdle := func() {
		for _, c := range r.Checks() {
			// http and s3 keep idle connections; Close would let go of
			// http's shared transport, which the next rounds still use.
			if ck, ok := c.Checker().(interface{ CloseIdleConnections() }); ok {
				ck.CloseIdleConnections()
			}
		}
	}
	failing := 0
	round := func() {
		for _, s := range r.Run(context.Background(), r.Checks()) {
			if s.Result.Status != runner.Passing {
				failing++
			}
		}
	}
	// Warm up: clients are built, and each has met its failure once or
	// twice. Then
	// let the sockets close (the slow proxy holds its last answers for
	// twice the timeout) and take the reference.
	for range warmupRounds {
		round()
	}
	g1, f1 := testsvc.Settle(t, g0, f0, goroutineTolerance, fdTolerance, 4*leakTimeout, dropIdle)
	failing = 0
	start := time.Now()
	for range leakRounds {
		round()
	}
	took := time.Since(start)
	redisTypes := 0 // the redis type's topologies: a pooled client per asked node each
	for _, d := range dependencies() {
		if d.typ == "redis" {
			redisTypes++
		}
	}
	pooled := redisTypes * 2 * 2 * leakChecksPerFault // redis: hanging and slow
	tolG, tolF := goroutineTolerance+3*pooled, fdTolerance+3*pooled
	g2, f2 := testsvc.Settle(t, g1, f1, goroutineTolerance, fdTolerance, settleTime, dropIdle)
	runs := leakRounds * len(r.Checks())
	// Every dependency gets the same share of the runs: the same faults,
	// as many checks of each.
	var shares []string
	for _, label := range slices.Sorted(maps.Keys(perLabel)) {
		shares = append(shares, fmt.Sprintf("%s %d", label, leakRounds*perLabel[label]))
		if perLabel[label] != 3*leakChecksPerFault {
			t.Errorf("%s has %d checks, want %d like every dependency", label, perLabel[label], 3*leakChecksPerFault)
		}
	}
	t.Logf("%d runs (%d failing) in %s; per dependency: %s", runs, failing, took.Round(time.Millisecond), strings.Join(shares, ", "))
	t.Logf("goroutines: %d before load, %d after warm-up, %d after %d runs", g0, g1, g2, runs)
	t.Logf("open fds:   %d before load, %d after warm-up, %d after %d runs", f0, f1, f2, runs)
	if failing != runs {
		t.Errorf("%d of %d runs failed, want every run to fail", failing, runs)
	}
	if g2 > g1+tolG || f2 > f1+tolF {
		t.Errorf("leak: goroutines %d -> %d, fds %d -> %d after %d failing runs (tolerance %d and %d)", g1, g2, f1, f2, runs, tolG, tolF)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}

	if err := r.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	g3, f3 := testsvc.Settle(t, g0, f0, goroutineTolerance, fdTolerance, settleTime, nil)
	t.Logf("after Stop and Close: %d goroutines, %d fds", g3, f3)
	if g3 > g0+goroutineTolerance || f3 > f0+fdTolerance {
		t.Errorf("leak after close: goroutines %d -> %d, fds %d -> %d (tolerance %d and %d)", g0, g3, f0, f3, goroutineTolerance, fdTolerance)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
}
