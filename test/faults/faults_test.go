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
	// Every row holds its servers through timed faults (about 20 s): the
	// server tier's, even for the upstreams that run in-process.
	testsvc.NeedsServer(t)
	for _, d := range dependencies() {
		t.Run(d.label(), func(t *testing.T) {
			t.Parallel()
			up, keys := d.upstream(t)
			proxy := testsvc.NewProxy(t, up)
			slow := testsvc.NewProxy(t, up)
			slow.Delay(2 * faultTimeout)
			hanging := testsvc.NewProxy(t, up)
			hanging.Hang()
			// A check that must pass must answer however busy the machine
			// is: its deadline must not fire (testsvc.AnswerTimeout). The
			// others time out, and the test waits for their faultTimeout.
			answers := keys + ", timeout: " + testsvc.AnswerTimeout.String()
			hangKeys := keys
			if d.connectOnly {
				hangKeys = answers // accepting is passing
			}
			refused, blackholed := testsvc.RefusedAddr(t), testsvc.BlackholeAddr(t)
			yaml := header(faultTimeout) +
				checkYAML(d.typ, answers, "up", proxy.Addr()) +
				checkYAML(d.typ, keys, "refused", refused) +
				checkYAML(d.typ, hangKeys, "hanging", hanging.Addr()) +
				checkYAML(d.typ, keys, "blackholed", blackholed) +
				checkYAML(d.typ, hangKeys, "slow", slow.Addr())
			r := checkstest.NewRunner(t, load(t, yaml), runner.Options{})

			expect := func(name string, want runner.Status) string {
				t.Helper()
				res, took := probe(r, name)
				t.Logf("%-10s %-8s in %4d ms: %s", name, res.Status, took.Milliseconds(), res.Message)
				if res.Status != want {
					t.Errorf("%s: status %s (%s), want %s", name, res.Status, res.Message, want)
				}
				testsvc.NotHung(t, name, took, faultTimeout)
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
				got, want := expect(name, runner.Failing), "unavailable: "+d.prefix+reason
				if got != want && !(got == runnerTimeout && strings.HasPrefix("unavailable: "+reason, runnerTimeout+" (")) {
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
				proxy.Delay(2 * testsvc.AnswerTimeout) // held past up's deadline: however late the cut, it is mid-probe
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
				if o.res.Status != runner.Failing {
					t.Errorf("killed mid-probe: %s after %s (%s), want failing", o.res.Status, o.took, o.res.Message)
				}
				testsvc.NotHung(t, "killed mid-probe", o.took, faultTimeout)
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
