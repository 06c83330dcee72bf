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

func newProcess(s Spec) (Checker, error) {
	p := s.Params
	pattern := p.Required("pattern")
	var re *regexp.Regexp
	if pattern != "" {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			p.Errorf("pattern", "is not a valid regular expression: %v", err)
		}
	}
	lo := p.Int("min", 1)
	hi := p.Int("max", -1)
	if lo < 0 {
		p.Errorf("min", "must not be negative")
	}
	if p.Has("max") && hi < 0 {
		p.Errorf("max", "must not be negative")
	}
	if p.Has("max") && hi >= 0 && hi < lo {
		p.Errorf("max", "must be at least min (%d)", lo)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &Process{pattern: pattern, re: re, min: lo, max: hi, timeout: specTimeout(s)}, nil
}

// Check implements Checker.
func (c *Process) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
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
		return Unavailable("%s match %q (want at least %d)", processes(r.n), c.pattern, c.min)
	case c.max >= 0 && r.n > c.max:
		return Unexpected("%s match %q (want at most %d)", processes(r.n), c.pattern, c.max)
	}
	Note(ctx, "%s match %q", processes(r.n), c.pattern)
	return nil
}

func processes(n int) string {
	if n == 1 {
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}

// count counts matching processes, leaving out healthd itself and zombies.
func (c *Process) count(ctx context.Context) (int, error) {
	procs, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return 0, err
	}
	self := int32(os.Getpid())
	n := 0
	for _, p := range procs {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if p.Pid == self {
			continue
		}
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
