package checks_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestProcess_CountsWhatItsPatternMatches runs real processes under names of
// their own (copies of sleep and true) and counts them: by name, whole even
// where the kernel keeps 15 bytes of it, by command line where the name does
// not match, and never a zombie or the test binary itself.
func TestProcess_CountsWhatItsPatternMatches(t *testing.T) {
	dir := t.TempDir()
	tag := fmt.Sprint(os.Getpid())
	copyTo := func(src, name string) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	tru, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	short := "hdp" + tag                            // a whole name
	long := "healthd-process-test-long-name-" + tag // cut to 15 bytes in comm and status
	start := func(path string, args ...string) *exec.Cmd {
		cmd := exec.Command(path, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	shortPath := copyTo(sleep, short)
	for _, cmd := range []*exec.Cmd{
		start(shortPath, "300"),
		start(shortPath, "300"),
		start(copyTo(sleep, long), "300"),
		start(sleep, "300", tag), // its name is sleep; its command line holds the tag
	} {
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	// A zombie: exited, not yet waited for.
	zombie := start(copyTo(tru, "hdz"+tag))
	t.Cleanup(func() { zombie.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", zombie.Process.Pid))
		if strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is not a zombie: %q", zombie.Process.Pid, b)
		}
		time.Sleep(10 * time.Millisecond)
	}

	for _, tc := range []struct {
		pattern string
		want    int
	}{
		{"^" + short + "$", 2},                 // by name
		{"^" + long + "$", 1},                  // by name, completed from the command line
		{"^" + sleep + " 300 " + tag + "$", 1}, // by command line: the name is sleep
		{"^hdz" + tag + "$", 0},                // a zombie is not running
		{`^checks\.test$`, 0},                  // the test binary is healthd here: left out
	} {
		c := checkstest.New(t, "process", map[string]any{"pattern": tc.pattern, "min": tc.want, "max": tc.want}, checkstest.Options{})
		r := c.Run()
		want := fmt.Sprintf("%d processes match %q", tc.want, tc.pattern)
		if tc.want == 1 {
			want = fmt.Sprintf("1 process matches %q", tc.pattern)
		}
		if r.Message != "" || r.Note != want {
			t.Errorf("pattern %q: message %q, note %q, want note %q", tc.pattern, r.Message, r.Note, want)
		}
	}
}
