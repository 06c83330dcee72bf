package hardening

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

// startBinary runs bin serve with a memory check and env added to the
// environment (GOGC and GOMEMLIMIT from the test's own are left out), and
// returns its address once every check has its first result (/ht/ answers
// 200).
func startBinary(t *testing.T, bin string, env ...string) (addr string, pid int) {
	t.Helper()
	addr = fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))
	cfg := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(cfg, []byte("server: {listen: "+addr+"}\nchecks: [{name: memory, type: memory}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stderr := &testsvc.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/ht/?format=json")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return addr, cmd.Process.Pid
		}
	}
	t.Fatalf("healthd %v did not answer 200 on /ht/ within 20s\n%s", env, stderr)
	return "", 0
}

// metric reads an unlabelled sample from addr's /metrics.
func metric(t *testing.T, addr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return ""
}

// TestBinary_GCIsTunedByTheEnvironmentOnly runs the real binary: healthd
// sets no GC target of its own (go_gc_gogc_percent is Go's 100), and GOGC
// and GOMEMLIMIT, as an operator sets them (docs/operations.md), are obeyed.
func TestBinary_GCIsTunedByTheEnvironmentOnly(t *testing.T) {
	t.Parallel()
	bin := buildHealthd(t)
	for _, c := range []struct {
		env, metric, want string
	}{
		{"", "go_gc_gogc_percent", "100"},
		{"GOGC=80", "go_gc_gogc_percent", "80"},
		{"GOMEMLIMIT=64MiB", "go_gc_gomemlimit_bytes", "6.7108864e+07"},
	} {
		var env []string
		if c.env != "" {
			env = append(env, c.env)
		}
		addr, _ := startBinary(t, bin, env...)
		if got := metric(t, addr, c.metric); got != c.want {
			t.Errorf("env %q: %s = %s, want %s", c.env, c.metric, got, c.want)
		}
	}
}

// TestBinary_LeavesItsExecutablesPagesAlone: once its checks have their
// first results, healthd gives no advice to the kernel about its own
// binary's pages. The binary is a file other processes and containers may
// share; 0.3 marked its mappings MADV_RANDOM and dropped them (VmFlags "rr"
// in smaps), and evicted the file from the page cache.
func TestBinary_LeavesItsExecutablesPagesAlone(t *testing.T) {
	t.Parallel()
	bin := buildHealthd(t)
	_, pid := startBinary(t, bin)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	// 0.3 advised within milliseconds of the first results; a second of
	// samples would have seen it.
	for i := 0; i < 20; i++ {
		maps := exeMappings(t, pid, exe)
		if len(maps) == 0 {
			t.Fatalf("no mapping of %s in /proc/%d/smaps", exe, pid)
		}
		for _, m := range maps {
			if m.flags["rr"] || m.flags["sr"] {
				t.Fatalf("healthd advised the kernel about its binary's pages: %s VmFlags: %s", m.header, m.vmFlags)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type mapping struct {
	header, vmFlags string
	flags           map[string]bool
}

// exeMappings returns pid's mappings of the file exe, from smaps: a header
// line "start-end perms offset dev inode path", then its fields, of which
// VmFlags holds the madvise hints ("rr" random, "sr" sequential).
func exeMappings(t *testing.T, pid int, exe string) []mapping {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mapping
	var cur *mapping
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			cur = nil
			if len(fields) >= 6 && strings.Join(fields[5:], " ") == exe {
				out = append(out, mapping{header: line, flags: map[string]bool{}})
				cur = &out[len(out)-1]
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "VmFlags:"); ok && cur != nil {
			cur.vmFlags = strings.TrimSpace(v)
			for _, fl := range strings.Fields(v) {
				cur.flags[fl] = true
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
