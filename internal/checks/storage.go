package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Storage proves a directory can be written, read back and cleaned up, as
// the seed's storage check does with Django's default storage: each probe
// writes a uniquely named file, reads it back, compares, deletes it and
// makes sure it is gone. A directory that is missing or read-only fails the
// check; it is not a configuration error, since it may be mounted later.
type Storage struct {
	dir     string
	timeout time.Duration
	io      blockingCall[struct{}]
}

type storageConfig struct {
	Path string `key:"path" required:"true" doc:"the directory to test; a relative path is relative to healthd's working directory"`
}

func newStorageConfig(Settings) Config { return &storageConfig{} }

// Validate has nothing to add to the keys' own checks: a directory that is
// missing now may be mounted later, so it fails probes, not the config.
func (c *storageConfig) Validate() error { return nil }

func (c *storageConfig) Build(env Env) (Checker, error) {
	return &Storage{dir: filepath.Clean(c.Path), timeout: env.Timeout}, nil
}

// Check writes, reads, compares and deletes one file. The file I/O runs
// off the caller's goroutine (a hung network mount blocks in the kernel),
// checks ctx between steps, and removes the file on every way out.
func (s *Storage) Check(ctx context.Context) error {
	_, blocked, err := s.io.do(ctx, func() (struct{}, error) {
		return struct{}{}, s.probe(ctx)
	})
	if isCtxErr(err) {
		return stuckFailure(ctx, s.timeout, s.dir, "file I/O", blocked)
	}
	if err != nil {
		return err
	}
	Note(ctx, "wrote, read back and deleted a file in %s", s.dir)
	return nil
}

func (s *Storage) probe(ctx context.Context) error {
	token := make([]byte, 16)
	rand.Read(token) // never fails
	name := filepath.Join(s.dir, ".healthd-"+hex.EncodeToString(token)+".tmp")
	content := fmt.Appendf(nil, "written by the healthd storage check at %s, %x\n",
		time.Now().UTC().Format(time.RFC3339Nano), token)

	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Unavailable("cannot write to %s: %s", s.dir, errnoText(err))
	}
	removed := false
	defer func() {
		if !removed {
			os.Remove(name)
		}
	}()
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync() // a write error of the device shows here, not in Write
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Unavailable("cannot write to %s: %s", s.dir, errnoText(err))
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	got, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Unavailable("file does not exist after writing it (%s)", s.dir)
		}
		return Unavailable("cannot read back from %s: %s", s.dir, errnoText(err))
	}
	if !bytes.Equal(got, content) {
		return Unavailable("file content does not match (%s)", s.dir)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if err := os.Remove(name); err != nil {
		return Unavailable("cannot delete from %s: %s", s.dir, errnoText(err))
	}
	removed = true
	if _, err := os.Lstat(name); !errors.Is(err, fs.ErrNotExist) {
		return Unavailable("file was not deleted (%s)", s.dir)
	}
	return nil
}
