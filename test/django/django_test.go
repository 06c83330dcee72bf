package django

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
	"github.com/healthd/healthd/internal/testsvc"
)

// python is Debian's Python, which has Django and django-health-check
// (scripts/setup/django.sh); a pyenv one first on PATH would not.
const python = "/usr/bin/python3"

// createDatabase creates a database of its own on the machine's PostgreSQL
// and drops it when the test ends.
func createDatabase(t *testing.T) string {
	t.Helper()
	_, dsn := testsvc.MachinePostgresDatabase(t, "healthd_django_")
	return dsn
}

// getJSON asks url for the flat JSON map, as a load balancer script does,
// and returns the status, the map and the body as sent.
func getJSON(t *testing.T, url string) (int, map[string]string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: not the flat JSON map: %v\n%s", url, err, b)
	}
	return resp.StatusCode, m, string(b)
}

// runserver runs Django's own server for the project in dir, with env
// added to the test's environment, until the test ends. It returns the URL
// of path once the server answers there.
func runserver(t *testing.T, dir string, env []string, path string) string {
	t.Helper()
	port := testsvc.FreePort(t)
	srv := exec.Command(python, "manage.py", "runserver", "127.0.0.1:"+strconv.Itoa(port), "--noreload")
	srv.Dir = dir
	srv.Env = append(os.Environ(), env...)
	var logs testsvc.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	deadline := time.Now().Add(30 * time.Second) // Django starts in a second or two; this is for a loaded machine
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("Django did not answer at %s: %v\n%s", url, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The guide's "before" (a Django project with django-health-check) and
// "after" (healthd) answer /ht/ with the same JSON keys, each "working",
// for the same PostgreSQL, memcached, file storage, Redis and RabbitMQ, and
// the two bodies are the same bytes (the guide says a client comparing them
// sees no difference; docs/examples/body.json is that body).
func TestDjangoHealthCheckAndHealthdAgree(t *testing.T) {
	testsvc.NeedsServer(t)
	if out, err := exec.Command(python, "-c", "import django, health_check, pymemcache").CombinedOutput(); err != nil {
		t.Fatalf("Django and django-health-check are needed (scripts/setup/django.sh installs them): %v: %s", err, out)
	}
	project, err := filepath.Abs("project")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DATABASE_URL":            createDatabase(t),
		"MEMCACHED_LOCATION":      testsvc.StartMemcached(t).Addr(),
		"MEDIA_ROOT":              t.TempDir(),
		"REDIS_URL":               "redis://" + testsvc.MachineRedis(t) + "/0",
		"BROKER_URL":              "amqp://guest:guest@" + testsvc.RabbitMQ(t) + "/",
		"DJANGO_PROJECT_DIR":      project,
		"PATH":                    "/usr/bin:/bin", // Debian's python3 for healthd's exec check too
		"PYTHONDONTWRITEBYTECODE": "1",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	manage := func(args ...string) *exec.Cmd {
		cmd := exec.Command(python, append([]string{"manage.py"}, args...)...)
		cmd.Dir = project
		return cmd
	}
	if out, err := manage("migrate", "--noinput").CombinedOutput(); err != nil {
		t.Fatalf("manage.py migrate: %v\n%s", err, out)
	}

	peerURL := runserver(t, project, nil, "/ht/")
	peerCode, peer, peerBody := getJSON(t, peerURL)

	cfg, err := config.Load("../../docs/examples/healthd-after.yaml", config.Options{})
	if err != nil {
		t.Fatalf("the guide's healthd-after.yaml: %v", err)
	}
	r, err := runner.New(cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	hs := server.New(server.Options{Version: "test"})
	st, err := hs.NewState(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	hs.Swap(st)
	ts := httptest.NewServer(hs)
	t.Cleanup(ts.Close)
	code, ours, body := getJSON(t, ts.URL+"/ht/")

	t.Logf("django-health-check (%d): %v", peerCode, peer)
	t.Logf("healthd (%d):             %v", code, ours)
	if p, o := slices.Sorted(maps.Keys(peer)), slices.Sorted(maps.Keys(ours)); !slices.Equal(p, o) {
		t.Errorf("JSON keys differ:\ndjango-health-check: %q\nhealthd:             %q", p, o)
	}
	for k, v := range peer {
		if v != "working" || ours[k] != "working" {
			t.Errorf("%s: django-health-check %q, healthd %q; want both working", k, v, ours[k])
		}
	}
	if peerCode != 200 || code != 200 {
		t.Errorf("status: django-health-check %d, healthd %d; want 200", peerCode, code)
	}
	if body != peerBody {
		t.Errorf("bodies differ:\ndjango-health-check: %s\nhealthd:             %s", peerBody, body)
	}
	// The guide shows this body; it must be what both answered.
	shown, err := os.ReadFile("../../docs/examples/body.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(shown) != peerBody {
		t.Errorf("docs/examples/body.json is not the body django-health-check answered:\nshown: %s\npeer:  %s", shown, peerBody)
	}
}
