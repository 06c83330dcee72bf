package hardening

import (
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

// TestBinary_GCTargetIs50UnlessGOGCIsSet runs the real binary: its GC
// target (go_gc_gogc_percent on /metrics) is 50 by default, and GOGC in the
// environment overrides it.
func TestBinary_GCTargetIs50UnlessGOGCIsSet(t *testing.T) {
	t.Parallel()
	bin := buildHealthd(t)
	for _, c := range []struct {
		env  string
		want string
	}{{"", "50"}, {"GOGC=80", "80"}} {
		addr := fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))
		cfg := filepath.Join(t.TempDir(), "healthd.yaml")
		os.WriteFile(cfg, []byte("server: {listen: "+addr+"}\nchecks: [{name: memory, type: memory}]\n"), 0o644)
		cmd := exec.Command(bin, "serve", "--config", cfg)
		cmd.Env = os.Environ()
		for i, kv := range cmd.Env {
			if strings.HasPrefix(kv, "GOGC=") {
				cmd.Env[i] = "GOGC_UNSET=1"
			}
		}
		if c.env != "" {
			cmd.Env = append(cmd.Env, c.env)
		}
		var stderr testsvc.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		got := ""
		for start := time.Now(); time.Since(start) < 10*time.Second && got == ""; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "go_gc_gogc_percent "); ok {
					got = v
				}
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if got != c.want {
			t.Errorf("env %q: go_gc_gogc_percent = %q, want %s\n%s", c.env, got, c.want, stderr.String())
		}
	}
}
