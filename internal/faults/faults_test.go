package faults

import (
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// faultTimeout is every check's timeout in the fault suite; a slow server
// answers after twice as long.
const faultTimeout = 300 * time.Millisecond

// TestFaults_EveryDependencyFailsWithinItsTimeoutAndRecovers runs each
// network check type, through the runner with a real config, against a
// healthy server, then refused, hanging (accepts, never answers),
// black-holed (SYNs dropped), slow (answers after twice the timeout), killed
// in the middle of a probe, and restarted. The same fault reads the same for
// every type: "connection refused (127.0.0.1:NNNN)", "timed out after 300ms
// (127.0.0.1:NNNN)", with only the kind ("unavailable: ") before it.
func TestFaults_EveryDependencyFailsWithinItsTimeoutAndRecovers(t *testing.T) {
	for _, d := range dependencies() {
		t.Run(d.typ, func(t *testing.T) {
			t.Parallel()
			up, keys := d.upstream(t)
			proxy := testsvc.NewProxy(t, up)
			slow := testsvc.NewProxy(t, up)
			slow.Delay(2 * faultTimeout)
			hanging := testsvc.NewProxy(t, up)
			hanging.Hang()
			refused, blackholed := testsvc.RefusedAddr(t), testsvc.BlackholeAddr(t)
			yaml := header(faultTimeout) +
				checkYAML(d.typ, keys, "up", proxy.Addr()) +
				checkYAML(d.typ, keys, "refused", refused) +
				checkYAML(d.typ, keys, "hanging", hanging.Addr()) +
				checkYAML(d.typ, keys, "blackholed", blackholed) +
				checkYAML(d.typ, keys, "slow", slow.Addr())
			r := checkstest.NewRunner(t, load(t, yaml), runner.Options{})

			expect := func(name string, want runner.Status) string {
				t.Helper()
				res, took := probe(r, name)
				t.Logf("%-10s %-8s in %4d ms: %s", name, res.Status, took.Milliseconds(), res.Message)
				if res.Status != want {
					t.Errorf("%s: status %s (%s), want %s", name, res.Status, res.Message, want)
				}
				if took > faultTimeout+slack {
					t.Errorf("%s: answered after %s, want at most the timeout %s + %s", name, took, faultTimeout, slack)
				}
				if want == runner.Failing && !strings.HasPrefix(res.Message, "unavailable: ") && !strings.HasPrefix(res.Message, "unexpected result: ") {
					t.Errorf("%s: message %q does not say what failed", name, res.Message)
				}
				return res.Message
			}

			// expectReason runs name, which must fail with reason: the
			// same words for every type. The runner's own words for a
			// check that overran its grace (no address) are timing noise
			// of a loaded machine, not another vocabulary.
			runnerTimeout := "unavailable: timed out after " + faultTimeout.String()
			expectReason := func(name, reason string) {
				t.Helper()
				got, want := expect(name, runner.Failing), "unavailable: "+reason
				if got != want && !(got == runnerTimeout && strings.HasPrefix(want, runnerTimeout+" (")) {
					t.Errorf("%s: message %q, want %q (the same words for every type)", name, got, want)
				}
			}
			timedOut := func(addr string) string { return "timed out after " + faultTimeout.String() + " (" + addr + ")" }

			expect("up", runner.Passing)
			expectReason("refused", "connection refused ("+refused+")")
			expectReason("blackholed", timedOut(blackholed))
			if d.connectOnly {
				// Connecting is all a tcp check does: a server that
				// accepts is up, however it answers afterwards.
				expect("hanging", runner.Passing)
				expect("slow", runner.Passing)
			} else {
				expectReason("hanging", timedOut(hanging.Addr()))
				expectReason("slow", timedOut(slow.Addr()))

				// Killed mid-probe: the pooled connection is warm, the
				// server turns slow, and the proxy is cut while the
				// probe waits for its answer.
				expect("up", runner.Passing)
				proxy.Delay(2 * faultTimeout)
				type outcome struct {
					res  *runner.Result
					took time.Duration
				}
				done := make(chan outcome, 1)
				go func() {
					res, took := probe(r, "up")
					done <- outcome{res, took}
				}()
				time.Sleep(faultTimeout / 3)
				proxy.Cut()
				o := <-done
				t.Logf("%-10s %-8s in %4d ms: %s", "killed", o.res.Status, o.took.Milliseconds(), o.res.Message)
				if o.res.Status != runner.Failing || o.took > faultTimeout+slack {
					t.Errorf("killed mid-probe: %s after %s (%s), want failing within %s", o.res.Status, o.took, o.res.Message, faultTimeout+slack)
				}
			}

			// Down (refused on the same port) for a few probes, then
			// restarted: the very first probe after the restart passes. A
			// client that remembers its failed dials (go-redis's pool after
			// two) would fail it.
			proxy.Cut()
			for range 3 {
				expectReason("up", "connection refused ("+proxy.Addr()+")")
			}
			proxy.Restore()
			expect("up", runner.Passing)
		})
	}
}
