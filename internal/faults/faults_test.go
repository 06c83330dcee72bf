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
// in the middle of a probe, and restarted.
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
			yaml := header(faultTimeout) +
				checkYAML(d.typ, keys, "up", proxy.Addr()) +
				checkYAML(d.typ, keys, "refused", testsvc.RefusedAddr(t)) +
				checkYAML(d.typ, keys, "hanging", hanging.Addr()) +
				checkYAML(d.typ, keys, "blackholed", testsvc.BlackholeAddr(t)) +
				checkYAML(d.typ, keys, "slow", slow.Addr())
			r := checkstest.NewRunner(t, load(t, yaml), runner.Options{})

			expect := func(name string, want runner.Status) {
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
			}

			expect("up", runner.Passing)
			expect("refused", runner.Failing)
			expect("blackholed", runner.Failing)
			if d.connectOnly {
				// Connecting is all a tcp check does: a server that
				// accepts is up, however it answers afterwards.
				expect("hanging", runner.Passing)
				expect("slow", runner.Passing)
			} else {
				expect("hanging", runner.Failing)
				expect("slow", runner.Failing)

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
				expect("up", runner.Failing)
			}
			proxy.Restore()
			expect("up", runner.Passing)
		})
	}
}
