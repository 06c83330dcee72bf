package checks

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Exec runs a program as a check and reads its answer by the Nagios plugin
// protocol (monitoring-plugins, Icinga and Consul use it): the exit status
// says passing (0), warning (1), failing (2) or unknown (3 and anything
// else); the first line of output is the message; performance data after a
// '|' becomes observations.
//
// The program runs in a process group of its own, so that at the deadline
// the whole group (grandchildren included) is killed, and whatever it left
// behind when it exits is killed too: a check leaves nothing running. Its
// output is kept up to a cap; the rest is read and discarded, so a program
// writing without end costs the cap, not what it writes. The runner's single
// flight keeps one run of a check at a time.
type Exec struct {
	argv     []string
	name     string // argv[0]'s base name, for messages
	cmdline  string // the command as shown in messages: name and arguments, shortened
	env      []string
	path     string // the PATH the program gets, to find argv[0] in
	dir      string
	protocol string
	secrets  []string // env values, redacted from messages
	timeout  time.Duration
}

const (
	// execOutputCap is how much of the standard output is kept: the first
	// line is the message, perfdata may follow on later lines.
	execOutputCap = 64 << 10
	// execStderrCap is how much of the end of the standard error is kept,
	// for a message when the standard output is empty (a traceback's last
	// line).
	execStderrCap = 4 << 10
	// execMessageMax bounds the message taken from the output.
	execMessageMax = 1024
	// execDefaultPath is the PATH of a program run without inherit_env and
	// without a PATH of its own in env: Debian's default for root.
	execDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// execReapWait bounds the wait for the killed group's leader to be
	// reaped. SIGKILL is immediate but for a process blocked in the kernel
	// (a hung NFS read); such a process is reaped later by a goroutine.
	execReapWait = time.Second
	// execOutputWait bounds the wait for the end of the output once the
	// program has exited and its group has been killed: only a process
	// that left the group (setsid) can still hold the pipes open.
	execOutputWait = 500 * time.Millisecond
)

type execConfig struct {
	Command    []string          `key:"command" required:"true" doc:"the program and its arguments, as a list (no shell); with shell: true, one string for /bin/sh -c"`
	Shell      bool              `key:"shell" doc:"run command, a single string, with /bin/sh -c (pipes, redirections, ||)"`
	Env        map[string]string `key:"env" secret:"true" doc:"environment variables for the program (${VAR} expanded); every value of 4 characters or more is a secret, redacted from messages"`
	InheritEnv bool              `key:"inherit_env" doc:"also pass healthd's own environment (otherwise the program gets env and a default PATH only)"`
	Dir        string            `key:"dir" doc:"absolute working directory of the program (default: healthd's)"`
	Protocol   string            `key:"protocol" enum:"nagios,exit_status" doc:"nagios: exit 0 passes, 1 warns, 2 fails, 3 or other is an unknown error; exit_status: 0 passes, any other status fails"`
}

func newExecConfig(Settings) Config { return &execConfig{Protocol: "nagios"} }

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the keys only. Whether the program exists is not checked
// here: a config is often validated on another machine than the one that
// runs it (CI, an image build), and a plugin may be installed after
// healthd starts. Each run reports a missing program instead.
func (c *execConfig) Validate() error {
	var p Problems
	switch {
	case c.Command == nil: // reported by the decoder
	case len(c.Command) == 0:
		p.Add("command", "must not be empty")
	case c.Shell && len(c.Command) != 1:
		p.Add("command", "with shell: true, must be one string (the shell command line), not a list of %d", len(c.Command))
	default:
		for i, a := range c.Command {
			if strings.IndexByte(a, 0) >= 0 {
				p.Add(fmt.Sprintf("command[%d]", i), "must not contain a NUL byte")
			}
		}
		if strings.TrimSpace(c.Command[0]) == "" {
			p.Add("command[0]", "must name a program")
		}
	}
	for _, k := range sortedNames(c.Env) {
		if !envNameRe.MatchString(k) {
			p.Add("env."+k, "is not a valid variable name: letters, digits and _, not starting with a digit")
		}
		if strings.IndexByte(c.Env[k], 0) >= 0 {
			p.Add("env."+k, "must not contain a NUL byte")
		}
	}
	if c.Dir != "" && !filepath.IsAbs(c.Dir) {
		p.Add("dir", "must be an absolute path") // not quoted: a value may hold a secret
	}
	return p.Err()
}

// Secrets returns the values of env: a program's environment is where its
// credentials go (PGPASSWORD, an API token), whatever the variable is called.
// Values shorter than execSecretMin (1, on, C) are left out: no credential
// is that short, and redacting them would garble every message ("exit
// status ****").
func (c *execConfig) Secrets() []string {
	var out []string
	for _, v := range SecretValues(c) {
		if len(v) >= execSecretMin {
			out = append(out, v)
		}
	}
	return out
}

// execSecretMin is the length from which an env value is a secret.
const execSecretMin = 4

func (c *execConfig) Build(env Env) (Checker, error) {
	argv := slices.Clone(c.Command)
	if c.Shell {
		argv = []string{"/bin/sh", "-c", c.Command[0]}
	}
	e := &Exec{
		argv:     argv,
		name:     filepath.Base(argv[0]),
		dir:      c.Dir,
		protocol: c.Protocol,
		secrets:  c.Secrets(),
		timeout:  env.Timeout,
	}
	for _, a := range c.Command { // a password in a URL or DSN argument
		e.secrets = append(e.secrets, SecretsIn("command", a)...)
	}
	if c.Shell {
		e.name = "sh"
	}
	e.cmdline = truncate(strings.Join(append([]string{e.name}, argv[1:]...), " "), 120)
	vars := map[string]string{"PATH": execDefaultPath}
	if c.InheritEnv {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
	}
	for k, v := range c.Env {
		vars[k] = v
	}
	e.path = vars["PATH"]
	for _, k := range sortedNames(vars) {
		e.env = append(e.env, k+"="+vars[k])
	}
	return e, nil
}

// Check implements Checker.
func (e *Exec) Check(ctx context.Context) error {
	out, err := e.run(ctx)
	if err != nil {
		return err
	}
	return e.judge(ctx, out)
}

// execOutput is what a run of the program left.
type execOutput struct {
	stdout, stderr []byte
	status         syscall.WaitStatus
}

// run starts the program in its own process group, reads its output under
// the cap and waits for it, killing the group at the deadline and once the
// program has exited. It returns an error only when the program could not
// run or ran out of time.
func (e *Exec) run(ctx context.Context) (*execOutput, error) {
	prog, err := lookProgram(e.argv[0], e.path)
	if err != nil {
		return nil, &Error{Kind: KindUnknown, Msg: fmt.Sprintf("cannot run %s: %v", e.argv[0], err), Err: err}
	}
	if ctx.Err() != nil {
		return nil, ctxFailure(ctx, e.timeout, e.name)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, &Error{Kind: KindUnknown, Msg: fmt.Sprintf("cannot run %s: %v", e.name, err), Err: err}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, &Error{Kind: KindUnknown, Msg: fmt.Sprintf("cannot run %s: %v", e.name, err), Err: err}
	}
	cmd := &exec.Cmd{
		Path:        prog,
		Args:        e.argv,
		Env:         e.env,
		Dir:         e.dir,
		Stdout:      outW, // *os.File: the child writes to the pipe itself, no copying goroutine in os/exec
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	outW.Close() // the child holds its own copies
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, &Error{Kind: KindUnknown, Msg: fmt.Sprintf("cannot run %s: %s", e.name, errnoText(err)), Err: err}
	}
	pgid := cmd.Process.Pid // Setpgid with Pgid 0: the group is named after the child
	killGroup := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

	out := &execOutput{}
	readers := make(chan struct{}, 2)
	go func() { out.stdout = readHead(outR, execOutputCap); readers <- struct{}{} }()
	go func() { out.stderr = readTail(errR, execStderrCap); readers <- struct{}{} }()
	// The program is waited for in two steps: exited reports its exit
	// without reaping it, so that its pid, and with it the group's id,
	// cannot be reused by an unrelated process while the group is killed;
	// cmd.Wait reaps it after the last kill.
	pid := cmd.Process.Pid
	exited := make(chan struct{}, 1)
	go func() {
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		exited <- struct{}{}
	}()

	var timedOut error
	reaped := true
	select {
	case <-exited:
	case <-ctx.Done():
		timedOut = ctxFailure(ctx, e.timeout, e.name+", process group killed")
		killGroup()
		select {
		case <-exited:
		case <-time.After(execReapWait):
			// Blocked in the kernel (a hung NFS read): it dies when the
			// call returns, and is reaped then.
			reaped = false
			go func() { <-exited; killGroup(); cmd.Wait() }()
		}
	}
	if reaped {
		// What the program left in its group (a grandchild sleeping on
		// its stdout) goes with it; then the pipes reach EOF.
		killGroup()
		cmd.Wait()
	}
	grace := time.NewTimer(execOutputWait)
	defer grace.Stop()
	finished := 0
wait:
	for finished < 2 {
		select {
		case <-readers:
			finished++
		case <-ctx.Done():
			break wait
		case <-grace.C:
			break wait
		}
	}
	// A reader still running is held by a process outside the group:
	// unblock it and keep what it read.
	now := time.Now()
	outR.SetReadDeadline(now)
	errR.SetReadDeadline(now)
	for ; finished < 2; finished++ {
		<-readers
	}
	outR.Close()
	errR.Close()
	if timedOut != nil {
		return nil, timedOut
	}
	out.status, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
	return out, nil
}

// judge turns the program's exit status and output into the check's result.
func (e *Exec) judge(ctx context.Context, out *execOutput) error {
	msg, perf := parsePluginOutput(out.stdout)
	for _, d := range perf {
		if d.undetermined {
			continue
		}
		Observe(ctx, d.label, d.value, perfUnit(d.uom))
	}
	msg = Redact(msg, e.secrets)
	if msg == "" {
		msg = Redact(lastLine(out.stderr), e.secrets)
	}
	msg = truncate(msg, execMessageMax)
	st := out.status
	if st.Signaled() {
		text := fmt.Sprintf("%s was killed by signal %d (%s)", e.name, int(st.Signal()), st.Signal())
		if msg != "" {
			text += ": " + msg
		}
		return &Error{Kind: KindUnknown, Msg: text}
	}
	code := st.ExitStatus()
	if msg == "" {
		cmdline := Redact(e.cmdline, e.secrets)
		msg = fmt.Sprintf("%s exited with status %d and no output", cmdline, code)
		if code == 0 {
			msg = fmt.Sprintf("%s exited with status 0", cmdline)
		}
	} else if code > 3 || (code != 0 && e.protocol == "exit_status") {
		msg = fmt.Sprintf("exit status %d: %s", code, msg)
	}
	kind := KindUnknown
	switch {
	case code == 0:
		Note(ctx, "%s", msg)
		return nil
	case e.protocol == "exit_status":
		kind = KindUnavailable
	case code == 1:
		kind = KindWarning
	case code == 2:
		kind = KindUnavailable
	}
	return &Error{Kind: kind, Msg: msg}
}

// lookProgram finds name as the program's own PATH would (exec.LookPath
// reads healthd's PATH, which the program may not get). A name with a slash
// is used as it is.
func lookProgram(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // a relative PATH entry would depend on healthd's working directory
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in PATH %s", path)
}

// readHead reads r to its end (or its read deadline) and returns the first
// max bytes; the rest is read and discarded, so the writer never blocks on
// a full pipe and its output costs at most max bytes of memory.
func readHead(r io.Reader, max int) []byte {
	var head []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if room := max - len(head); room > 0 {
			head = append(head, buf[:min(n, room)]...)
		}
		if err != nil {
			return head
		}
	}
}

// readTail reads r to its end (or its read deadline) and returns the last
// max bytes.
func readTail(r io.Reader, max int) []byte {
	tail := make([]byte, 0, max)
	buf := make([]byte, 8<<10)
	for {
		n, err := r.Read(buf)
		tail = append(tail, buf[:n]...)
		if len(tail) > max {
			tail = append(tail[:0], tail[len(tail)-max:]...)
		}
		if err != nil {
			return tail
		}
	}
}

// lastLine is the last non-blank line of b, trimmed.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && (s[cut]&0xC0) == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// perfDatum is one item of a plugin's performance data:
// 'label'=value[UOM];[warn];[crit];[min];[max].
type perfDatum struct {
	label        string
	value        float64
	uom          string
	undetermined bool // the value was U: the plugin could not measure it
	warn, crit   string
	min, max     string
}

// parsePluginOutput splits a plugin's output as the Nagios plugin
// guidelines lay it out:
//
//	TEXT OUTPUT | OPTIONAL PERFDATA
//	LONG TEXT LINE 1
//	LONG TEXT LINE 2 | PERFDATA LINE 2
//	PERFDATA LINE 3
//
// and returns the first line's text and every item of performance data.
func parsePluginOutput(out []byte) (string, []perfDatum) {
	lines := strings.Split(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n")
	first, perf, _ := strings.Cut(lines[0], "|")
	data := parsePerfdata(perf)
	inPerf := false
	for _, l := range lines[1:] {
		if !inPerf {
			_, p, ok := strings.Cut(l, "|")
			if !ok {
				continue // long text
			}
			inPerf, l = true, p
		}
		data = append(data, parsePerfdata(l)...)
	}
	return strings.TrimSpace(first), data
}

// parsePerfdata parses space-separated perfdata items. A label holding
// spaces or '=' is quoted ('free space'=…), a quote in it doubled. Items
// that do not parse are skipped: one odd item must not lose the others.
func parsePerfdata(s string) []perfDatum {
	var out []perfDatum
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return out
		}
		var label string
		ok := true
		if s[i] == '\'' {
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed { // an unclosed quote spoils its own item only
				for j = i; j < len(s) && s[j] != ' ' && s[j] != '\t'; j++ {
				}
			}
			label, i = b.String(), j
			ok = closed && i < len(s) && s[i] == '='
		} else {
			j := i
			for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			label, i = s[i:j], j
			ok = i < len(s) && s[i] == '='
		}
		// The value runs to the next blank.
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		if ok && label != "" {
			if d, good := parsePerfValue(label, s[i+1:j]); good {
				out = append(out, d)
			}
		}
		i = j
	}
}

var perfNumberRe = regexp.MustCompile(`^[-+]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][-+]?[0-9]+)?`)

// parsePerfValue parses value[UOM];[warn];[crit];[min];[max].
func parsePerfValue(label, v string) (perfDatum, bool) {
	fields := strings.Split(v, ";")
	d := perfDatum{label: label}
	for k, f := range fields[1:] {
		switch k {
		case 0:
			d.warn = f
		case 1:
			d.crit = f
		case 2:
			d.min = f
		case 3:
			d.max = f
		}
	}
	head := fields[0]
	if head == "U" {
		d.undetermined = true
		return d, true
	}
	num := perfNumberRe.FindString(head)
	if num == "" {
		return d, false
	}
	f, err := strconv.ParseFloat(strings.Replace(num, ",", ".", 1), 64)
	if err != nil {
		return d, false
	}
	d.value, d.uom = f, head[len(num):]
	return d, true
}

// perfUnit names a UOM as healthd's observations do: "%" is "percent",
// "c" (a continuous counter) is "counter", the others (s, ms, us, B, KB,
// MB, GB, TB, and any a plugin invents) stay as they are.
func perfUnit(uom string) string {
	switch uom {
	case "%":
		return "percent"
	case "c":
		return "counter"
	}
	return uom
}
