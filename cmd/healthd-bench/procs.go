package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is a child process the harness started; stop kills it.
type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
	mu  sync.Mutex
}

func (p *proc) Write(b []byte) (int, error) { p.mu.Lock(); defer p.mu.Unlock(); return p.out.Write(b) }
func (p *proc) Log() string                 { p.mu.Lock(); defer p.mu.Unlock(); return p.out.String() }
func (p *proc) Pid() int                    { return p.cmd.Process.Pid }

func start(name string, env []string, args ...string) (*proc, error) {
	return startDir("", name, env, args...)
}

// startDir starts name in dir with env added to the harness's own.
func startDir(dir, name string, env []string, args ...string) (*proc, error) {
	return startEnv(dir, name, append(os.Environ(), env...), args...)
}

// startEnv starts name in dir with environ as its whole environment.
func startEnv(dir, name string, environ []string, args ...string) (*proc, error) {
	p := &proc{out: &bytes.Buffer{}}
	p.cmd = exec.Command(name, args...)
	p.cmd.Dir = dir
	p.cmd.Env = environ
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return p, nil
}

// stop ends the process with SIGTERM (SIGKILL after 10s) and waits.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers (any status) or 30s pass.
func waitHTTP(url string, p *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if p != nil && p.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	log := ""
	if p != nil {
		log = p.Log()
	}
	return fmt.Errorf("%s does not answer after 30s\n%s", url, log)
}

func waitTCP(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections after 30s", addr)
}

// healthd starts bin serve with config and waits for /ping.
func startHealthd(bin, config string, env ...string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := startEnv("", bin, healthdEnviron(env...), "serve", "--config", config, "--listen", addr)
	if err != nil {
		return nil, "", err
	}
	if err := waitHTTP("http://"+addr+"/ping", p); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// healthdEnviron is the environment every healthd the harness starts gets:
// the harness's own without the AWS SDK's variables, then extra. The s3
// check of the bench takes its endpoint, region and keys from the config,
// and a machine's AWS settings must not change what is measured (this one
// sets AWS_CA_BUNDLE to the system bundle, and the SDK then parses its 140
// root certificates into healthd's heap, for an http:// endpoint).
func healthdEnviron(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// rss returns pid's resident memory in bytes (VmRSS).
func rss(pid int) int64 { return statusBytes(pid, "VmRSS:") }

// statusBytes reads a "<field> N kB" line of /proc/<pid>/status (VmRSS,
// RssAnon, RssFile), or 0.
func statusBytes(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// memPeak is the most memory a process held while sampled. Anon (RssAnon:
// heap, goroutine stacks, runtime metadata) is what the process costs on
// its own and what the memory target compares; RSS (VmRSS) adds the
// binary's clean file pages, which the kernel shares and can drop.
type memPeak struct{ anon, rss, file int64 }

// max is the larger of m and o, figure by figure (file goes with rss).
func (m memPeak) max(o memPeak) memPeak {
	m.anon = max(m.anon, o.anon)
	if o.rss > m.rss {
		m.rss, m.file = o.rss, o.file
	}
	return m
}

// memSampler records the peaks of pid's RssAnon and VmRSS every 50ms until
// stopped, each on its own, and RssFile at the VmRSS peak.
type memSampler struct {
	anon, rss, file atomic.Int64
	stop, done      chan struct{}
}

func sampleMemory(pid int) *memSampler {
	s := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v := statusBytes(pid, "RssAnon:"); v > s.anon.Load() {
				s.anon.Store(v)
			}
			if v := rss(pid); v > s.rss.Load() {
				s.rss.Store(v)
				s.file.Store(statusBytes(pid, "RssFile:"))
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *memSampler) Stop() memPeak {
	close(s.stop)
	<-s.done
	return memPeak{anon: s.anon.Load(), rss: s.rss.Load(), file: s.file.Load()}
}

// String is "15.2 MB anonymous (VmRSS 27.0 MB, of it 11.8 MB file-backed)".
func (m memPeak) String() string {
	return fmt.Sprintf("%s anonymous (VmRSS %s, of it %s file-backed)", mb(m.anon), mb(m.rss), mb(m.file))
}

// metric reads one unlabelled sample from a Prometheus text page.
func metric(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", url, name)
}

func psql(sql string) (string, error) {
	out, err := exec.Command("psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres", "-Atc", sql).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql %q: %v: %s", sql, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// xactCommit is pg_stat_database.xact_commit of db, after asking the
// server to flush its statistics.
func xactCommit(db string) (int64, error) {
	out, err := psql(fmt.Sprintf("SELECT xact_commit FROM pg_stat_database WHERE datname = '%s'", db))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(out, 10, 64)
}

func machine() string {
	model, mem := "?", "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	nproc, _ := exec.Command("nproc").Output()
	return fmt.Sprintf("%s CPUs (nproc), %s, %s RAM", strings.TrimSpace(string(nproc)), model, mem)
}

// repoRoot is the directory holding go.mod, from the working directory up.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// withTimeout runs f under a context that ends after d.
func withTimeout(d time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return f(ctx)
}
