package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/runner"
)

// step is one run: whether the check itself fails, and what it then shows.
type step struct {
	fail bool
	want runner.Status
	msg  string // a substring of the message shown
}

func TestRunner_FlapDamping(t *testing.T) {
	P, F := false, true
	cases := []struct {
		name             string
		failures, passes int
		steps            []step
	}{
		{"threshold 1 shows every raw result at once", 1, 1, []step{
			{P, runner.Passing, ""},
			{F, runner.Failing, "unavailable: down"},
			{P, runner.Passing, ""},
			{F, runner.Failing, "unavailable: down"},
			{F, runner.Failing, "unavailable: down"},
			{P, runner.Passing, ""},
		}},
		{"failures_before_critical 3: a warning until the third failure in a row", 3, 1, []step{
			{P, runner.Passing, ""},
			{F, runner.Warning, "unavailable: down (failure 1 of 3 before critical)"},
			{F, runner.Warning, "(failure 2 of 3 before critical)"},
			{P, runner.Passing, ""}, // the count starts again
			{F, runner.Warning, "(failure 1 of 3 before critical)"},
			{F, runner.Warning, "(failure 2 of 3 before critical)"},
			{F, runner.Failing, "unavailable: down"},
			{F, runner.Failing, "unavailable: down"},
			{P, runner.Passing, ""},
		}},
		{"a first run that fails is damped too", 2, 1, []step{
			{F, runner.Warning, "(failure 1 of 2 before critical)"},
			{F, runner.Failing, "unavailable: down"},
		}},
		{"successes_before_passing 3: failing, recovering, until the third pass in a row", 1, 3, []step{
			{P, runner.Passing, ""},
			{F, runner.Failing, "unavailable: down"},
			{P, runner.Failing, "recovering: 1 of 3 successes; last error: unavailable: down"},
			{P, runner.Failing, "recovering: 2 of 3 successes; last error: unavailable: down"},
			{F, runner.Failing, "unavailable: down"}, // a relapse starts the count again
			{P, runner.Failing, "recovering: 1 of 3 successes"},
			{P, runner.Failing, "recovering: 2 of 3 successes"},
			{P, runner.Passing, ""},
			{P, runner.Passing, ""},
		}},
		{"a first run that passes needs no recovery", 1, 3, []step{
			{P, runner.Passing, ""},
		}},
		{"both thresholds", 2, 2, []step{
			{F, runner.Warning, "(failure 1 of 2 before critical)"},
			{P, runner.Warning, "recovering: 1 of 2 successes"}, // holds the warning
			{P, runner.Passing, ""},
			{F, runner.Warning, "(failure 1 of 2 before critical)"},
			{F, runner.Failing, "unavailable: down"},
			{P, runner.Failing, "recovering: 1 of 2 successes; last error: unavailable: down"},
			{F, runner.Failing, "unavailable: down"}, // still critical: no drop back to a warning
			{P, runner.Failing, "recovering: 1 of 2"},
			{P, runner.Passing, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := load(t, fmt.Sprintf(`
defaults: {cache_ttl: 0s, max_stale: 0s}
checks: [{name: db, type: fake, failures_before_critical: %d, successes_before_passing: %d}]
`, tc.failures, tc.passes))
			r := newRunner(t, cfg, runner.Options{})
			f := fake(r, "db")
			for i, s := range tc.steps {
				if s.fail {
					f.SetFail("down")
				} else {
					f.SetFail("")
				}
				res := r.Run(context.Background(), r.Checks())[0].Result
				wantRaw := runner.Passing
				if s.fail {
					wantRaw = runner.Failing
				}
				if res.Status != s.want || res.Raw != wantRaw || !strings.Contains(res.Message, s.msg) {
					t.Fatalf("step %d: got %v (raw %v) %q; want %v (raw %v) containing %q", i+1, res.Status, res.Raw, res.Message, s.want, wantRaw, s.msg)
				}
				if s.want == runner.Passing && res.Message != "" {
					t.Fatalf("step %d: a pass carries message %q", i+1, res.Message)
				}
				if tc.failures == 1 && tc.passes == 1 && s.fail && res.Message != "unavailable: down" {
					t.Fatalf("step %d: threshold 1 changed the message: %q", i+1, res.Message)
				}
			}
		})
	}
}

// A check's own warning is neither a failure nor a success for damping: it
// shows at once (no "failure 1 of 3"), fails the response at once under
// WARNINGS_AS_ERRORS, and a recovery from it names it as the last error.
func TestRunner_FlapDampingOfTheChecksOwnWarning(t *testing.T) {
	result := filepath.Join(t.TempDir(), "result")
	cfg := load(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
checks: [{name: disk, type: fake, result_file: "`+result+`", failures_before_critical: 3, successes_before_passing: 2}]
`)
	r := newRunner(t, cfg, runner.Options{WarningsAsErrors: true})
	c := r.Lookup("disk")
	for i, s := range []struct {
		set   string
		want  runner.Status
		msg   string
		fails bool
	}{
		{"warn 93% disk usage exceeds 90%", runner.Warning, "warning: 93% disk usage exceeds 90%", true},
		{"", runner.Warning, "recovering: 1 of 2 successes; last error: warning: 93% disk usage exceeds 90%", true},
		{"", runner.Passing, "", false},
	} {
		if err := os.WriteFile(result, []byte(s.set), 0o644); err != nil {
			t.Fatal(err)
		}
		res := r.Run(context.Background(), []*runner.Check{c})[0].Result
		if res.Status != s.want || res.Message != s.msg || c.FailsResponse(res) != s.fails {
			t.Fatalf("step %d: got %v %q (fails the response: %v); want %v %q (%v)", i+1, res.Status, res.Message, c.FailsResponse(res), s.want, s.msg, s.fails)
		}
	}
}
