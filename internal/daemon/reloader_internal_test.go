package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

// installed writes yaml to a config file and installs it through a new
// Reloader, as Serve does at start; the reloader stops with the test.
func installed(t *testing.T, yaml string) (string, *server.Server, *Reloader) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{ConfigPath: path, Registry: checkstest.Registry()}
	cfg, err := Load(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{})
	rl := newReloader(opts, srv, slog.New(slog.DiscardHandler), new(slog.LevelVar))
	if err := rl.install(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rl.stop)
	return path, srv, rl
}

func TestReloader_ClosesOldClientsCarriesHistoryAndNotifies(t *testing.T) {
	var mu sync.Mutex
	var hooks []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks = append(hooks, string(b))
		mu.Unlock()
	}))
	defer recv.Close()

	path, srv, rl := installed(t, "checks: [{name: db, type: fake, fail: down}, {name: old, type: fake}]\n")
	first := srv.State()
	first.Runner.Run(context.Background(), first.Runner.Checks())
	oldDB := first.Runner.Checks()[0].Checker().(*checkstest.Fake)

	os.WriteFile(path, []byte("notify: [{url: '"+recv.URL+"'}]\nchecks: [{name: db, type: fake}, {name: new, type: fake}]\n"), 0o644)
	if err := rl.Reload(); err != nil {
		t.Fatal(err)
	}
	if !oldDB.Closed() {
		t.Errorf("the old config's clients were not closed")
	}
	cur := srv.State()
	if cur == first {
		t.Fatal("state not swapped")
	}
	db := cur.Runner.Lookup("db")
	// The first run in the new runner (the warm-up, which this probe
	// joins) follows the carried failure in the history: a state change,
	// notified by the new config's webhook.
	res := cur.Runner.Run(context.Background(), []*runner.Check{db})[0].Result
	hist := db.History().Results()
	if res.Status != runner.Passing || len(hist) < 2 || hist[0].Status != runner.Failing || hist[len(hist)-1].Seq != res.Seq {
		t.Errorf("after reload: %v; history of %d results, want the carried failure first and this pass last", res.Status, len(hist))
	}
	// Observers run just after the run's waiters are released: wait for the
	// webhook rather than racing the observer with stop.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(hooks)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	rl.stop() // drains the webhooks
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != 1 || !strings.Contains(hooks[0], `"check":"db","old_state":"failing","new_state":"passing"`) {
		t.Errorf("webhooks: %q", hooks)
	}
}

func TestReloader_BadTemplateKeepsTheRunningState(t *testing.T) {
	path, srv, rl := installed(t, "checks: [{name: db, type: fake}]\n")
	before := srv.State()
	os.WriteFile(path, []byte("server: {template: /nonexistent/page.html}\nchecks: [{name: db, type: fake}]\n"), 0o644)
	err := rl.Reload()
	if err == nil || srv.State() != before {
		t.Fatalf("reload with a missing template: err %v, swapped %v", err, srv.State() != before)
	}
	if before.Runner.Checks()[0].Checker().(*checkstest.Fake).Closed() {
		t.Errorf("the running config's clients were closed")
	}
}
