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

// Watch reloads the config when its file changes, until ctx ends; the
// returned channel is closed when the watcher has stopped. It watches the
// file's directory, not the file: an editor's rename-over-write and a
// Kubernetes ConfigMap's ..data symlink swap replace the file rather than
// write to it, which a watch on the file itself would miss. Any event in
// the directory, once quiet for the debounce, makes the reloader read the
// file and compare its content hash with the last one tried; only a changed
// content is reloaded.
func (rl *Reloader) Watch(ctx context.Context, debounce time.Duration) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch config: %w", err)
	}
	dir := filepath.Dir(rl.path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch config directory %s: %w", dir, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		t := time.NewTimer(debounce)
		t.Stop()
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				rl.logger.Debug("config directory changed", "file", ev.Name, "op", ev.Op.String())
				t.Reset(debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				rl.logger.Warn("watching the config directory", "dir", dir, "err", err)
			case <-t.C:
				if changed, err := rl.ReloadIfChanged(); changed && err == nil {
					rl.logger.Info("reloaded after the config file changed", "config", rl.path)
				}
			}
		}
	}()
	return done, nil
}
