package checks_test

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// execScript is the absolute path of a test script in testdata/exec.
func execScript(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "exec", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pidFile is a PIDFILE for a script that writes its pid there: the id of
// its process group.
func pidFile(t testing.TB) string { return filepath.Join(t.TempDir(), "pid") }

// procStat is what /proc/<pid>/stat says of a process.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
}

// processes lists every process of the machine (of this PID namespace).
func processes(t testing.TB) []procStat {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		out = append(out, procStat{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]})
	}
	return out
}

// groupGone waits (for at most HangSlack: SIGKILL is delivered at once, the
// processes die when next scheduled) until no live process is left in the
// process group named in pidfile, and fails the test otherwise.
func groupGone(t testing.TB, pidfile string) {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("the script did not write its pid: %v", err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	deadline := time.Now().Add(testsvc.HangSlack)
	for {
		var left []int
		for _, p := range processes(t) {
			if p.pgrp == pgid && p.state != 'Z' {
				left = append(left, p.pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of the check's group %d are still running", left, pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombieChildren counts this process's children that exited and were not
// reaped.
func zombieChildren(t testing.TB) int {
	n, self := 0, os.Getpid()
	for _, p := range processes(t) {
		if p.ppid == self && p.state == 'Z' {
			n++
		}
	}
	return n
}

const execShortTimeout = 300 * time.Millisecond

func TestExec_Config(t *testing.T) {
	t.Parallel()
	checkstest.ConfigTable(t, "exec", []checkstest.ConfigCase{
		{Name: "argv", Keys: map[string]any{"command": []any{"/bin/true"}}},
		{Name: "shell", Keys: map[string]any{"command": "exit 0", "shell": true}},
		{Name: "everything", Keys: map[string]any{"command": []any{"check_tcp", "-H", "db"}, "env": map[string]any{"PGPASSWORD": "x"},
			"inherit_env": true, "dir": "/tmp", "protocol": "exit_status"}},
		{Name: "no command", Keys: map[string]any{}, Want: `key "command": is required`},
		{Name: "empty command", Keys: map[string]any{"command": []any{}}, Want: `key "command": must not be empty`},
		{Name: "blank program", Keys: map[string]any{"command": []any{" ", "-x"}}, Want: `key "command[0]": must name a program`},
		{Name: "shell with a list", Keys: map[string]any{"command": []any{"echo", "hi"}, "shell": true},
			Want: `key "command": with shell: true, must be one string (the shell command line), not a list of 2`},
		{Name: "bad env name", Keys: map[string]any{"command": "/bin/true", "env": map[string]any{"1X": "v"}},
			Want: `key "env.1X": is not a valid variable name: letters, digits and _, not starting with a digit`},
		{Name: "relative dir", Keys: map[string]any{"command": "/bin/true", "dir": "app"}, Want: `key "dir": must be an absolute path`},
		{Name: "protocol", Keys: map[string]any{"command": "/bin/true", "protocol": "icinga"}, Want: "protocol", Contains: true},
		// Validate does not look for the program: the config may be
		// validated elsewhere, and the plugin installed later.
		{Name: "missing program is valid", Keys: map[string]any{"command": "no-such-plugin"}},
	})
}

// Exit statuses by the Nagios plugin protocol; the first line is the
// message, perfdata on it and after a '|' in the long output are
// observations.
func TestExec_NagiosExitStatusesAndPerfdata(t *testing.T) {
	t.Parallel()
	script := execScript(t, "status.sh")
	const line = "STATUS %d - queue has 42 jobs"
	for _, tc := range []struct {
		status int
		want   string
	}{
		{1, "warning: " + line},
		{2, "unavailable: " + line},
		{3, "unknown error: " + line},
		{4, "unknown error: exit status 4: " + line},
		{255, "unknown error: exit status 255: " + line},
	} {
		c := checkstest.New(t, "exec", map[string]any{"command": []any{script, strconv.Itoa(tc.status)}}, checkstest.Options{})
		r := c.Fails(t, fmt.Sprintf(tc.want, tc.status))
		if want := fmt.Sprintf(tc.want, tc.status); r.Message != want {
			t.Errorf("status %d: message = %q, want %q", tc.status, r.Message, want)
		}
	}
	c := checkstest.New(t, "exec", map[string]any{"command": []any{script, "0"}}, checkstest.Options{})
	r := c.Passes(t)
	if r.Note != "STATUS 0 - queue has 42 jobs" {
		t.Errorf("note = %q", r.Note)
	}
	for _, o := range []struct {
		m, unit string
		v       float64
	}{{"queue length", "", 42}, {"latency", "s", 0.25}, {"load", "percent", 87.5}, {"free", "GB", 1.5}} {
		if v := r.Observation(t, o.m, o.unit); v != o.v {
			t.Errorf("observation %s = %v, want %v", o.m, v, o.v)
		}
	}
}

func TestExec_ExitStatusProtocolFailsOnAnyNonZero(t *testing.T) {
	t.Parallel()
	c := checkstest.New(t, "exec", map[string]any{"command": []any{execScript(t, "status.sh"), "1"}, "protocol": "exit_status"}, checkstest.Options{})
	c.Fails(t, "unavailable: exit status 1: STATUS 1 - queue has 42 jobs")
	c = checkstest.New(t, "exec", map[string]any{"command": "/bin/false", "protocol": "exit_status"}, checkstest.Options{})
	c.Fails(t, "unavailable: false exited with status 1 and no output")
	c = checkstest.New(t, "exec", map[string]any{"command": []any{"/bin/sh", "-c", "exit 2"}, "env": map[string]any{"SHORT": "2"}}, checkstest.Options{})
	c.Fails(t, "unavailable: sh -c exit 2 exited with status 2 and no output") // a short env value is no secret
}

func TestExec_HangingProgramIsKilledWithItsGroupAtTheDeadline(t *testing.T) {
	t.Parallel()
	for _, script := range []string{"hang.sh", "hang-grandchild.sh"} {
		t.Run(script, func(t *testing.T) {
			t.Parallel()
			pf := pidFile(t)
			c := checkstest.New(t, "exec", map[string]any{"command": execScript(t, script), "env": map[string]any{"PIDFILE": pf}},
				checkstest.Options{Timeout: execShortTimeout})
			r := c.Fails(t, "unavailable: timed out after 300ms ("+script+", process group killed)")
			if r.Message != "unavailable: timed out after 300ms ("+script+", process group killed)" {
				t.Errorf("message = %q", r.Message)
			}
			groupGone(t, pf)
		})
	}
}

// A plugin that answers and exits, leaving a grandchild that holds its
// stdout and sleeps, is judged at once: the check does not wait for the
// pipe, and the grandchild is killed with the group.
func TestExec_GrandchildHoldingStdoutDoesNotHangTheCheck(t *testing.T) {
	t.Parallel()
	pf := pidFile(t)
	c := checkstest.New(t, "exec", map[string]any{"command": execScript(t, "grandchild.sh"), "env": map[string]any{"PIDFILE": pf}}, checkstest.Options{})
	r := c.Passes(t)
	testsvc.NotHung(t, "the check", r.Took, 0) // its timeout is AnswerTimeout: waiting for it is a hang
	if r.Note != "OK - answered, a child keeps stdout" {
		t.Errorf("note = %q", r.Note)
	}
	groupGone(t, pf)
}

func TestExec_SignalIsAnUnknownError(t *testing.T) {
	t.Parallel()
	pf := pidFile(t)
	c := checkstest.New(t, "exec", map[string]any{"command": execScript(t, "signal.sh"), "env": map[string]any{"PIDFILE": pf}}, checkstest.Options{})
	r := c.Fails(t, "unknown error: signal.sh was killed by signal 11 (segmentation fault): about to crash")
	if r.Message != "unknown error: signal.sh was killed by signal 11 (segmentation fault): about to crash" {
		t.Errorf("message = %q", r.Message)
	}
	groupGone(t, pf)
}

func TestExec_Exit3IsAnUnknownError(t *testing.T) {
	t.Parallel()
	c := checkstest.New(t, "exec", map[string]any{"command": execScript(t, "unknown.sh")}, checkstest.Options{})
	c.Fails(t, "unknown error: UNKNOWN - cannot read /var/lib/thing: permission denied")
	// A relative path is relative to dir.
	c = checkstest.New(t, "exec", map[string]any{"command": "./unknown.sh", "dir": filepath.Dir(execScript(t, "unknown.sh"))}, checkstest.Options{})
	c.Fails(t, "unknown error: UNKNOWN - cannot read /var/lib/thing: permission denied")
}

func TestExec_NoStdoutTakesTheLastLineOfStderr(t *testing.T) {
	t.Parallel()
	c := checkstest.New(t, "exec", map[string]any{"command": execScript(t, "stderr-only.sh")}, checkstest.Options{})
	r := c.Fails(t, "unavailable: ConnectionError: cannot reach the queue")
	if r.Message != "unavailable: ConnectionError: cannot reach the queue" {
		t.Errorf("message = %q", r.Message)
	}
}

func TestExec_MissingProgramIsAnUnknownError(t *testing.T) {
	t.Parallel()
	c := checkstest.New(t, "exec", map[string]any{"command": "no-such-plugin"}, checkstest.Options{})
	c.Fails(t, "unknown error: cannot run no-such-plugin: not found in PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	c = checkstest.New(t, "exec", map[string]any{"command": "/nonexistent/plugin"}, checkstest.Options{})
	c.Fails(t, "unknown error: cannot run plugin: no such file or directory")
}

func TestExec_EnvValuesAreSecrets(t *testing.T) {
	t.Parallel()
	c := checkstest.New(t, "exec", map[string]any{"command": execScript(t, "echo-secret.sh"), "env": map[string]any{"PASSWORD": checkstest.Secret + "-pw"}}, checkstest.Options{})
	r := c.Fails(t, "unavailable: CRITICAL - login failed with password **** for user monitor")
	if r.Message != "unavailable: CRITICAL - login failed with password **** for user monitor" {
		t.Errorf("message = %q", r.Message)
	}
}

// Without inherit_env the program gets env and a default PATH only;
// with it, healthd's environment too. dir is its working directory. (The
// program writes what it sees to a file: env values are secrets, redacted
// from its message.)
func TestExec_EnvironmentAndDir(t *testing.T) {
	t.Setenv("HEALTHD_EXEC_TEST", "from-healthd")
	dir := t.TempDir()
	keys := map[string]any{"command": []any{"/bin/sh", "-c", `echo "GREETING=$GREETING INHERITED=${HEALTHD_EXEC_TEST:-no} PATH=$PATH pwd=$(pwd)" | tee seen`},
		"env": map[string]any{"GREETING": "hello"}, "dir": dir}
	seen := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "seen"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	r := checkstest.New(t, "exec", keys, checkstest.Options{}).Passes(t)
	if want := "GREETING=hello INHERITED=no PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin pwd=" + dir; seen() != want {
		t.Errorf("the program saw %q, want %q", seen(), want)
	}
	if !strings.HasPrefix(r.Note, "GREETING=**** INHERITED=no") {
		t.Errorf("note = %q: want the env value redacted", r.Note)
	}
	keys["inherit_env"] = true
	keys["env"] = map[string]any{"GREETING": "hello", "PATH": "/usr/bin:/bin"}
	checkstest.New(t, "exec", keys, checkstest.Options{}).Passes(t)
	if want := "GREETING=hello INHERITED=from-healthd PATH=/usr/bin:/bin pwd=" + dir; seen() != want {
		t.Errorf("the program saw %q, want %q", seen(), want)
	}
}

func TestExec_ShellRunsOneCommandLine(t *testing.T) {
	t.Parallel()
	c := checkstest.New(t, "exec", map[string]any{"command": "test -d / && echo 'WARNING - via the shell' && exit 1", "shell": true}, checkstest.Options{})
	c.Fails(t, "warning: WARNING - via the shell")
	// Without shell, the same string is one program name.
	c = checkstest.New(t, "exec", map[string]any{"command": "echo hi; exit 1"}, checkstest.Options{})
	c.Fails(t, "unknown error: cannot run echo hi; exit 1: not found in PATH")
}

// A program writing 10 MB costs the output cap, not 10 MB: not parallel,
// so that the allocation count is this test's.
func TestExec_FloodCostsOnlyTheCap(t *testing.T) {
	c := checkstest.New(t, "exec", map[string]any{"command": execScript(t, "flood.sh")}, checkstest.Options{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := c.Passes(t)
	runtime.ReadMemStats(&after)
	if r.Note != "OK - flooding" {
		t.Errorf("note = %q", r.Note)
	}
	if v := r.Observation(t, "bytes", "B"); v != 10<<20 {
		t.Errorf("bytes = %v", v)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a run reading 10 MB of output allocated %d KiB", alloc>>10)
	if alloc > 1<<20 {
		t.Errorf("a run reading 10 MB of output allocated %d KiB; want the 64 KiB cap plus buffers", alloc>>10)
	}
}

// Real plugins from monitoring-plugins against servers the test starts.
func TestExec_MonitoringPlugins(t *testing.T) {
	t.Parallel()
	t.Run("check_tcp", func(t *testing.T) {
		t.Parallel()
		plugin := testsvc.NagiosPlugin(t, "check_tcp")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		r := checkstest.New(t, "exec", map[string]any{"command": []any{plugin, "-H", "127.0.0.1", "-p", port}}, checkstest.Options{}).Passes(t)
		if !strings.HasPrefix(r.Note, "TCP OK - ") {
			t.Errorf("note = %q", r.Note)
		}
		r.Observation(t, "time", "s")
		refused := testsvc.RefusedAddr(t)
		_, rport, _ := net.SplitHostPort(refused)
		c := checkstest.New(t, "exec", map[string]any{"command": []any{plugin, "-H", "127.0.0.1", "-p", rport}}, checkstest.Options{})
		c.Fails(t, "unavailable: connect to address 127.0.0.1 and port "+rport+": Connection refused")
	})
	t.Run("check_http", func(t *testing.T) {
		t.Parallel()
		plugin := testsvc.NagiosPlugin(t, "check_http")
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/broken" {
				http.Error(w, "down", http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "ok")
		}))
		t.Cleanup(srv.Close)
		host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		r := checkstest.New(t, "exec", map[string]any{"command": []any{plugin, "-H", host, "-p", port, "-u", "/healthz"}}, checkstest.Options{}).Passes(t)
		if !strings.HasPrefix(r.Note, "HTTP OK: HTTP/1.1 200 OK") {
			t.Errorf("note = %q", r.Note)
		}
		r.Observation(t, "time", "s")
		r.Observation(t, "size", "B")
		c := checkstest.New(t, "exec", map[string]any{"command": []any{plugin, "-H", host, "-p", port, "-u", "/broken"}}, checkstest.Options{})
		c.Fails(t, "unavailable: HTTP CRITICAL: HTTP/1.1 500 Internal Server Error")
	})
	t.Run("check_pgsql", func(t *testing.T) {
		t.Parallel()
		plugin := testsvc.NagiosPlugin(t, "check_pgsql")
		testsvc.MachinePostgres(t)
		r := checkstest.New(t, "exec", map[string]any{"command": []any{plugin, "-H", "127.0.0.1", "-P", "5432", "-d", "postgres", "-l", "postgres"}}, checkstest.Options{}).Passes(t)
		if !strings.Contains(r.Note, "OK - database postgres") {
			t.Errorf("note = %q", r.Note)
		}
		r.Observation(t, "time", "s")
	})
	t.Run("check_disk", func(t *testing.T) {
		t.Parallel()
		plugin := testsvc.NagiosPlugin(t, "check_disk")
		r := checkstest.New(t, "exec", map[string]any{"command": []any{plugin, "-w", "0%", "-c", "0%", "-p", "/"}}, checkstest.Options{}).Passes(t)
		if !strings.HasPrefix(r.Note, "DISK OK") {
			t.Errorf("note = %q", r.Note)
		}
		if v := r.Observation(t, "/", "B"); v <= 0 {
			t.Errorf("used bytes of / = %v", v)
		}
	})
}

// A password in a URL argument is hidden from the message too (the no-output
// message names the command).
func TestExec_URLPasswordInTheCommandIsHidden(t *testing.T) {
	t.Parallel()
	c := checkstest.New(t, "exec", map[string]any{"command": []any{"/bin/sh", "-c", "exit 2", "postgres://monitor:" + checkstest.Secret + "@db/app"}}, checkstest.Options{})
	c.Fails(t, "unavailable: sh -c exit 2 postgres://monitor:****@db/app exited with status 2 and no output")
}

// childrenOf lists this process's children, live or not yet reaped.
func childrenOf(t testing.TB) []int {
	var out []int
	self := os.Getpid()
	for _, p := range processes(t) {
		if p.ppid == self {
			out = append(out, p.pid)
		}
	}
	return out
}

// No fault of a program leaves a process running or unreaped. Every script
// of testdata/exec runs under leave-sleeper.sh, which first starts a sleeper
// in the check's group: only the group kill after the exit (or at the
// deadline) ends it, whether the script passes, floods, fails, crashes or
// hangs. A program that cannot start leaves no child at all. Not parallel:
// that last count is of this test process's children.
func TestExec_NoFaultLeavesAProcessBehind(t *testing.T) {
	wrapper := execScript(t, "leave-sleeper.sh")
	notExecutable := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\necho OK\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type faultCase struct {
		name    string
		script  string   // run under the wrapper, with args
		command []string // run as it is, when script is ""
		args    []string
		env     map[string]any
		timeout time.Duration
		want    string // "" passes; else the message
		prefix  bool   // want is only the message's start
	}
	cases := []faultCase{
		{name: "passes", script: "status.sh", args: []string{"0"}},
		{name: "warns", script: "status.sh", args: []string{"1"}, want: "warning: STATUS 1 - queue has 42 jobs"},
		{name: "exit 4", script: "status.sh", args: []string{"4"}, want: "unknown error: exit status 4: STATUS 4 - queue has 42 jobs"},
		{name: "exit 3", script: "unknown.sh", want: "unknown error: UNKNOWN - cannot read /var/lib/thing: permission denied"},
		{name: "stderr only", script: "stderr-only.sh", want: "unavailable: ConnectionError: cannot reach the queue"},
		{name: "secret", script: "echo-secret.sh", env: map[string]any{"PASSWORD": checkstest.Secret + "-pw"},
			want: "unavailable: CRITICAL - login failed with password **** for user monitor"},
		{name: "flood", script: "flood.sh"},
		{name: "grandchild", script: "grandchild.sh"},
		{name: "signal", script: "signal.sh", want: "unknown error: leave-sleeper.sh was killed by signal 11 (segmentation fault): about to crash"},
		{name: "hang", script: "hang.sh", timeout: execShortTimeout,
			want: "unavailable: timed out after 300ms (leave-sleeper.sh, process group killed)"},
		{name: "hang with a grandchild", script: "hang-grandchild.sh", timeout: execShortTimeout,
			want: "unavailable: timed out after 300ms (leave-sleeper.sh, process group killed)"},
		// The shell started, its exec did not (a plugin calling a missing tool).
		{name: "shell cannot exec", command: []string{wrapper, "/nonexistent/plugin"}, want: "unknown error: exit status 127: ", prefix: true},
		{name: "not in PATH", command: []string{"no-such-plugin"}, want: "unknown error: cannot run no-such-plugin: not found in PATH", prefix: true},
		{name: "no such file", command: []string{"/nonexistent/plugin"}, want: "unknown error: cannot run plugin: no such file or directory"},
		{name: "not executable", command: []string{notExecutable}, want: "unknown error: cannot run plugin: permission denied"},
	}

	// Every script has a case, so a new fault script is counted too.
	scripts, err := filepath.Glob(filepath.Join("testdata", "exec", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("testdata/exec: %v %v", scripts, err)
	}
	for _, s := range scripts {
		s = filepath.Base(s)
		if s == "leave-sleeper.sh" || slices.ContainsFunc(cases, func(c faultCase) bool { return c.script == s }) {
			continue
		}
		t.Errorf("testdata/exec/%s has no case here: add one", s)
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pf := pidFile(t)
			argv := tc.command
			if tc.script != "" {
				argv = append([]string{wrapper, execScript(t, tc.script)}, tc.args...)
			}
			env := map[string]any{"PIDFILE": pf}
			maps.Copy(env, tc.env)
			before := childrenOf(t)
			var command []any // as YAML decodes a list
			for _, a := range argv {
				command = append(command, a)
			}
			c := checkstest.New(t, "exec", map[string]any{"command": command, "env": env}, checkstest.Options{Timeout: tc.timeout})
			switch {
			case tc.want == "":
				c.Passes(t)
			case tc.prefix:
				c.Fails(t, tc.want)
			default:
				c.FailsWith(t, tc.want)
			}
			if _, err := os.Stat(pf); err == nil {
				t.Cleanup(func() { killGroupOf(pf) }) // if the test fails, leave no sleeper
				groupGone(t, pf)
			} else if tc.script != "" || tc.name == "shell cannot exec" {
				t.Fatalf("the wrapper did not start: %v", err)
			}
			for _, pid := range childrenOf(t) {
				if !slices.Contains(before, pid) {
					t.Errorf("the run left child %d of the test process (live or unreaped)", pid)
				}
			}
		})
	}
}

// killGroupOf kills the process group named in pidfile.
func killGroupOf(pidfile string) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	if pgid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pgid > 1 {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}
