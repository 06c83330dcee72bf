package checks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// djangoDatabase creates an empty database for the test on the machine's
// PostgreSQL and drops it when the test ends.
func djangoDatabase(t *testing.T) string {
	t.Helper()
	name, _ := testsvc.MachinePostgresDatabase(t, "healthd_django_")
	return name
}

// Django's own commands as readiness gates, on a real project
// (testdata/django: one app, one migration) and its real database:
// `migrate --check` fails while the migration is unapplied and passes once
// it is; `check --deploy` warns on the project's development settings.
func TestExec_DjangoReadinessGates(t *testing.T) {
	t.Parallel()
	py := testsvc.DjangoPython(t)
	db := djangoDatabase(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "django"))
	if err != nil {
		t.Fatal(err)
	}
	// PYTHONDONTWRITEBYTECODE keeps __pycache__ out of testdata.
	env := map[string]any{"HEALTHD_DJANGO_DB": db, "PYTHONDONTWRITEBYTECODE": "1"}
	manage := func(args ...string) map[string]any {
		cmd := []any{py, "manage.py"}
		for _, a := range args {
			cmd = append(cmd, a)
		}
		return map[string]any{"command": cmd, "dir": dir, "env": env}
	}

	// migrate --check exits 1 with unapplied migrations: with the Nagios
	// protocol that would be a warning, so the gate says exit_status.
	gate := manage("migrate", "--check")
	gate["protocol"] = "exit_status"
	c := checkstest.New(t, "exec", gate, checkstest.Options{})
	c.Fails(t, "unavailable: python3 manage.py migrate --check exited with status 1 and no output")

	m := exec.Command(py, "manage.py", "migrate", "--no-input")
	m.Dir = dir
	m.Env = append(os.Environ(), "HEALTHD_DJANGO_DB="+db, "PYTHONDONTWRITEBYTECODE=1")
	if out, err := m.CombinedOutput(); err != nil {
		t.Fatalf("manage.py migrate: %v\n%s", err, out)
	}
	r := c.Passes(t)
	if r.Note != "Operations to perform:" { // then "No migrations to apply."
		t.Errorf("note = %q", r.Note)
	}

	// The custom check of docs/custom-checks.md: a management command
	// speaking the Nagios protocol, with perfdata.
	jobs := checkstest.New(t, "exec", manage("check_jobs", "--warn", "0", "--crit", "5"), checkstest.Options{})
	r = jobs.Passes(t)
	if r.Note != "OK - 0 jobs queued" || r.Observation(t, "queued", "") != 0 {
		t.Errorf("note = %q, observations %+v", r.Note, r.Observations)
	}

	// check --deploy exits 1 on warnings with --fail-level WARNING, a
	// Nagios warning as it is; its summary is stderr's last line. (Without
	// --fail-level, warnings exit 0 and errors 1.)
	deploy := checkstest.New(t, "exec", manage("check", "--deploy", "--fail-level", "WARNING"), checkstest.Options{})
	r = deploy.Fails(t, "warning: System check identified 5 issues (0 silenced).")
	if r.Message != "warning: System check identified 5 issues (0 silenced)." {
		t.Errorf("message = %q", r.Message)
	}
	if _, err := os.Stat(filepath.Join(dir, "gates", "__pycache__")); err == nil {
		t.Errorf("the test left __pycache__ in testdata")
	}
}
