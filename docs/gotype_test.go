package docs

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

// withBuiltinLine inserts line into builtin.go's sorted list of types, where
// the guide tells the reader to put it.
func withBuiltinLine(t *testing.T, builtin, line string) string {
	t.Helper()
	name := regexp.MustCompile(`\{Name: "([^"]+)"`)
	want := name.FindStringSubmatch(line)
	if want == nil {
		t.Fatalf("the guide's builtin.go line names no type: %q", line)
	}
	lines := strings.SplitAfter(builtin, "\n")
	for i, l := range lines {
		if m := name.FindStringSubmatch(l); m != nil && m[1] > want[1] {
			return strings.Join(lines[:i], "") + line + "\n" + strings.Join(lines[i:], "")
		}
	}
	t.Fatalf("no type after %q in builtin.go", want[1])
	return ""
}

// The guide's Go type "compiles as it is": its jobs.go and its builtin.go
// line, laid over the source tree with go build -overlay (the tree is not
// touched), build healthd; that healthd runs the guide's jobs check, with
// the guide's sql port of the same check beside it, through `healthd check`
// against a real table on the machine's PostgreSQL, and both judge 0, 150
// and 1,001 queued jobs as the guide's MyHealthCheckBackend does.
func TestGuides_GoTypeBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds healthd with the guide's Go type and runs it on PostgreSQL: run without -short (make test)")
	}
	const guide = "custom-checks.md"
	jobsGo := testsvc.GuideBlock(t, guide, "go", "// internal/checks/jobs.go\n")
	builtinLine := testsvc.GuideBlock(t, guide, "go", "// internal/checks/builtin.go")
	_, builtinLine, _ = strings.Cut(builtinLine, "\n") // the comment line says where it goes
	builtinLine = strings.TrimRight(builtinLine, "\n")

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := os.ReadFile(filepath.Join(root, "internal", "checks", "builtin.go"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {
		filepath.Join(root, "internal", "checks", "jobs.go"):    write("jobs.go", jobsGo),
		filepath.Join(root, "internal", "checks", "builtin.go"): write("builtin.go", withBuiltinLine(t, string(builtin), builtinLine)),
	}})
	bin := filepath.Join(tmp, "healthd")
	build := exec.Command("go", "build", "-overlay", write("overlay.json", string(overlay)), "-o", bin, "./cmd/healthd")
	build.Dir = root
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the guide's Go type does not build: %v\n%s", err, out)
	}
	t.Logf("go build with the guide's jobs.go: %v", time.Since(start).Round(time.Millisecond))

	// The guide's two checks, as they are, on a database of the test's own
	// with the table Django would have made (gates_job).
	dsn, setJobs := jobsDatabase(t)
	cfg := write("healthd.yaml", "checks:\n"+testsvc.GuideBlock(t, guide, "yaml", "type: jobs\n")+testsvc.GuideBlock(t, guide, "yaml", "name: jobs-sql\n"))

	type verdict struct{ status, message string }
	for _, tc := range []struct {
		queued    int
		jobs, sql verdict
	}{
		{0, verdict{"passing", "0 jobs queued"}, verdict{"passing", `value "0"`}}, // a passing check's note
		{150, verdict{"warning", "warning: 150 jobs queued (more than 100)"}, verdict{"warning", "warning: value 150 is above 100 (warn_above)"}},
		{1001, verdict{"failing", "unavailable: 1001 jobs queued (more than 1000)"}, verdict{"failing", "unexpected result: value 1001 is above 1000 (fail_above)"}},
	} {
		setJobs(tc.queued)
		cmd := exec.Command(bin, "check", "--config", cfg, "--format", "json")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn)
		var stderr testsvc.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) { // 1: a check failed or warned
			t.Fatalf("healthd check: %v\n%s%s", err, out, stderr.String())
		}
		var got struct {
			Checks []struct{ Name, Status, Message string }
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("healthd check --format json: %v\n%s", err, out)
		}
		seen := map[string]verdict{}
		for _, c := range got.Checks {
			seen[c.Name] = verdict{c.Status, c.Message}
		}
		if seen["jobs"] != tc.jobs || seen["jobs-sql"] != tc.sql {
			t.Errorf("%d jobs queued: jobs %+v, jobs-sql %+v; want %+v and %+v", tc.queued, seen["jobs"], seen["jobs-sql"], tc.jobs, tc.sql)
		}
	}
}

// jobsDatabase creates a database with an empty gates_job table on the
// machine's PostgreSQL, dropped when the test ends; setJobs makes the table
// hold n rows.
func jobsDatabase(t *testing.T) (dsn string, setJobs func(n int)) {
	t.Helper()
	_, dsn = testsvc.MachinePostgresDatabase(t, "healthd_guide_")
	testsvc.PostgresExec(t, dsn, "CREATE TABLE gates_job (id bigserial PRIMARY KEY, name varchar(100) NOT NULL, created timestamptz NOT NULL DEFAULT now())")
	return dsn, func(n int) {
		testsvc.PostgresExec(t, dsn, "TRUNCATE gates_job", "INSERT INTO gates_job (name) SELECT 'job ' || i FROM generate_series(1, "+strconv.Itoa(n)+") AS i")
	}
}
