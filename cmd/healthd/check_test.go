package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/daemon"
)

func TestCheck_ExitCodes(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want int
	}{
		{"healthy", "checks: [{name: a, type: fake}]", daemon.ExitOK},
		{"critical fails", "checks: [{name: a, type: fake, fail: down}]", daemon.ExitFailed},
		{"non-critical fails", "checks: [{name: a, type: fake, fail: down, critical: false}]", daemon.ExitOK},
		{"bad config", "checks: [{name: a, type: nope}]", daemon.ExitConfig},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := runCheck(context.Background(), checkOptions{
			Options: daemon.Options{ConfigPath: writeFile(t, c.yaml), Registry: checkstest.Registry(), Stderr: &errb},
			Stdout:  &out,
		})
		if code != c.want {
			t.Errorf("%s: exit %d, want %d\n%s%s", c.name, code, c.want, out.String(), errb.String())
		}
		if c.want != daemon.ExitConfig && !strings.HasPrefix(out.String(), "a") {
			t.Errorf("%s: output lacks the check line: %q", c.name, out.String())
		}
	}
}

// TestCheck_URLMode asks an HTTP server answering as healthd does.
func TestCheck_URLMode(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" {
			t.Errorf("Accept: %q", r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"db": "unavailable: down"}`))
	}))
	defer ts.Close()
	var out, errb bytes.Buffer
	code := runCheck(context.Background(), checkOptions{URL: ts.URL + "/ht/", Stdout: &out, Options: daemon.Options{Stderr: &errb}})
	if code != daemon.ExitFailed || !strings.Contains(out.String(), "db\tunavailable: down") {
		t.Errorf("exit %d: %q %q", code, out.String(), errb.String())
	}
	code = runCheck(context.Background(), checkOptions{URL: "http://127.0.0.1:1/ht/", Stdout: &out, Options: daemon.Options{Stderr: &errb}})
	if code != daemon.ExitFailed {
		t.Errorf("refused: exit %d, want 1 (Docker reserves 2)", code)
	}
}

// TestDefaultConfig_CheckExitsZero runs the shipped configs/healthd.yaml with
// the built-in check types: it must work on any machine.
func TestDefaultConfig_CheckExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	code := runCheck(context.Background(), checkOptions{
		Options: daemon.Options{ConfigPath: "../../configs/healthd.yaml", Stderr: &errb},
		Stdout:  &out,
	})
	if code != daemon.ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, name := range []string{"disk", "memory", "storage"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("output lacks %s: %s", name, out.String())
		}
	}
}
