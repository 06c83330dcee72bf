package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

// fakeDirs stands in for fsnotify: the test sends the events, and the
// directories the loop watches are recorded.
type fakeDirs struct {
	mu      sync.Mutex
	watched map[string]bool
}

func (f *fakeDirs) Add(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched[dir] = true
	return nil
}

func (f *fakeDirs) Remove(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.watched, dir)
	return nil
}

func (f *fakeDirs) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var l []string
	for d := range f.watched {
		l = append(l, d)
	}
	slices.Sort(l)
	return l
}

// fakeWatch runs the watch loop on path inside a synctest bubble with the
// house timing (200 ms quiet, 800 ms at most). Each apply is recorded as
// the time since the start.
type fakeWatch struct {
	dirs    *fakeDirs
	events  chan fsnotify.Event
	start   time.Time
	applied []time.Duration
	logs    bytes.Buffer
	stop    func()
}

func startFakeWatch(t *testing.T, path string) *fakeWatch {
	t.Helper()
	fw := &fakeWatch{dirs: &fakeDirs{watched: map[string]bool{}}, events: make(chan fsnotify.Event), start: time.Now()}
	rl := &Reloader{path: path, logger: slog.New(slog.NewTextHandler(&fw.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithCancel(t.Context())
	done, err := rl.watch(ctx, fw.dirs, fw.events, make(chan error), debounce{quiet: 200 * time.Millisecond, max: 800 * time.Millisecond},
		func() { fw.applied = append(fw.applied, time.Since(fw.start)) })
	if err != nil {
		t.Fatal(err)
	}
	fw.stop = func() { cancel(); <-done }
	return fw
}

// send delivers an event for name every period from now until end.
func (fw *fakeWatch) sendEvery(name string, op fsnotify.Op, period, end time.Duration) {
	go func() {
		for time.Since(fw.start) < end {
			fw.events <- fsnotify.Event{Name: name, Op: op}
			time.Sleep(period)
		}
	}()
}

func ms(l ...int) []time.Duration {
	var d []time.Duration
	for _, v := range l {
		d = append(d, time.Duration(v)*time.Millisecond)
	}
	return d
}

func configIn(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "healthd.yaml")
	if err := os.WriteFile(path, []byte("checks: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestWatch_BurstOfConfigEventsIsAppliedOnceAfterTheQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, path := configIn(t)
		fw := startFakeWatch(t, path)
		fw.sendEvery(path, fsnotify.Write, 50*time.Millisecond, 101*time.Millisecond) // at 0, 50, 100 ms
		time.Sleep(3 * time.Second)
		fw.stop()
		if want := ms(300); !slices.Equal(fw.applied, want) {
			t.Errorf("applied at %v, want %v", fw.applied, want)
		}
	})
}

// Another file written every 100 ms neither delays a change of the config
// nor writes a log line.
func TestWatch_BusyDirectoryFeedsNoDebounceAndNoLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir, path := configIn(t)
		fw := startFakeWatch(t, path)
		fw.sendEvery(filepath.Join(dir, "busy.log"), fsnotify.Write, 100*time.Millisecond, 5*time.Second)
		time.Sleep(1010 * time.Millisecond)
		fw.events <- fsnotify.Event{Name: path, Op: fsnotify.Write}
		time.Sleep(5 * time.Second)
		fw.stop()
		if want := ms(1210); !slices.Equal(fw.applied, want) {
			t.Errorf("applied at %v, want %v", fw.applied, want)
		}
		if strings.Contains(fw.logs.String(), "busy.log") {
			t.Errorf("an unrelated file was logged:\n%s", fw.logs.String())
		}
	})
}

// A config file written without a pause is still applied at most 800 ms
// after the first event of each burst.
func TestWatch_DebounceHasAMaximumDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, path := configIn(t)
		fw := startFakeWatch(t, path)
		// Events at 0, 70, …, 2940 ms. Bursts start at 0, 840 and 1680 ms
		// (the first event after each apply); the last ends 200 ms after
		// the last event, before its maximum.
		fw.sendEvery(path, fsnotify.Write, 70*time.Millisecond, 3*time.Second)
		time.Sleep(5 * time.Second)
		fw.stop()
		if want := ms(800, 1640, 2480, 3140); !slices.Equal(fw.applied, want) {
			t.Errorf("applied at %v, want %v", fw.applied, want)
		}
	})
}

// A ConfigMap volume: healthd.yaml -> ..data/healthd.yaml, ..data ->
// ..2026_01. The links and the file count, other keys do not; a swap of
// ..data moves the watch to the new data directory.
func TestWatch_FollowsTheSymlinkChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		mk := func(name string) {
			if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"healthd.yaml", "other-key"} {
				if err := os.WriteFile(filepath.Join(dir, name, f), []byte(name), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		mk("..2026_01")
		mk("..2026_02")
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(os.Symlink("..2026_01", filepath.Join(dir, "..data")))
		path := filepath.Join(dir, "healthd.yaml")
		must(os.Symlink("..data/healthd.yaml", path))

		fw := startFakeWatch(t, path)
		if got, want := fw.dirs.list(), []string{dir, filepath.Join(dir, "..2026_01")}; !slices.Equal(got, want) {
			t.Errorf("watching %v, want %v", got, want)
		}
		step := func(name string, op fsnotify.Op) {
			fw.events <- fsnotify.Event{Name: filepath.Join(dir, name), Op: op}
			time.Sleep(time.Second)
		}
		step("..2026_01/other-key", fsnotify.Write)    // another key: nothing
		step("..2026_01/healthd.yaml", fsnotify.Write) // 1 s: applied at 1.2 s
		step("..data_tmp", fsnotify.Create)            // the swap's new link: nothing yet
		must(os.Symlink("..2026_02", filepath.Join(dir, "..data_tmp")))
		must(os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		step("..data", fsnotify.Create) // 3 s: applied at 3.2 s
		if got, want := fw.dirs.list(), []string{dir, filepath.Join(dir, "..2026_02")}; !slices.Equal(got, want) {
			t.Errorf("after the swap, watching %v, want %v", got, want)
		}
		step("..2026_01/healthd.yaml", fsnotify.Remove) // the old data: nothing
		step("..2026_02/healthd.yaml", fsnotify.Chmod)  // 5 s: applied at 5.2 s
		fw.stop()
		if want := ms(1200, 3200, 5200); !slices.Equal(fw.applied, want) {
			t.Errorf("applied at %v, want %v", fw.applied, want)
		}
	})
}
