package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long the config directory must be quiet before the
// file is read: editors and kubelet make several changes per save.
const watchDebounce = 200 * time.Millisecond

// debounce says when a burst of events is acted on.
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
// returned channel is closed when the watcher has stopped. It watches the
// file's directory, not the file: an editor's rename-over-write and a
// Kubernetes ConfigMap's ..data symlink swap replace the file rather than
// write to it, which a watch on the file itself would miss. Any event in
// the directory, once quiet for the debounce, makes the reloader read the
// file and compare its content hash with the last one tried; only a changed
// content is reloaded.
func (rl *Reloader) Watch(ctx context.Context, quiet time.Duration) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch config: %w", err)
	}
	done, err := rl.watch(ctx, w, w.Events, w.Errors, debounce{quiet: quiet}, rl.reloadChanged)
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
// apply when the config may have changed.
func (rl *Reloader) watch(ctx context.Context, dw dirWatcher, events <-chan fsnotify.Event, errs <-chan error, d debounce, apply func()) (<-chan struct{}, error) {
	dir := filepath.Dir(rl.path)
	if err := dw.Add(dir); err != nil {
		return nil, fmt.Errorf("watch config directory %s: %w", dir, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(d.quiet)
		t.Stop()
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				rl.logger.Debug("config directory changed", "file", ev.Name, "op", ev.Op.String())
				t.Reset(d.quiet)
			case err, ok := <-errs:
				if !ok {
					return
				}
				rl.logger.Warn("watching the config directory", "dir", dir, "err", err)
			case <-t.C:
				apply()
			}
		}
	}()
	return done, nil
}
