package checks

import (
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/testsvc"
)

// The worker-counting cases run against a real Celery worker in
// TestCelery_AgainstARealWorker.
func TestProcess_ConfigErrorsAndBounds(t *testing.T) {
	for _, tc := range []struct {
		keys map[string]any
		want string
	}{
		{map[string]any{}, `key "pattern": is required`},
		{map[string]any{"pattern": "("}, `key "pattern": is not a valid regular expression`},
		{map[string]any{"pattern": "x", "min": 2, "max": 1}, `key "max": must be at least min (2)`},
	} {
		if _, err := buildTestCheck("proc", "process", tc.keys, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %q", tc.keys, err, tc.want)
		}
	}
	// The test binary itself is left out; its parent go tool or shell is not
	// guaranteed, so count processes named like no other: none.
	c := newTestCheck(t, "proc", "process", map[string]any{"pattern": "^healthd-no-such-process$", "min": 0, "max": 0}, testsvc.AnswerTimeout)
	if msg, note, _, _ := probe(c, testsvc.AnswerTimeout); msg != "" || note != `0 processes match "^healthd-no-such-process$"` {
		t.Fatalf("message %q, note %q", msg, note)
	}
}
