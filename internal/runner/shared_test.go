package runner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// The checks of one runner on one DSN share a pool: twenty postgres checks,
// run at once, hold at most its two connections, and closing the runner
// closes it.
func TestRunner_ChecksOnOneDSNShareOnePool(t *testing.T) {
	dsn := testsvc.MachinePostgres(t)
	app := fmt.Sprintf("healthd-runner-share-%d", time.Now().UnixNano())
	var yaml strings.Builder
	yaml.WriteString("checks:\n")
	for i := range 20 {
		fmt.Fprintf(&yaml, "  - {name: db%d, type: postgres, timeout: 10s, dsn: %q, query: \"SELECT %d\"}\n", i, dsn+"&application_name="+app, i)
	}
	r, err := runner.New(load(t, yaml.String()), runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Run(context.Background(), r.Checks()) {
		if s.Result.Status != runner.Passing {
			t.Errorf("%s: %v %s", s.Check.Name, s.Result.Status, s.Result.Message)
		}
	}
	if n := testsvc.PostgresBackends(t, dsn, app); n < 1 || n > 2 {
		t.Errorf("20 checks on one DSN: %d connections, want 1 or 2", n)
	}
	r.Close()
	deadline := time.Now().Add(testsvc.HangSlack)
	for testsvc.PostgresBackends(t, dsn, app) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connections still open %v after the runner closed", testsvc.HangSlack)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
