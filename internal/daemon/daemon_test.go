package daemon_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/testsvc"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// daemonUnderTest is a daemon serving in the background until stop or the
// end of the test.
type daemonUnderTest struct {
	url     string
	logs    *testsvc.Buffer
	reloads chan reloadResult // the outcome of each reload
	stop    func() error      // cancels Serve and returns its error
}

// startDaemon serves the config file at path and waits until it listens;
// mod adjusts the options first.
func startDaemon(t *testing.T, path string, mod func(*daemon.Options)) *daemonUnderTest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	d := &daemonUnderTest{logs: &testsvc.Buffer{}, reloads: make(chan reloadResult, 10)}
	done := make(chan error, 1)
	opts := daemon.Options{
		ConfigPath: path, Registry: checkstest.Registry(), Version: "test", Stderr: d.logs,
		Ready:    func(a string) { addr <- a },
		OnReload: func(ok bool, err error) { d.reloads <- reloadResult{ok, err} },
	}
	if mod != nil {
		mod(&opts)
	}
	go func() { done <- daemon.Serve(ctx, opts) }()
	d.stop = sync.OnceValue(func() error { cancel(); return <-done })
	select {
	case a := <-addr:
		d.url = "http://" + a
		t.Cleanup(func() {
			if err := d.stop(); err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		return d
	case err := <-done:
		cancel()
		t.Fatalf("serve failed: %v\n%s", err, d.logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return nil
}

// serve starts the daemon with yaml on a free port and returns its base
// URL, a function that stops it and returns Serve's error, and its logs.
func serve(t *testing.T, yaml string) (string, func() error, *testsvc.Buffer) {
	t.Helper()
	d := startDaemon(t, writeConfig(t, "server: {listen: '127.0.0.1:0'}\n"+yaml), nil)
	return d.url, d.stop, d.logs
}

func TestServe_ServesAndStopsGracefully(t *testing.T) {
	url, stop, logs := serve(t, "checks: [{name: db, type: fake}]\n")
	resp, err := http.Get(url + "/ht/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"db": "working"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if !strings.Contains(logs.String(), "healthd started") || !strings.Contains(logs.String(), "healthd stopped") {
		t.Errorf("logs lack the start and stop lines:\n%s", logs)
	}
}

func TestServe_InFlightRequestFinishesOnShutdown(t *testing.T) {
	// The check reads its result from a FIFO, so each run waits until the
	// test opens the FIFO: the test knows when a run is in progress and
	// decides when it ends, with no sleeps.
	fifo := filepath.Join(t.TempDir(), "result")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	url, stop, _ := serve(t, "defaults: {cache_ttl: 0s, max_stale: 0s}\nchecks: [{name: slow, type: fake, result_file: "+fifo+"}]\n")
	awaitRun(t, fifo).Close() // the warm-up run
	awaitRunEnd(t, fifo)
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get(url + "/ht/?format=json")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	run := awaitRun(t, fifo) // the request's run, in progress
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutdown has begun once the listener refuses connections.
	host := strings.TrimPrefix(url, "http://")
	for deadline := time.Now().Add(testsvc.HangSlack); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still listening after stop")
		}
	}
	run.Close() // the run ends: it passes
	if err := <-stopped; err != nil {
		t.Fatalf("serve: %v", err)
	}
	// The request was in flight when shutdown began; it completes. During
	// the drain, /ht/ answers the failure status.
	if code := <-got; code != 200 && code != 500 {
		t.Errorf("in-flight request got %d", code)
	}
}

// awaitRunEnd waits until no run reads the FIFO at path any more.
func awaitRunEnd(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(testsvc.HangSlack); ; time.Sleep(time.Millisecond) {
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if errors.Is(err, syscall.ENXIO) {
			return
		}
		if err == nil {
			f.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("a run still reads %s: %v", path, err)
		}
	}
}

// awaitRun waits until a run of a fake check opens its result_file, the
// FIFO at path, and returns the FIFO's write end: closing it ends the run
// (passing).
func awaitRun(t *testing.T, path string) *os.File {
	t.Helper()
	for deadline := time.Now().Add(testsvc.HangSlack); ; time.Sleep(time.Millisecond) {
		// Without a reader, a non-blocking open for writing fails (ENXIO).
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run of the check read %s: %v", path, err)
		}
	}
}

func TestServe_RefusesToStartOnBadConfig(t *testing.T) {
	logs := &testsvc.Buffer{}
	path := writeConfig(t, "checks:\n  - name: db\n    type: fake\n    tiemout: 1s\n")
	err := daemon.Serve(context.Background(), daemon.Options{ConfigPath: path, Registry: checkstest.Registry(), Stderr: logs})
	var ce *daemon.ConfigError
	if err == nil || !errorsAs(err, &ce) {
		t.Fatalf("want a config error, got %v", err)
	}
	if want := path + `:4: check "db": key "tiemout": unknown key (did you mean "timeout"?)`; err.Error() != want {
		t.Errorf("got %q\nwant %q", err.Error(), want)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestDiskThresholds is the seed's DISK_USAGE_MAX: 1 makes /ht/ fail with the
// disk warning; null disables the threshold.
func TestDiskThresholds(t *testing.T) {
	for _, c := range []struct {
		max  string
		code int
	}{{"1", 500}, {"null", 200}} {
		ctx, cancel := context.WithCancel(context.Background())
		addr := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- daemon.Serve(ctx, daemon.Options{
				ConfigPath: writeConfig(t, "server: {listen: '127.0.0.1:0'}\nhealth_check: {DISK_USAGE_MAX: "+c.max+"}\nchecks: [{name: disk, type: disk, path: /}]\n"),
				Stderr:     io.Discard, Ready: func(a string) { addr <- a },
			})
		}()
		var base string
		select {
		case a := <-addr:
			base = "http://" + a
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}
		resp, err := http.Get(base + "/ht/?format=json")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		<-done
		if resp.StatusCode != c.code {
			t.Errorf("DISK_USAGE_MAX %s: status %d, want %d: %s", c.max, resp.StatusCode, c.code, body)
		}
		if c.code == 500 && !strings.Contains(string(body), `"disk": "warning: `) || !strings.Contains(string(body), "disk usage exceeds 1%") && c.code == 500 {
			t.Errorf("DISK_USAGE_MAX %s: body %s", c.max, body)
		}
		if c.code == 200 && string(body) != `{"disk": "working"}` {
			t.Errorf("DISK_USAGE_MAX null: body %s", body)
		}
	}
}

// TestFullExampleConfigValidates keeps configs/healthd-full.yaml, the example
// with every check type and key, loadable: validating it needs no server.
func TestFullExampleConfigValidates(t *testing.T) {
	t.Setenv("HEALTHD_TOKEN", "example-token")
	cfg, err := daemon.Load(daemon.Options{ConfigPath: "../../configs/healthd-full.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, c := range cfg.Checks {
		types[c.Type] = true
	}
	for _, name := range checks.Builtin().Names() {
		if !types[name] {
			t.Errorf("configs/healthd-full.yaml has no %s check", name)
		}
	}
}

// TestServe_RemovedConfigKeyIsLoggedAndServes: a config written for 0.3
// that sets server.release_startup_pages still starts; the log where the
// operator looks says the key was removed.
func TestServe_RemovedConfigKeyIsLoggedAndServes(t *testing.T) {
	d := startDaemon(t, writeConfig(t, "server: {listen: '127.0.0.1:0', release_startup_pages: true}\nchecks: [{name: quick, type: fake}]\n"), nil)
	resp, err := http.Get(d.url + "/ht/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/ht/: %d", resp.StatusCode)
	}
	if out := d.logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "removed config key") {
		t.Errorf("no warning about the removed key in the log:\n%s", out)
	}
}

// TestServe_StopsWithoutWaitingForAStartupRunInFlight: shutdown cancels a
// check still on its first run instead of waiting out its timeout. The run
// would last longer than testsvc.HangSlack: a stop that waited for it
// would be caught hanging.
func TestServe_StopsWithoutWaitingForAStartupRunInFlight(t *testing.T) {
	_, stop, _ := serve(t, "checks: [{name: slow, type: fake, sleep: 1m, timeout: 2m}]\n")
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	testsvc.NotHung(t, "stop", time.Since(start), 0)
}
