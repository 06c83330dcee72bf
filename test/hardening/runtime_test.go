package hardening

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

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

// TestDeploy_GOMEMLIMITFromTheManifestsIsUnderTheMemoryLimit sets up each
// healthd container of deploy/kubernetes/*.yaml that sets GOMEMLIMIT as the
// kubelet would (the downward API's resourceFieldRef with its divisor,
// then $(VAR) references to earlier variables), runs the real binary with
// that GOMEMLIMIT and reads the limit the Go runtime took
// (go_gc_gomemlimit_bytes). Where the container has a memory limit, the Go
// limit is under it, with headroom, and not far under it (a divisor
// mistake gives 64 bytes, not 64 MiB). docs/operations.md explains it.
func TestDeploy_GOMEMLIMITFromTheManifestsIsUnderTheMemoryLimit(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under deploy/kubernetes: %v", err)
	}
	type found struct {
		where, value string
		limit        int64 // the container's memory limit in bytes, or 0
	}
	var all []found
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc manifest
			if err := dec.Decode(&doc); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			cs := doc.Spec.Template.Spec.Containers
			for _, c := range cs {
				if !strings.Contains(c.Image, "healthd") {
					continue
				}
				where := fmt.Sprintf("%s: %s/%s container %s", filepath.Base(f), doc.Kind, doc.Metadata.Name, c.Name)
				env, err := kubeletEnv(c, cs)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if v, ok := env["GOMEMLIMIT"]; ok {
					limit, _ := quantity(c.Resources.Limits["memory"])
					all = append(all, found{where, v, limit})
				}
			}
		}
	}
	if len(all) == 0 {
		t.Fatal("no healthd container under deploy/kubernetes sets GOMEMLIMIT (docs/operations.md says how)")
	}
	bin := buildHealthd(t)
	for _, f := range all {
		addr, _ := startBinary(t, bin, "GOMEMLIMIT="+f.value)
		got, err := strconv.ParseFloat(metric(t, addr, "go_gc_gomemlimit_bytes"), 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: GOMEMLIMIT=%s: Go's limit %.0f bytes, the container's %d", f.where, f.value, got, f.limit)
		if f.limit > 0 && (got >= float64(f.limit) || got < 0.8*float64(f.limit)) {
			t.Errorf("%s: GOMEMLIMIT=%s gives Go a limit of %.0f bytes; want below the container's memory limit of %d bytes and at least 80%% of it",
				f.where, f.value, got, f.limit)
		}
	}
}

// manifest is the part of a Kubernetes object the test reads.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Template struct {
			Spec struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type container struct {
	Name      string `yaml:"name"`
	Image     string `yaml:"image"`
	Resources struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			ResourceFieldRef *struct {
				ContainerName string `yaml:"containerName"`
				Resource      string `yaml:"resource"`
				Divisor       string `yaml:"divisor"`
			} `yaml:"resourceFieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
}

// kubeletEnv is c's environment as the kubelet sets it, for what the test
// needs: a resourceFieldRef on limits.memory is the limit divided by the
// divisor, rounded up; other valueFrom sources are left out; $(NAME) in a
// value is replaced by an earlier variable's value.
func kubeletEnv(c container, pod []container) (map[string]string, error) {
	env := map[string]string{}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = ref.ReplaceAllStringFunc(e.Value, func(m string) string {
				if v, ok := env[m[2:len(m)-1]]; ok {
					return v
				}
				return m // the kubelet leaves an unknown reference as it is
			})
		case e.ValueFrom.ResourceFieldRef != nil:
			r := e.ValueFrom.ResourceFieldRef
			if r.Resource != "limits.memory" {
				continue
			}
			owner := c
			for _, o := range pod {
				if r.ContainerName != "" && o.Name == r.ContainerName {
					owner = o
				}
			}
			limit, err := quantity(owner.Resources.Limits["memory"])
			if err != nil || limit == 0 {
				return nil, fmt.Errorf("env %s: container %s has no memory limit, and for limits.memory the downward API then gives the node's allocatable memory", e.Name, owner.Name)
			}
			div := int64(1)
			if r.Divisor != "" {
				if div, err = quantity(r.Divisor); err != nil || div <= 0 {
					return nil, fmt.Errorf("env %s: divisor %q: %v", e.Name, r.Divisor, err)
				}
			}
			env[e.Name] = strconv.FormatInt((limit+div-1)/div, 10)
		}
	}
	return env, nil
}

// quantity parses a Kubernetes memory quantity ("64Mi", "1Mi", "128M",
// "1"), or returns 0 for "".
func quantity(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			return int64(f * u.mult), err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
