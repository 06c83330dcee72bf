package checks

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// Process counts the processes whose name or command line matches a regular
// expression (the seed's "celery processes"), and passes when the count is
// within bounds. It sees the processes of its own PID namespace only.
type Process struct {
	pattern  string
	re       *regexp.Regexp
	min, max int // max < 0: no upper bound
	timeout  time.Duration
}

type processConfig struct {
	Pattern string `key:"pattern" required:"true" doc:"regular expression matched against each process's name and command line"`
	Min     int    `key:"min" doc:"fail when fewer processes match"`
	Max     *int   `key:"max" doc:"fail when more processes match (unset: no upper bound)"`

	re *regexp.Regexp // Pattern, compiled by Validate
}

func newProcessConfig(Settings) Config { return &processConfig{Min: 1} }

func (c *processConfig) Validate() error {
	var p Problems
	if c.Pattern != "" {
		var err error
		if c.re, err = regexp.Compile(c.Pattern); err != nil {
			p.Add("pattern", "is not a valid regular expression: %v", err)
		}
	}
	if c.Min < 0 {
		p.Add("min", "must not be negative")
	}
	if c.Max != nil && *c.Max < 0 {
		p.Add("max", "must not be negative")
	}
	if c.Max != nil && *c.Max >= 0 && *c.Max < c.Min {
		p.Add("max", "must be at least min (%d)", c.Min)
	}
	return p.Err()
}

func (c *processConfig) Build(env Env) (Checker, error) {
	hi := -1
	if c.Max != nil {
		hi = *c.Max
	}
	return &Process{pattern: c.Pattern, re: c.re, min: c.Min, max: hi, timeout: env.Timeout}, nil
}

// Check implements Checker.
func (c *Process) Check(ctx context.Context) error {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.count(ctx)
		done <- result{n, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return Unavailable("listing processes timed out after %s", c.timeout)
	}
	if r.err != nil {
		return Unavailable("cannot list processes: %v", r.err)
	}
	Observe(ctx, "processes", float64(r.n), "processes")
	switch {
	case r.n < c.min:
		return Unavailable("%s %q (want at least %d)", processesMatch(r.n), c.pattern, c.min)
	case c.max >= 0 && r.n > c.max:
		return Unexpected("%s %q (want at most %d)", processesMatch(r.n), c.pattern, c.max)
	}
	Note(ctx, "%s %q", processesMatch(r.n), c.pattern)
	return nil
}

func processesMatch(n int) string {
	if n == 1 {
		return "1 process matches"
	}
	return fmt.Sprintf("%d processes match", n)
}

// count counts matching processes, leaving out healthd itself and zombies.
// It lists PIDs and reads each one's name, its command line only when the
// name does not match, and its state only when it matches. gopsutil's
// Processes would first read every process's start time, and /proc/stat once
// per process for the boot time: with 84 processes a run allocated 1.4 MB
// and took 10.6 ms, where this allocates 0.63 MB and takes 5.8 ms.
func (c *Process) count(ctx context.Context) (int, error) {
	pids, err := process.PidsWithContext(ctx)
	if err != nil {
		return 0, err
	}
	self := int32(os.Getpid())
	n := 0
	for _, pid := range pids {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if pid == self {
			continue
		}
		p := &process.Process{Pid: pid}
		name, err := p.NameWithContext(ctx)
		if err != nil {
			continue // exited meanwhile, or not ours to read
		}
		if !c.re.MatchString(name) {
			cmd, _ := p.CmdlineWithContext(ctx)
			if cmd == "" || !c.re.MatchString(cmd) {
				continue
			}
		}
		if st, err := p.StatusWithContext(ctx); err == nil && slices.Contains(st, process.Zombie) {
			continue
		}
		n++
	}
	return n, nil
}
