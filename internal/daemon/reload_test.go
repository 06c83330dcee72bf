package daemon_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/testsvc"
)

const listen = "server: {listen: '127.0.0.1:0'}\n"

type reloadResult struct {
	ok  bool
	err error
}

// serveFile starts the daemon on path and returns its URL, its logs and
// the outcome of each reload.
func serveFile(t *testing.T, path string, mod func(*daemon.Options)) (string, *testsvc.Buffer, chan reloadResult) {
	t.Helper()
	d := startDaemon(t, path, mod)
	return d.url, d.logs, d.reloads
}

func body(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/ht/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitReload(t *testing.T, reloads chan reloadResult, logs *testsvc.Buffer) reloadResult {
	t.Helper()
	select {
	case r := <-reloads:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("no reload happened\n%s", logs)
	}
	return reloadResult{}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReload_SIGHUPAppliesAValidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	write(t, path, listen+"checks: [{name: db, type: fake, fail: down}]\n")
	url, logs, reloads := serveFile(t, path, func(o *daemon.Options) { o.NoWatch = true })
	if got := body(t, url); got != `{"db": "unavailable: down"}` {
		t.Fatalf("before: %s", got)
	}
	write(t, path, listen+"checks: [{name: db, type: fake}, {name: cache, type: fake}]\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if r := waitReload(t, reloads, logs); !r.ok {
		t.Fatalf("reload failed: %v", r.err)
	}
	if got := body(t, url); got != `{"cache": "working", "db": "working"}` {
		t.Errorf("after: %s", got)
	}
	if !strings.Contains(logs.String(), "config reloaded") || !strings.Contains(logs.String(), "signal=hangup") {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestReload_InvalidConfigKeepsTheOldOneServingAndLogsEveryError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	write(t, path, listen+"checks: [{name: db, type: fake}]\n")
	url, logs, reloads := serveFile(t, path, func(o *daemon.Options) { o.NoWatch = true })
	write(t, path, listen+"checks:\n  - {name: db, type: fake, tiemout: 1s}\n  - {name: x, type: nope}\n")
	resp, err := http.Post(url+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), `"tiemout"`) || !strings.Contains(string(b), `"nope"`) {
		t.Errorf("POST /-/reload: %d %s", resp.StatusCode, b)
	}
	if r := waitReload(t, reloads, logs); r.ok || r.err == nil {
		t.Errorf("OnReload got %+v", r)
	}
	if got := body(t, url); got != `{"db": "working"}` {
		t.Errorf("the old config stopped serving: %s", got)
	}
	out := logs.String()
	for _, want := range []string{`key \"tiemout\": unknown key`, `unknown check type \"nope\"`, "reload failed: the running config is kept"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}

func TestReload_FileReplacedByRenameIsReloadedOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "healthd.yaml")
	first := listen + "checks: [{name: db, type: fake}]\n"
	write(t, path, first)
	url, logs, reloads := serveFile(t, path, nil)

	replace := func(content string) { // as vim and many editors save
		tmp := filepath.Join(dir, ".healthd.yaml.swp")
		write(t, tmp, content)
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace(first) // same content: not a reload
	select {
	case r := <-reloads:
		t.Fatalf("unchanged content reloaded: %+v", r)
	case <-time.After(600 * time.Millisecond):
	}
	replace(listen + "checks: [{name: db, type: fake, fail: gone}]\n")
	if r := waitReload(t, reloads, logs); !r.ok {
		t.Fatalf("reload failed: %v", r.err)
	}
	if got := body(t, url); got != `{"db": "unavailable: gone"}` {
		t.Errorf("after: %s", got)
	}
	select {
	case r := <-reloads:
		t.Errorf("one change reloaded twice: %+v", r)
	case <-time.After(400 * time.Millisecond):
	}
}

// A Kubernetes ConfigMap volume: healthd.yaml -> ..data/healthd.yaml,
// ..data -> ..2026_01; an update writes a new timestamped directory and
// renames a new ..data symlink over the old one.
func TestReload_ConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mkdata := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "healthd.yaml"), content)
	}
	mkdata("..2026_01", listen+"checks: [{name: db, type: fake}]\n")
	must(t, os.Symlink("..2026_01", filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/healthd.yaml", filepath.Join(dir, "healthd.yaml")))
	url, logs, reloads := serveFile(t, filepath.Join(dir, "healthd.yaml"), nil)

	mkdata("..2026_02", listen+"checks: [{name: db, type: fake}, {name: queue, type: fake, fail: full}]\n")
	must(t, os.Symlink("..2026_02", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	must(t, os.RemoveAll(filepath.Join(dir, "..2026_01")))

	if r := waitReload(t, reloads, logs); !r.ok {
		t.Fatalf("reload failed: %v", r.err)
	}
	if got := body(t, url); got != `{"db": "working", "queue": "unavailable: full"}` {
		t.Errorf("after: %s", got)
	}
}

func TestReload_ListenChangeNeedsARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	write(t, path, listen+"checks: [{name: db, type: fake}]\n")
	url, logs, reloads := serveFile(t, path, func(o *daemon.Options) { o.NoWatch = true })
	write(t, path, "server: {listen: '127.0.0.1:1'}\nchecks: [{name: db, type: fake, fail: x}]\n")
	resp, err := http.Post(url+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := waitReload(t, reloads, logs); !r.ok {
		t.Fatalf("reload failed: %v", r.err)
	}
	if got := body(t, url); got != `{"db": "unavailable: x"}` { // still on the old listener, new checks
		t.Errorf("after: %s", got)
	}
	if !strings.Contains(logs.String(), "server.listen changed; restart healthd to apply it") {
		t.Errorf("no restart warning:\n%s", logs)
	}
}

func TestReload_EndpointNeedsATokenWhenTokensAreSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	write(t, path, "server: {listen: '127.0.0.1:0', auth: {tokens: [reload-tok]}}\nchecks: [{name: db, type: fake}]\n")
	url, logs, reloads := serveFile(t, path, func(o *daemon.Options) { o.NoWatch = true })
	for _, c := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer nope", 401}, {"Bearer reload-tok", 200}} {
		req, _ := http.NewRequest("POST", url+"/-/reload", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%q: %d, want %d", c.auth, resp.StatusCode, c.code)
		}
	}
	if r := waitReload(t, reloads, logs); !r.ok {
		t.Errorf("reload: %v", r.err)
	}
	if strings.Contains(logs.String(), "reload-tok") {
		t.Errorf("the token was logged:\n%s", logs)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
