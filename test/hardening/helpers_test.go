package hardening

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/testsvc"
)

// serve runs daemon.Serve on a free port with yaml and returns host:port.
func serve(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(path, []byte("server: {listen: '127.0.0.1:0'}\n"+yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &testsvc.Buffer{}
	go func() {
		done <- daemon.Serve(ctx, daemon.Options{ConfigPath: path, Registry: checkstest.Registry(), Version: "test",
			Stderr: logs, NoWatch: true, Ready: func(a string) { addr <- a }})
	}()
	select {
	case a := <-addr:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		return a
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return ""
}

// raw sends request bytes as they are on a new connection and reads the
// answer.
func raw(t *testing.T, addr, request string) (*http.Response, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testsvc.HangSlack)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testsvc.HangSlack))
	if _, err := c.Write([]byte(request)); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

// repoRoot is the directory holding go.mod, from the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// buildHealthd builds cmd/healthd into the test's temporary directory and
// returns the binary's path.
func buildHealthd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary: run without -short (make test)")
	}
	bin := filepath.Join(t.TempDir(), "healthd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/healthd")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
