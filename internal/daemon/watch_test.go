package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/daemon"
)

// waitServed waits, through any number of reloads, until the daemon
// answers want; it proves the change was picked up, not how fast.
func waitServed(t *testing.T, url string, reloads chan reloadResult, logs fmt.Stringer, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-reloads:
			if got := body(t, url); got == want {
				return
			}
		case <-deadline:
			t.Fatalf("the change was not served within 10 s: %s, want %s\n%s", body(t, url), want, logs)
		}
	}
}

// The daemon's stderr is a file in the config's directory, at debug level:
// its own log writes are directory events, which must neither be logged
// (a line per write would feed itself forever) nor delay reloads.
func TestWatch_DebugLogInTheConfigDirectoryDoesNotFeedItself(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "healthd.yaml")
	config := "server: {listen: '127.0.0.1:0', log_level: debug}\n"
	write(t, path, config+"checks: [{name: db, type: fake}]\n")
	logPath := filepath.Join(dir, "healthd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() }) // after the daemon stops
	readLog := func() string {
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	d := startDaemon(t, path, func(o *daemon.Options) { o.Stderr = logFile })

	for i := range 5 { // unrelated files in the directory
		write(t, filepath.Join(dir, fmt.Sprintf("unrelated-%d.txt", i)), "x")
	}
	time.Sleep(2 * time.Second)
	out := readLog()
	// A few start-up lines; the feedback loop wrote megabytes in this time.
	if len(out) > 8<<10 {
		t.Fatalf("the log grew to %d bytes in 2 s; it begins:\n%.2000s", len(out), out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "unrelated-") || strings.Contains(line, "healthd.log") {
			t.Errorf("an unrelated file was logged: %s", line)
		}
	}

	// The watcher still serves a change to the config.
	write(t, path, config+"checks: [{name: db, type: fake, fail: down}]\n")
	waitServed(t, d.url, d.reloads, stringer(readLog), `{"db": "unavailable: down"}`)
}

type stringer func() string

func (s stringer) String() string { return s() }

// Another file written every 100 ms used to reset the debounce forever.
func TestWatch_BusyDirectoryDoesNotPostponeAReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "healthd.yaml")
	write(t, path, listen+"checks: [{name: db, type: fake}]\n")
	url, logs, reloads := serveFile(t, path, nil)

	ctx, cancel := context.WithCancel(context.Background())
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				os.WriteFile(filepath.Join(dir, "busy.txt"), []byte(fmt.Sprint(i)), 0o644)
			}
		}
	}()
	defer func() { cancel(); <-busy }()
	time.Sleep(300 * time.Millisecond) // the writer is going

	write(t, path, listen+"checks: [{name: db, type: fake, fail: changed}]\n")
	waitServed(t, url, reloads, logs, `{"db": "unavailable: changed"}`)
}

// A removed config is a failed reload that keeps the running config; the
// file created again is reloaded.
func TestWatch_RemovedThenRecreatedConfigIsReloaded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "healthd.yaml")
	write(t, path, listen+"checks: [{name: db, type: fake}]\n")
	url, logs, reloads := serveFile(t, path, nil)

	must(t, os.Remove(path))
	if r := waitReload(t, reloads, logs); r.ok || r.err == nil || !strings.Contains(r.err.Error(), "cannot read config") {
		t.Fatalf("reload of a removed file: %+v", r)
	}
	if got := body(t, url); got != `{"db": "working"}` {
		t.Errorf("the running config stopped serving: %s", got)
	}
	write(t, path, listen+"checks: [{name: db, type: fake, fail: back}]\n")
	waitServed(t, url, reloads, logs, `{"db": "unavailable: back"}`)
}

// vim's default save: the file is renamed to a backup and a new one written.
func TestWatch_BackupRenameThenWriteIsReloaded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "healthd.yaml")
	write(t, path, listen+"checks: [{name: db, type: fake}]\n")
	url, logs, reloads := serveFile(t, path, nil)

	must(t, os.Rename(path, path+"~"))
	write(t, path, listen+"checks: [{name: db, type: fake, fail: saved}]\n")
	must(t, os.Remove(path+"~"))
	waitServed(t, url, reloads, logs, `{"db": "unavailable: saved"}`)
}

// healthd.yaml -> a.yaml is retargeted to b.yaml by renaming a new symlink
// over it; then b.yaml is edited in place.
func TestWatch_SymlinkRetargetedThenTargetEdited(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "healthd.yaml")
	write(t, filepath.Join(dir, "a.yaml"), listen+"checks: [{name: db, type: fake}]\n")
	write(t, filepath.Join(dir, "b.yaml"), listen+"checks: [{name: db, type: fake, fail: b}]\n")
	must(t, os.Symlink("a.yaml", path))
	url, logs, reloads := serveFile(t, path, nil)

	must(t, os.Symlink("b.yaml", filepath.Join(dir, "healthd.yaml.tmp")))
	must(t, os.Rename(filepath.Join(dir, "healthd.yaml.tmp"), path))
	waitServed(t, url, reloads, logs, `{"db": "unavailable: b"}`)
	write(t, filepath.Join(dir, "b.yaml"), listen+"checks: [{name: db, type: fake, fail: b2}]\n")
	waitServed(t, url, reloads, logs, `{"db": "unavailable: b2"}`)
}

// The config is a symlink into another directory, whose file is edited in
// place: the target's directory is watched too.
func TestWatch_SymlinkTargetInAnotherDirectoryEditedInPlace(t *testing.T) {
	target := filepath.Join(t.TempDir(), "real.yaml")
	write(t, target, listen+"checks: [{name: db, type: fake}]\n")
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	must(t, os.Symlink(target, path))
	url, logs, reloads := serveFile(t, path, nil)

	write(t, target, listen+"checks: [{name: db, type: fake, fail: edited}]\n")
	waitServed(t, url, reloads, logs, `{"db": "unavailable: edited"}`)
}

// Two ConfigMap updates in a row, the kubelet's way: after the first swap
// the watch follows the new data directory.
func TestWatch_ConfigMapSwappedTwice(t *testing.T) {
	dir := t.TempDir()
	swap := func(name, content string) {
		must(t, os.Mkdir(filepath.Join(dir, name), 0o755))
		write(t, filepath.Join(dir, name, "healthd.yaml"), content)
		write(t, filepath.Join(dir, name, "other-key"), "x")
		must(t, os.Symlink(name, filepath.Join(dir, "..data_tmp")))
		must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	}
	swap("..2026_01", listen+"checks: [{name: db, type: fake}]\n")
	must(t, os.Symlink("..data/healthd.yaml", filepath.Join(dir, "healthd.yaml")))
	url, logs, reloads := serveFile(t, filepath.Join(dir, "healthd.yaml"), nil)

	swap("..2026_02", listen+"checks: [{name: db, type: fake, fail: two}]\n")
	must(t, os.RemoveAll(filepath.Join(dir, "..2026_01")))
	waitServed(t, url, reloads, logs, `{"db": "unavailable: two"}`)
	swap("..2026_03", listen+"checks: [{name: db, type: fake, fail: three}]\n")
	must(t, os.RemoveAll(filepath.Join(dir, "..2026_02")))
	waitServed(t, url, reloads, logs, `{"db": "unavailable: three"}`)
}

// A release layout: --config current/healthd.yaml, where current is a
// symlink to a release directory that a deploy retargets.
func TestWatch_SymlinkedDirectoryInThePathRetargeted(t *testing.T) {
	dir := t.TempDir()
	for i, fail := range []string{"", ", fail: two"} {
		rel := filepath.Join(dir, "releases", fmt.Sprint(i+1))
		must(t, os.MkdirAll(rel, 0o755))
		write(t, filepath.Join(rel, "healthd.yaml"), listen+"checks: [{name: db, type: fake"+fail+"}]\n")
	}
	must(t, os.Symlink("releases/1", filepath.Join(dir, "current")))
	url, logs, reloads := serveFile(t, filepath.Join(dir, "current", "healthd.yaml"), nil)

	must(t, os.Symlink("releases/2", filepath.Join(dir, "current.new")))
	must(t, os.Rename(filepath.Join(dir, "current.new"), filepath.Join(dir, "current")))
	waitServed(t, url, reloads, logs, `{"db": "unavailable: two"}`)
}

// The config's directory is moved away and a new one put in its place: the
// watch moves to the new directory.
func TestWatch_ConfigDirectoryReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	must(t, os.Mkdir(dir, 0o755))
	path := filepath.Join(dir, "healthd.yaml")
	write(t, path, listen+"checks: [{name: db, type: fake}]\n")
	url, logs, reloads := serveFile(t, path, nil)

	must(t, os.Rename(dir, dir+".old"))
	must(t, os.Mkdir(dir, 0o755))
	write(t, path, listen+"checks: [{name: db, type: fake, fail: new}]\n")
	waitServed(t, url, reloads, logs, `{"db": "unavailable: new"}`)
	write(t, path, listen+"checks: [{name: db, type: fake, fail: edited}]\n")
	waitServed(t, url, reloads, logs, `{"db": "unavailable: edited"}`)
}
