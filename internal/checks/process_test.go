package checks_test

import (
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
)

// The worker-counting cases run against a real Celery worker in
// TestCelery_AgainstARealWorker.
func TestProcess_ConfigErrorsAndBounds(t *testing.T) {
	checkstest.ConfigTable(t, "process", []checkstest.ConfigCase{
		{Name: "pattern missing", Keys: map[string]any{}, Want: `key "pattern": is required`, Contains: true},
		{Name: "pattern invalid", Keys: map[string]any{"pattern": "("}, Want: `key "pattern": is not a valid regular expression`, Contains: true},
		{Name: "max below min", Keys: map[string]any{"pattern": "x", "min": 2, "max": 1}, Want: `key "max": must be at least min (2)`, Contains: true},
	})
	// The test binary itself is left out; its parent go tool or shell is not
	// guaranteed, so count processes named like no other: none.
	c := checkstest.New(t, "process", map[string]any{"pattern": "^healthd-no-such-process$", "min": 0, "max": 0}, checkstest.Options{})
	if r := c.Run(); r.Message != "" || r.Note != `0 processes match "^healthd-no-such-process$"` {
		t.Fatalf("message %q, note %q", r.Message, r.Note)
	}
}
