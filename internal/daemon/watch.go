package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long the config file must be quiet before it is
// read: editors and the kubelet make several changes per save. A burst
// is applied at most watchMaxDelayFactor times that after its first event,
// however long the file keeps changing.
const (
	watchDebounce       = 200 * time.Millisecond
	watchMaxDelayFactor = 4
)

// debounce says when a burst of config events is applied: once the config
// has been quiet for quiet, and at most max after the burst's first event.
type debounce struct {
	quiet time.Duration
	max   time.Duration
}

// dirWatcher is the part of fsnotify.Watcher the watch loop uses, so that
// tests can feed it events by hand.
type dirWatcher interface {
	Add(dir string) error
	Remove(dir string) error
}

// Watch reloads the config when its file changes, until ctx ends; the
// returned channel is closed when the watcher has stopped. quiet is the
// debounce; a burst waits at most watchMaxDelayFactor times it.
//
// It watches directories, not the file: an editor's rename-over-write and a
// Kubernetes ConfigMap's ..data symlink swap replace the file rather than
// write to it, which a watch on the file itself would miss. Only events for
// the config path, each symlink its resolution passes through, and the file
// it ends at count (other files in those directories, such as healthd's own
// log, are ignored without a log line); after such an event the chain is
// resolved again, so the watch follows a retargeted symlink. Once the
// burst is applied the reloader reads the file and compares its content
// hash with the last one tried; only a changed content is reloaded.
func (rl *Reloader) Watch(ctx context.Context, quiet time.Duration) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch config: %w", err)
	}
	done, err := rl.watch(ctx, w, w.Events, w.Errors, debounce{quiet: quiet, max: watchMaxDelayFactor * quiet}, rl.reloadChanged)
	if err != nil {
		w.Close()
		return nil, err
	}
	go func() { <-done; w.Close() }()
	return done, nil
}

// reloadChanged reloads the file when its content changed (errors are
// logged by the reload).
func (rl *Reloader) reloadChanged() {
	if changed, err := rl.ReloadIfChanged(); changed && err == nil {
		rl.logger.Info("reloaded after the config file changed", "config", rl.path)
	}
}

// watch adds the watches and runs the event loop in a goroutine, calling
// apply when the config may have changed. Failing to watch the directory
// the config file is in is an error; the other directories of the chain are
// warned about.
func (rl *Reloader) watch(ctx context.Context, dw dirWatcher, events <-chan fsnotify.Event, errs <-chan error, d debounce, apply func()) (<-chan struct{}, error) {
	path, err := filepath.Abs(rl.path)
	if err != nil {
		return nil, fmt.Errorf("watch config: %w", err)
	}
	cw := &configWatch{path: path, dw: dw, logger: rl.logger, dirs: map[string]bool{}}
	cw.follow()
	if dir := filepath.Dir(cw.names[len(cw.names)-1]); !cw.dirs[dir] {
		return nil, fmt.Errorf("watch config directory %s: %w", dir, cw.addErr)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(d.quiet)
		t.Stop()
		defer t.Stop()
		var first time.Time // of the pending burst; zero when none is
		changed := func() {
			now := time.Now()
			if first.IsZero() {
				first = now
				rl.logger.Debug("config file changed", "config", rl.path)
			}
			t.Reset(min(d.quiet, first.Add(d.max).Sub(now)))
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				if cw.lost(ev) || cw.concerns(ev.Name) {
					cw.follow()
					changed()
				}
			case err, ok := <-errs:
				if !ok {
					return
				}
				if !errors.Is(err, fsnotify.ErrEventOverflow) {
					rl.logger.Warn("watching the config file", "config", rl.path, "err", err)
				}
				// Events may have been lost, perhaps the config's: look again.
				cw.follow()
				changed()
			case <-t.C:
				first = time.Time{}
				apply()
			}
		}
	}()
	return done, nil
}

// configWatch knows which paths concern the config and keeps their
// directories watched.
type configWatch struct {
	path   string // absolute
	dw     dirWatcher
	logger *slog.Logger
	names  []string        // the paths whose events concern the config
	dirs   map[string]bool // watched
	addErr error           // the last failure to watch a directory
}

func (cw *configWatch) concerns(name string) bool {
	return slices.Contains(cw.names, filepath.Clean(name))
}

// lost reports whether ev removed or moved a watched directory, whose
// watch the kernel has dropped: the directory is forgotten, and follow
// watches what stands at its path now (a directory replaced wholesale).
func (cw *configWatch) lost(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	if !cw.dirs[name] || !ev.Has(fsnotify.Remove|fsnotify.Rename) {
		return false
	}
	delete(cw.dirs, name)
	return true
}

// follow resolves the config path again and watches the directories of
// what it passes through, dropping the watches no longer needed (a
// ConfigMap's previous data directory).
func (cw *configWatch) follow() {
	cw.names = resolveChain(cw.path)
	want := map[string]bool{}
	for _, n := range cw.names {
		want[filepath.Dir(n)] = true
	}
	for dir := range want {
		if cw.dirs[dir] {
			continue
		}
		if err := cw.dw.Add(dir); err != nil {
			cw.addErr = err
			// Only on a config event or at start, never per unrelated event.
			cw.logger.Warn("cannot watch a directory of the config file's path", "dir", dir, "err", err)
			continue
		}
		cw.dirs[dir] = true
	}
	for dir := range cw.dirs {
		if !want[dir] {
			_ = cw.dw.Remove(dir) // fails when the directory is gone, which removed the watch
			delete(cw.dirs, dir)
		}
	}
}

// maxSymlinks bounds a resolution, as the kernel's ELOOP does.
const maxSymlinks = 40

// resolveChain follows the absolute path as the kernel does, component by
// component, and returns every symlink it passes through and the file it
// ends at (or the first component that is missing, so that its creation
// is seen), all as paths in their physical parent directory: those are the
// names inotify reports.
func resolveChain(path string) []string {
	var names []string
	pending := strings.Split(path, string(filepath.Separator))
	cur := string(filepath.Separator)
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return append(names, next)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		names = append(names, next)
		target, err := os.Readlink(next)
		if hops++; err != nil || hops > maxSymlinks {
			return names
		}
		if filepath.IsAbs(target) {
			cur = string(filepath.Separator)
		}
		pending = append(strings.Split(target, string(filepath.Separator)), pending...)
	}
	return append(names, cur)
}
