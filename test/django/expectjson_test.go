package django

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// The guide's port of MyHealthCheckBackend to an app endpoint
// (docs/custom-checks.md, "Your app's health endpoint"): its view, served by
// Django's own server from the gates project of the exec tests
// (internal/checks/testdata/django, whose Job model the view counts), and
// its http check with expect_json, as the guide writes it, judge 0, 150 and
// 1,001 queued jobs: passing, a warning above warn_above, a failure above
// fail_above. An expectation on a path the view does not return fails.
func TestExpectJSON_TheGuidesDjangoView(t *testing.T) {
	testsvc.DjangoPython(t)
	project, err := filepath.Abs(filepath.Join("..", "..", "internal", "checks", "testdata", "django"))
	if err != nil {
		t.Fatal(err)
	}
	const guide = "../../docs/custom-checks.md"
	view := testsvc.GuideBlock(t, guide, "python", "def health(request):")
	if b, err := os.ReadFile(filepath.Join(project, "gates", "views.py")); err != nil || string(b) != view {
		t.Fatalf("gates/views.py is not the guide's view (%v):\n%s\nthe guide's:\n%s", err, b, view)
	}

	dsn := createDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// PYTHONDONTWRITEBYTECODE keeps __pycache__ out of testdata.
	env := []string{"HEALTHD_DJANGO_DB=" + strings.TrimPrefix(u.Path, "/"), "PYTHONDONTWRITEBYTECODE=1"}
	migrate := exec.Command(python, "manage.py", "migrate", "--no-input")
	migrate.Dir, migrate.Env = project, append(os.Environ(), env...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("manage.py migrate: %v\n%s", err, out)
	}
	health := runserver(t, project, env, "/internal/health")

	// The guide's check, its URL made the test server's, and one more
	// expectation on a path the view does not have.
	check := testsvc.GuideBlock(t, guide, "yaml", "expect_json:")
	if !strings.Contains(check, "http://127.0.0.1:8000/internal/health") {
		t.Fatalf("the guide's check no longer asks http://127.0.0.1:8000/internal/health:\n%s", check)
	}
	check = strings.ReplaceAll(check, "http://127.0.0.1:8000/internal/health", health)
	absent := "  - name: app-queue-depth\n    type: http\n    url: " + health + "\n    expect_json:\n      - {path: \"queue.depth\", warn_above: 100}\n"
	cfg, err := config.Parse("custom-checks.yaml", []byte("checks:\n"+check+absent), config.Options{})
	if err != nil {
		t.Fatalf("the guide's check: %v", err)
	}

	where := " (" + health + ")"
	noDepth := verdict{"failing", "unexpected result: no queue.depth in the JSON body" + where}
	for _, tc := range []struct {
		queued int
		want   verdict
	}{
		{0, verdict{"passing", "status 200 in "}}, // a passing check's note, then its time
		{150, verdict{"warning", "warning: queued 150 is above 100 (warn_above)" + where}},
		{1001, verdict{"failing", "unexpected result: queued 1001 is above 1000 (fail_above)" + where}},
	} {
		setJobs(t, dsn, tc.queued)
		// A runner of its own each time: a runner reuses a fresh result.
		r, err := runner.New(cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]verdict{}
		for _, s := range r.Run(context.Background(), r.Checks()) {
			got[s.Check.Name] = verdict{s.Result.Status.String(), s.Result.Message}
		}
		r.Close()
		if g := got["app-jobs"]; g.status != tc.want.status || !strings.HasPrefix(g.message, tc.want.message) {
			t.Errorf("%d jobs queued: app-jobs %+v, want %+v", tc.queued, g, tc.want)
		}
		if g := got["app-queue-depth"]; g != noDepth {
			t.Errorf("%d jobs queued: app-queue-depth %+v, want %+v", tc.queued, g, noDepth)
		}
	}
}

// verdict is what a check shows: its status and message.
type verdict struct{ status, message string }

// setJobs makes Django's gates_job table hold n queued jobs.
func setJobs(t *testing.T, dsn string, n int) {
	t.Helper()
	testsvc.PostgresExec(t, dsn, "TRUNCATE gates_job",
		"INSERT INTO gates_job (name, created) SELECT 'job ' || i, now() FROM generate_series(1, "+strconv.Itoa(n)+") AS i")
}
