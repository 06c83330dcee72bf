package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthd/healthd"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A misspelt key makes validate exit 2 naming it, and serve refuses to
// start with the same message.
func TestMisspeltKey_ValidateAndServeRefuse(t *testing.T) {
	path := writeFile(t, "health_check:\n  DISK_USGAE_MAX: 90\nchecks:\n  - name: disk\n    type: disk\n")
	want := path + `:2: key "health_check.DISK_USGAE_MAX": unknown key (did you mean "DISK_USAGE_MAX"?)`

	code, _, stderr := runCLI(t, "validate", "--config", path)
	if code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("validate: exit %d, stderr %q\nwant exit 2 and %q", code, stderr, want)
	}
	code, _, stderr = runCLI(t, "serve", "--config", path, "--listen", "127.0.0.1:0")
	if code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("serve: exit %d, stderr %q\nwant exit 2 and %q", code, stderr, want)
	}
}

func TestValidate_DefaultConfig(t *testing.T) {
	code, out, stderr := runCLI(t, "validate", "--config", "../../configs/healthd.yaml")
	if code != 0 || !strings.Contains(out, "valid, 3 checks") {
		t.Errorf("exit %d: %q %q", code, out, stderr)
	}
}

func TestCheck_ExitStatus(t *testing.T) {
	code, out, _ := runCLI(t, "check", "--config", "../../configs/healthd.yaml")
	if code != 0 || !strings.Contains(out, "disk") {
		t.Errorf("default config: exit %d\n%s", code, out)
	}
	failing := writeFile(t, "checks:\n  - {name: db, type: tcp, address: '127.0.0.1:1', timeout: 500ms}\n")
	code, out, _ = runCLI(t, "check", "--config", failing)
	if code != 1 || !strings.Contains(out, "unavailable: connection refused") {
		t.Errorf("failing check: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "check", "--config", failing, "--format", "json")
	if code != 1 || !strings.Contains(out, `"status": "failing"`) {
		t.Errorf("json: exit %d\n%s", code, out)
	}
	if code, _, _ = runCLI(t, "check", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 2 {
		t.Errorf("missing config: exit %d, want 2", code)
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "healthd "+healthd.Version()) || healthd.Version() == "dev" {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
}

func TestConfigDefaultsToEnvironment(t *testing.T) {
	t.Setenv("HEALTHD_CONFIG", "../../configs/healthd.yaml")
	if code, out, stderr := runCLI(t, "validate"); code != 0 || !strings.Contains(out, "configs/healthd.yaml") {
		t.Errorf("HEALTHD_CONFIG: %d %q %q", code, out, stderr)
	}
}

func TestSchema_PrintsTheConfigSchema(t *testing.T) {
	code, out, errs := runCLI(t, "schema")
	if code != 0 || !strings.Contains(out, `"$schema": "https://json-schema.org/draft/2020-12/schema"`) || !strings.Contains(out, `"max_usage_percent"`) {
		t.Errorf("schema: %d %q %q", code, out[:min(len(out), 200)], errs)
	}
}
