package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/notify"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// receiver is a real local webhook endpoint that records what it gets.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []string
	headers []http.Header
	got     chan struct{}
}

func newReceiver(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{got: make(chan struct{}, 100)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(b))
		rc.headers = append(rc.headers, r.Header.Clone())
		rc.mu.Unlock()
		rc.got <- struct{}{}
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.bodies) }

func (rc *receiver) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-rc.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("receiver got %d requests, want %d", rc.count(), n)
		}
	}
}

func loadCfg(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// probe runs every check of r once and returns how long the probe took.
func probe(r *runner.Runner) time.Duration {
	start := time.Now()
	r.Run(context.Background(), r.Checks())
	return time.Since(start)
}

// hearing counts the runs the observers before it have heard of: a probe
// returns before the run's observers are told (runner.Observer), so a test
// that closes the webhooks waits first for them to hear every run.
type hearing struct{ n atomic.Int64 }

func (h *hearing) Observe(*runner.Check, *runner.Result, *runner.Result) { h.n.Add(1) }

func (h *hearing) wait(t *testing.T, runs int64) {
	t.Helper()
	for deadline := time.Now().Add(testsvc.HangSlack); h.n.Load() < runs; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the observers heard of %d runs, want %d", h.n.Load(), runs)
		}
	}
}

func TestNotify_JSONEventOnEachStateChangeOnly(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := loadCfg(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
notify:
  - url: `+rc.URL+`/hook
    headers: {Authorization: Bearer hook-token}
checks: [{name: db, type: fake, dsn: "postgres://app:pg-pass@db/app"}]
`)
	set := notify.New(cfg.Notify, notify.Options{Host: "web-1", Secrets: cfg.Secrets()})
	h := &hearing{}
	r := checkstest.NewRunner(t, cfg, runner.Options{Observers: []runner.Observer{set, h}})
	f := checkstest.FakeOf(r, cfg.Checks[0].Name)

	probe(r) // an initial pass: no notification
	f.SetFail("connection refused: password pg-pass rejected")
	probe(r)
	probe(r) // still failing: no notification
	f.SetFail("")
	probe(r)
	probe(r)
	h.wait(t, 5)
	set.Close(context.Background()) // delivers what is queued
	if n := rc.count(); n != 2 {
		t.Fatalf("receiver got %d requests, want 2 (down, up): %q", n, rc.bodies)
	}
	var down, up notify.Event
	json.Unmarshal([]byte(rc.bodies[0]), &down)
	json.Unmarshal([]byte(rc.bodies[1]), &up)
	if down.Check != "db" || down.Old != "passing" || down.New != "failing" || !down.Critical || down.Host != "web-1" ||
		down.Message != "unavailable: connection refused: password **** rejected" || time.Since(down.Time) > time.Minute {
		t.Errorf("down event: %+v", down)
	}
	if up.Old != "failing" || up.New != "passing" || up.Message != "" {
		t.Errorf("up event: %+v", up)
	}
	if strings.Contains(strings.Join(rc.bodies, ""), "pg-pass") {
		t.Errorf("a secret reached the webhook: %q", rc.bodies)
	}
	if h := rc.headers[0]; h.Get("Authorization") != "Bearer hook-token" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", h)
	}
}

func TestNotify_SlackFormatAndChecksFilter(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := loadCfg(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
notify: [{url: "`+rc.URL+`", format: slack, checks: [db]}]
checks:
  - {name: db, type: fake, fail: refused}
  - {name: cache, type: fake, fail: refused, critical: false}
`)
	set := notify.New(cfg.Notify, notify.Options{Host: "web-1"})
	h := &hearing{}
	r := checkstest.NewRunner(t, cfg, runner.Options{Observers: []runner.Observer{set, h}})
	probe(r) // both fail from the start: news, but only db is wanted
	h.wait(t, 2)
	set.Close(context.Background())
	if rc.count() != 1 || rc.bodies[0] != `{"text":"healthd on web-1: check db is failing (was unknown): unavailable: refused"}` {
		t.Errorf("got %q", rc.bodies)
	}
}

func TestNotify_RetriesAreBoundedWithBackoff(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadGateway) })
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	set := notify.New([]config.Notify{{URL: rc.URL + "/services/T0/SECRETPATH", Format: "json", Timeout: time.Second, Retries: 2,
		Secrets: []string{rc.URL + "/services/T0/SECRETPATH"}}}, notify.Options{Logger: logger, Backoff: 10 * time.Millisecond})
	set.Send(notify.Event{Check: "db", Old: "passing", New: "failing"})
	rc.wait(t, 3) // the first attempt and 2 retries
	set.Close(context.Background())
	time.Sleep(50 * time.Millisecond)
	if n := rc.count(); n != 3 {
		t.Errorf("receiver got %d attempts, want 3", n)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if !strings.Contains(out, "notification failed") || !strings.Contains(out, "attempts=3") || !strings.Contains(out, "502 Bad Gateway") {
		t.Errorf("log: %s", out)
	}
	if strings.Contains(out, "SECRETPATH") {
		t.Errorf("the webhook URL was logged: %s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A receiver that never answers must not delay a single probe: sends are
// queued, the queue is bounded (overflow is dropped), each request times
// out, and retries stop. The retry waits a minute, longer than
// testsvc.HangSlack, so a probe or a Close that waited for deliveries would
// be caught hanging.
func TestNotify_HangingReceiverNeverDelaysProbes(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	cfg := loadCfg(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
notify: [{url: "`+rc.URL+`", timeout: 200ms, retries: 1}]
checks: [{name: db, type: fake}]
`)
	set := notify.New(cfg.Notify, notify.Options{QueueSize: 4, Backoff: time.Minute})
	r := checkstest.NewRunner(t, cfg, runner.Options{Observers: []runner.Observer{set}})
	f := checkstest.FakeOf(r, cfg.Checks[0].Name)

	var all time.Duration
	for i := range 40 { // every probe is a state change
		if i%2 == 0 {
			f.SetFail("down")
		} else {
			f.SetFail("")
		}
		all += probe(r)
	}
	testsvc.NotHung(t, "40 probes while the receiver hung", all, 0)
	start := time.Now()
	set.Close(ctxTimeout(t, 300*time.Millisecond))
	testsvc.NotHung(t, "Close with deliveries pending", time.Since(start), 300*time.Millisecond)
	// At most one event in delivery plus 4 queued reached the worker, each
	// tried at most twice; the rest were dropped at the full queue.
	n := rc.count()
	if n < 1 || n > 10 {
		t.Errorf("receiver got %d requests, want 1 to 10", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n2 := rc.count(); n2 != n {
		t.Errorf("requests continued after Close: %d then %d", n, n2)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestNotify_SendAfterCloseIsIgnored(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	set := notify.New([]config.Notify{{URL: srv.URL, Format: "json", Timeout: time.Second}}, notify.Options{})
	set.Close(context.Background())
	set.Send(notify.Event{Check: "db"})
	if hits.Load() != 0 {
		t.Errorf("sent after Close")
	}
}
