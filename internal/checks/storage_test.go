package checks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func localDirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestStorage_WritesReadsAndLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	c := localNew(t, "storage", map[string]any{"path": dir}, Settings{})
	for i := 0; i < 20; i++ {
		r := localPasses(t, c)
		if want := "wrote, read back and deleted a file in " + dir; r.note != want {
			t.Fatalf("note = %q, want %q", r.note, want)
		}
	}
	if left := localDirEntries(t, dir); len(left) != 0 {
		t.Fatalf("files left behind: %v", left)
	}
}

func TestStorage_ConcurrentProbesPassAndLeaveNothingBehind(t *testing.T) {
	dir := t.TempDir()
	c := localNew(t, "storage", map[string]any{"path": dir}, Settings{})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := localRun(c); r.err != nil {
				t.Errorf("concurrent probe failed: %s", r.msg)
			}
		}()
	}
	wg.Wait()
	if left := localDirEntries(t, dir); len(left) != 0 {
		t.Fatalf("files left behind: %v", left)
	}
}

func TestStorage_MissingDirectoryFailsAndRecoversWhenCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mnt")
	// Not a config error: the directory may be mounted after healthd starts.
	c := localNew(t, "storage", map[string]any{"path": dir}, Settings{})
	r := localRun(c)
	if want := "unavailable: cannot write to " + dir + ": no such file or directory"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	localPasses(t, c)
}

func TestStorage_UnwritableDirectoryFails(t *testing.T) {
	// Tests run as root, which file modes do not stop; a path below a
	// regular file cannot be written by anyone.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "sub")
	r := localRun(localNew(t, "storage", map[string]any{"path": dir}, Settings{}))
	if want := "unavailable: cannot write to " + dir + ": not a directory"; r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
	if KindOf(r.err) != KindUnavailable {
		t.Errorf("kind = %v, want unavailable", KindOf(r.err))
	}
}

func TestStorage_FileSystemRefusingNewFilesFails(t *testing.T) {
	// sysfs refuses new files whoever asks (permission denied, or read-only
	// file system where it is mounted read-only).
	r := localRun(localNew(t, "storage", map[string]any{"path": "/sys"}, Settings{}))
	localWantPrefix(t, r, "unavailable: cannot write to /sys: ")
	t.Log(r.msg)
}

// A call blocked in the kernel (a hung NFS mount) must not hold Check past
// its deadline, and later probes must not pile up more blocked goroutines.
// The bubble's clock makes the timings exact.
func TestBlockingCall_ReturnsAtDeadlineAndRunsOneCallAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b blockingCall[int]
		release := make(chan struct{})
		var calls atomic.Int32
		fn := func() (int, error) {
			calls.Add(1)
			<-release
			return 42, nil
		}
		for i := 0; i < 3; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			start := time.Now()
			_, blocked, err := b.do(ctx, fn)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the deadline", err)
			}
			if d := time.Since(start); d != 50*time.Millisecond {
				t.Fatalf("returned after %v, want at the deadline, 50ms", d)
			}
			if want := time.Duration(i+1) * 50 * time.Millisecond; blocked != want {
				t.Errorf("probe %d: blocked = %v, want the time since the first call, %v", i, blocked, want)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d calls started while the first was blocked, want 1", n)
		}
		close(release)
		synctest.Wait() // the first call has returned and been cleared
		v, _, err := b.do(context.Background(), func() (int, error) { calls.Add(1); return 7, nil })
		if err != nil || v != 7 || calls.Load() != 2 {
			t.Fatalf("after release: v=%d err=%v calls=%d, want a fresh call giving 7", v, err, calls.Load())
		}
	})
}

func TestStorage_ConfigValidation(t *testing.T) {
	localConfigTable(t, "storage", []localConfigCase{
		{"absolute path", map[string]any{"path": "/var/lib/app/media"}, ""},
		{"relative path", map[string]any{"path": "media"}, ""},
		{"missing directory is not a config error", map[string]any{"path": "/no/such/dir"}, ""},
		{"no path", map[string]any{}, `key "path": is required`},
		{"empty path", map[string]any{"path": ""}, `key "path": must not be empty`},
		{"misspelled key", map[string]any{"path": "/x", "pth": "/y"}, `key "pth": unknown key (did you mean "path"?)`},
	})
}
