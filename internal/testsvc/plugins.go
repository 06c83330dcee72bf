package testsvc

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NagiosPluginDir is where Debian's monitoring-plugins packages install
// the plugins (check_tcp, check_http, check_pgsql, check_disk…).
const NagiosPluginDir = "/usr/lib/nagios/plugins"

// NagiosPlugin returns the path of the monitoring-plugins program name;
// the test fails when it is not installed (run scripts/test-setup.sh).
func NagiosPlugin(t testing.TB, name string) string {
	NeedsServer(t)
	t.Helper()
	p := filepath.Join(NagiosPluginDir, name)
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("testsvc: %s is not installed (run scripts/test-setup.sh: scripts/setup/monitoring-plugins.sh): %v", p, err)
	}
	return p
}

// DjangoPython returns Debian's python3, which has Django and psycopg2
// (python3-django, python3-psycopg2); a python3 earlier in PATH (pyenv, a
// venv) may not. The test fails when they cannot be imported.
func DjangoPython(t testing.TB) string {
	NeedsServer(t)
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import django, psycopg2").CombinedOutput(); err != nil {
		t.Fatalf("testsvc: %s cannot import django and psycopg2 (run scripts/test-setup.sh: scripts/setup/monitoring-plugins.sh): %v\n%s", py, err, out)
	}
	return py
}
