package checks_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
)

func dirEntries(t *testing.T, dir string) []string {
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
	c := checkstest.New(t, "storage", map[string]any{"path": dir}, checkstest.Options{})
	for range 20 {
		r := c.Passes(t)
		if want := "wrote, read back and deleted a file in " + dir; r.Note != want {
			t.Fatalf("note = %q, want %q", r.Note, want)
		}
	}
	if left := dirEntries(t, dir); len(left) != 0 {
		t.Fatalf("files left behind: %v", left)
	}
}

func TestStorage_ConcurrentProbesPassAndLeaveNothingBehind(t *testing.T) {
	dir := t.TempDir()
	c := checkstest.New(t, "storage", map[string]any{"path": dir}, checkstest.Options{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if r := c.Run(); r.Err != nil {
				t.Errorf("concurrent probe failed: %s", r.Message)
			}
		})
	}
	wg.Wait()
	if left := dirEntries(t, dir); len(left) != 0 {
		t.Fatalf("files left behind: %v", left)
	}
}

func TestStorage_MissingDirectoryFailsAndRecoversWhenCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mnt")
	// Not a config error: the directory may be mounted after healthd starts.
	c := checkstest.New(t, "storage", map[string]any{"path": dir}, checkstest.Options{})
	c.FailsWith(t, "unavailable: cannot write to "+dir+": no such file or directory")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.Passes(t)
}

func TestStorage_UnwritableDirectoryFails(t *testing.T) {
	// Tests run as root, which file modes do not stop; a path below a
	// regular file cannot be written by anyone.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "sub")
	r := checkstest.New(t, "storage", map[string]any{"path": dir}, checkstest.Options{}).FailsWith(t, "unavailable: cannot write to "+dir+": not a directory")
	if checks.KindOf(r.Err) != checks.KindUnavailable {
		t.Errorf("kind = %v, want unavailable", checks.KindOf(r.Err))
	}
}

func TestStorage_FileSystemRefusingNewFilesFails(t *testing.T) {
	// sysfs refuses new files whoever asks (permission denied, or read-only
	// file system where it is mounted read-only).
	r := checkstest.New(t, "storage", map[string]any{"path": "/sys"}, checkstest.Options{}).Fails(t, "unavailable: cannot write to /sys: ")
	t.Log(r.Message)
}

func TestStorage_ConfigValidation(t *testing.T) {
	checkstest.ConfigTable(t, "storage", []checkstest.ConfigCase{
		{Name: "absolute path", Keys: map[string]any{"path": "/var/lib/app/media"}},
		{Name: "relative path", Keys: map[string]any{"path": "media"}},
		{Name: "missing directory is not a config error", Keys: map[string]any{"path": "/no/such/dir"}},
		{Name: "no path", Keys: map[string]any{}, Want: `key "path": is required`},
		{Name: "empty path", Keys: map[string]any{"path": ""}, Want: `key "path": must not be empty`},
		{Name: "misspelled key", Keys: map[string]any{"path": "/x", "pth": "/y"}, Want: `key "pth": unknown key (did you mean "path"?)`},
	})
}
