package runner

import (
	"fmt"

	"github.com/healthd/healthd/internal/config"
)

// damping turns a check's raw results into the status it shows, following
// its failures_before_critical and successes_before_passing (consul's
// thresholds). A check that starts failing shows as a warning until it has
// failed that many times in a row; a check that was not passing keeps its
// status until it has passed that many times in a row, with a message
// saying it is recovering. Thresholds of 1 change nothing.
type damping struct {
	failures  int    // consecutive raw failures
	successes int    // consecutive raw passes
	lastError string // message of the latest raw failure
}

// apply sets res.Status (and the message) from res.Raw, the counters and
// prev, the result shown until now. The caller holds the check's lock.
func (d *damping) apply(c *config.Check, prev, res *Result) {
	switch res.Raw {
	case Failing:
		d.failures++
		d.successes = 0
		d.lastError = res.Message
		if c.FailuresBeforeCritical <= 1 || d.failures >= c.FailuresBeforeCritical ||
			(prev != nil && prev.Status == Failing) {
			return // critical now, or already critical (e.g. a relapse while recovering)
		}
		res.Status = Warning
		res.Message = fmt.Sprintf("%s (failure %d of %d before critical)", res.Message, d.failures, c.FailuresBeforeCritical)
	case Passing:
		d.successes++
		d.failures = 0
		if c.SuccessesBeforePassing <= 1 || d.successes >= c.SuccessesBeforePassing ||
			prev == nil || prev.Status == Passing {
			return
		}
		res.Status, res.Kind = prev.Status, prev.Kind
		res.Message = fmt.Sprintf("recovering: %d of %d successes; last error: %s", d.successes, c.SuccessesBeforePassing, d.lastError)
	default: // the check's own warning: neither a failure nor a success
		d.failures, d.successes = 0, 0
		d.lastError = res.Message // what "recovering: …; last error:" names
	}
}
