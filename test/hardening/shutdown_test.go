package hardening

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

const (
	drainDelay      = 1 * time.Second
	shutdownTimeout = 5 * time.Second
	slowAnswer      = 1500 * time.Millisecond // longer than the drain
)

type sample struct {
	sent   time.Time
	at     time.Time // when the answer (or the error) came
	status int
	err    error
}

// TestShutdown_SIGTERMUnderLoad builds the real binary, loads its readiness
// endpoint from four clients, starts a slow probe, and sends SIGTERM: for
// the drain delay the listener still accepts and readiness answers the
// failure status, the slow probe in flight completes, and the process exits
// 0 within the drain delay plus the shutdown timeout.
func TestShutdown_SIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	bin := buildHealthd(t)

	// The dependency turns slow only for the probe sent just before
	// SIGTERM (the warm-up run at start must not be the one it joins).
	// SIGTERM is sent once that probe's slow answer has begun, and the
	// process must not exit before the answer has been given.
	var slowNow atomic.Bool
	slowBegun := make(chan struct{})
	var slowEnded atomic.Pointer[time.Time]
	slowSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slowNow.CompareAndSwap(true, false) {
			close(slowBegun)
			time.Sleep(slowAnswer)
			defer func() { now := time.Now(); slowEnded.Store(&now) }()
		}
		fmt.Fprintln(w, "ok")
	})}
	slowAddr := listen(t, slowSrv)
	upAddr := listen(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})

	addr := fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))
	cfg := filepath.Join(t.TempDir(), "healthd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
  listen: %s
  failure_status: 503
  drain_delay: %s
  shutdown_timeout: %s
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: up, type: tcp, address: "%s", groups: [ready]}
  - {name: slow, type: http, url: "http://%s/", timeout: 3s, groups: [slow]}
`, addr, drainDelay, shutdownTimeout, upAddr, slowAddr)), 0o644)

	var stderr testsvc.Buffer
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	base := "http://" + addr
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/ping"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("healthd did not start:\n%s", stderr.String())
		}
	}

	// Load: four keep-alive clients polling readiness until the process is gone.
	var mu sync.Mutex
	var samples []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				resp, err := client.Get(base + "/ht/ready/?format=json")
				s := sample{sent: sent, at: time.Now(), err: err}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.status = resp.StatusCode
				} else {
					time.Sleep(10 * time.Millisecond)
				}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		}()
	}

	time.Sleep(300 * time.Millisecond)
	type answer struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan answer, 1)
	slowNow.Store(true)
	go func() {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/ht/slow/?format=json")
		if err != nil {
			inflight <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- answer{status: resp.StatusCode, body: string(b)}
	}()
	select {
	case <-slowBegun:
	case <-time.After(testsvc.HangSlack):
		t.Fatalf("the slow probe did not reach the dependency:\n%s", stderr.String())
	}
	sigterm := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)

	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(drainDelay + shutdownTimeout + testsvc.HangSlack):
		t.Fatalf("still running %s after SIGTERM:\n%s", time.Since(sigterm), stderr.String())
	}
	exitedAt := time.Now()
	took := exitedAt.Sub(sigterm)
	close(stop)
	wg.Wait()

	if exitErr != nil {
		t.Errorf("exit: %v, want status 0\n%s", exitErr, stderr.String())
	}
	if ended := slowEnded.Load(); ended == nil || exitedAt.Before(*ended) {
		t.Errorf("exited %s after SIGTERM, before the probe in flight could finish", took)
	}
	testsvc.NotHung(t, "the exit after SIGTERM", took, drainDelay+shutdownTimeout)
	a := <-inflight
	if a.err != nil || (a.status != 200 && a.status != 503) || !strings.Contains(a.body, `"slow"`) {
		t.Errorf("the probe in flight at SIGTERM: status %d, err %v, body %q; want it to complete", a.status, a.err, a.body)
	}

	// The drain begins when healthd has handled SIGTERM, however late a
	// busy machine lets it, and lasts drainDelay: a request sent after the
	// first failure status came back and answered before sigterm +
	// drainDelay was made during the drain.
	drainSeen := exitedAt
	for _, s := range samples {
		if s.err == nil && s.status == 503 && s.at.Before(drainSeen) {
			drainSeen = s.at
		}
	}
	var before, draining, drainErrs, after int
	for _, s := range samples {
		switch {
		case s.at.Before(sigterm):
			before++
			if s.err != nil || s.status != 200 {
				t.Errorf("before SIGTERM: status %d, err %v", s.status, s.err)
			}
		case s.sent.After(drainSeen) && s.at.Before(sigterm.Add(drainDelay)):
			draining++
			if s.err != nil {
				drainErrs++
				t.Errorf("during the drain (%s after SIGTERM): %v; the listener must still accept", s.at.Sub(sigterm), s.err)
			} else if s.status != 503 {
				t.Errorf("during the drain (%s after SIGTERM): status %d, want the failure status 503", s.at.Sub(sigterm), s.status)
			}
		default:
			after++
		}
	}
	t.Logf("in-flight probe answered %d: %s", a.status, a.body)
	t.Logf("exit after %s; in-flight probe: %d; readiness answers: %d before SIGTERM, %d during the drain (all 503), %d around its edges or after",
		took.Round(time.Millisecond), a.status, before, draining, after)
	if before == 0 || draining == 0 {
		t.Errorf("the load loop did not cover both phases (%d before, %d draining)", before, draining)
	}
	if !strings.Contains(stderr.String(), "healthd stopped") {
		t.Errorf("no clean stop in the log:\n%s", stderr.String())
	}
}

// listen serves hs on a loopback port until the test ends.
func listen(t *testing.T, hs *http.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	return l.Addr().String()
}
