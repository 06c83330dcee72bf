package checks_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// The exec type has no lock of its own: the runner's single flight keeps
// one run of a check at a time, however many requests ask at once.
func TestExec_RunnerRunsOneProgramAtATime(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "runs")
	cfg := checkstest.Load(t, fmt.Sprintf(`defaults: {timeout: 10s, cache_ttl: 0s, max_stale: 0s}
checks:
  - name: slow
    type: exec
    command: [/bin/sh, -c, 'echo start >> "$RUNLOG"; sleep 0.2; echo end >> "$RUNLOG"; echo OK']
    env: {RUNLOG: %q}
`, log))
	r := checkstest.NewRunner(t, cfg, runner.Options{})
	var wg sync.WaitGroup
	for range 3 {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s := r.Run(context.Background(), r.Checks())[0]; s.Result.Status != runner.Passing {
					t.Errorf("run: %s", s.Result.Message)
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	for i, l := range lines {
		if want := []string{"start", "end"}[i%2]; l != want {
			t.Fatalf("two runs overlapped: %q", lines)
		}
	}
	t.Logf("24 requests, %d runs", len(lines)/2)
}

// TestExec_AThousandFailingRunsLeaveNoZombieFDOrGoroutine runs exec checks
// that fail in every way (exit 2, a signal, a grandchild left holding
// stdout, a hang killed at the deadline) over a thousand times through the
// runner, and counts goroutines, open descriptors and unreaped children.
// Not parallel: the counts are this test's alone.
func TestExec_AThousandFailingRunsLeaveNoZombieFDOrGoroutine(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 s measurement: run without -short")
	}
	const rounds, hangEvery, tolerance = 334, 34, 2
	cfg := checkstest.Load(t, fmt.Sprintf(`defaults: {timeout: 10s, cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: exit2, type: exec, command: [/bin/sh, -c, 'echo CRITICAL - down; exit 2']}
  - {name: signal, type: exec, command: [%[1]s], env: {PIDFILE: /dev/null}}
  - {name: grandchild, type: exec, command: 'sleep 600 & echo CRITICAL - left a child; exit 2', shell: true}
  - {name: hang, type: exec, command: [%[2]s], env: {PIDFILE: /dev/null}, timeout: 100ms}
`, execScript(t, "signal.sh"), execScript(t, "hang.sh")))
	r := checkstest.NewRunner(t, cfg, runner.Options{})
	three := []*runner.Check{r.Lookup("exit2"), r.Lookup("signal"), r.Lookup("grandchild")}
	hang := []*runner.Check{r.Lookup("hang")}
	runs, failing := 0, 0
	round := func(i int) {
		sel := three
		if i%hangEvery == 0 {
			sel = append(sel[:3:3], hang...)
		}
		for _, s := range r.Run(context.Background(), sel) {
			runs++
			if s.Result.Status == runner.Failing {
				failing++
			}
		}
	}
	settle := func(refG, refF int) (int, int, int) {
		deadline := time.Now().Add(testsvc.HangSlack)
		for {
			g, f, z := runtime.NumGoroutine(), testsvc.OpenFDs(t), zombieChildren(t)
			if (g <= refG+tolerance && f <= refF+tolerance && z == 0) || time.Now().After(deadline) {
				return g, f, z
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	round(0) // warm up
	g0, f0, z0 := settle(1<<30, 1<<30)
	runs, failing = 0, 0
	start := time.Now()
	for i := 1; i <= rounds; i++ {
		round(i)
	}
	took := time.Since(start)
	g1, f1, z1 := settle(g0, f0)
	t.Logf("%d failing runs of %d in %s (%.2f ms a run of three in parallel)", failing, runs, took.Round(time.Millisecond), float64(took.Microseconds())/1000/float64(rounds))
	t.Logf("goroutines %d -> %d, open fds %d -> %d, zombie children %d -> %d", g0, g1, f0, f1, z0, z1)
	if runs < 1000 || failing != runs {
		t.Errorf("%d of %d runs failed, want over 1,000, every one failing", failing, runs)
	}
	if g1 > g0+tolerance || f1 > f0+tolerance || z1 != 0 {
		t.Errorf("leak: goroutines %d -> %d, fds %d -> %d, %d zombie children", g0, g1, f0, f1, z1)
	}
	// Nothing of the grandchild checks is left running either.
	for _, p := range processes(t) {
		if p.state != 'Z' {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid)); err == nil && strings.HasPrefix(string(b), "sleep\x00600") {
				t.Errorf("a grandchild (pid %d, sleep 600) is still running", p.pid)
			}
		}
	}
}

// BenchmarkExec_TrueRun is the cost of one exec check run: fork, exec of
// /bin/true, the pipes read to their end, wait, the group killed. make bench
// reports the same in docs/benchmarks.md.
func BenchmarkExec_TrueRun(b *testing.B) {
	c := checkstest.New(b, "exec", map[string]any{"command": "/bin/true"}, checkstest.Options{})
	for b.Loop() {
		if r := c.Run(); r.Err != nil {
			b.Fatal(r.Message)
		}
	}
}
