package testsvc

import (
	"testing"
	"time"
)

// HangSlack is how far past its deadline a call may return before a test
// calls it hung. Wall-clock bounds in tests prove only that a call did not
// hang, because they must hold on a busy machine: under the race detector
// with a load average of 12 on 2 cores, a probe with a 300 ms timeout was
// seen to return after 1.9 s. A real hang waits for the kernel (a SYN to a
// black hole: about 2 minutes) or forever (a read without a deadline), so
// 5 s still tells the two apart. How promptly healthd answers is measured
// by make bench; the runner's exact timing is tested with testing/synctest.
const HangSlack = 5 * time.Second

// AnswerTimeout is the check timeout for a probe that a test expects an
// answer from: a pass, or a failure that is not a timeout. Such a deadline
// must not fire however busy the machine is. It is twice HangSlack, so that
// NotHung(t, what, took, 0) catches a probe that waited for it (a refused
// dial retried until the deadline). A probe that the test expects to time
// out keeps a short timeout: the test waits for that deadline, and load
// only makes it fire later.
const AnswerTimeout = 2 * HangSlack

// NotHung fails t when took, the time what took, exceeds its deadline by
// more than HangSlack. A test that must tell "waited for a deadline" from
// "did not wait" gives the call a deadline longer than HangSlack.
func NotHung(t testing.TB, what string, took, deadline time.Duration) {
	t.Helper()
	if took > deadline+HangSlack {
		t.Errorf("%s took %v: hung (its deadline was %v; a busy machine is allowed %v more)", what, took, deadline, HangSlack)
	}
}
