package config_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
)

// TestServer_RemovedReleaseStartupPagesWarnsAndIsIgnored: a config written
// for 0.3 sets server.release_startup_pages (healthd-full.yaml did). It
// still loads, and the log says, with the file and line, that the key was
// removed and should be deleted.
func TestServer_RemovedReleaseStartupPagesWarnsAndIsIgnored(t *testing.T) {
	for _, v := range []string{"true", "false"} {
		var logs bytes.Buffer
		yaml := "server:\n  listen: ':8000'\n  release_startup_pages: " + v + "\nchecks: [{name: a, type: fake}]\n"
		cfg, err := config.Parse("old.yaml", []byte(yaml), config.Options{
			Registry: checkstest.Registry(),
			Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		})
		if err != nil {
			t.Fatalf("release_startup_pages: %s: a removed key should warn, not fail: %v", v, err)
		}
		_ = cfg
		out := logs.String()
		for _, want := range []string{"level=WARN", "removed config key", "key=server.release_startup_pages", "file=old.yaml", "line=3"} {
			if !strings.Contains(out, want) {
				t.Errorf("release_startup_pages: %s: log lacks %q:\n%s", v, want, out)
			}
		}
	}
}

// TestServer_NoWarningWithoutTheRemovedKey: the warning is about the key,
// not logged for every config.
func TestServer_NoWarningWithoutTheRemovedKey(t *testing.T) {
	var logs bytes.Buffer
	cfg, err := config.Parse("new.yaml", []byte("checks: [{name: a, type: fake}]\n"), config.Options{
		Registry: checkstest.Registry(),
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = cfg
	if strings.Contains(logs.String(), "removed") {
		t.Errorf("warned without the key:\n%s", logs.String())
	}
}
