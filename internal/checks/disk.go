package checks

import (
	"context"
	"errors"
	"math"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
)

// Disk warns when the file system holding a path is fuller than a
// threshold, like the seed's DiskUsage check (which hard-coded "/").
type Disk struct {
	path    string
	max     *float64 // percent; nil disables the threshold
	host    string
	timeout time.Duration
	statfs  blockingCall[*disk.UsageStat]
}

type diskConfig struct {
	Path            string   `key:"path" doc:"any path on the file system to watch; it need not be a mount point"`
	MaxUsagePercent *float64 `key:"max_usage_percent" default:"health_check.DISK_USAGE_MAX" doc:"warn when this percent (0 to 100) of the file system or more is used; null disables the threshold (usage is still reported)"`
}

func newDiskConfig(s Settings) Config {
	return &diskConfig{Path: "/", MaxUsagePercent: s.DiskUsageMax}
}

func (c *diskConfig) Validate() error {
	var p Problems
	if c.Path == "" {
		p.Add("path", "must not be empty")
	}
	if m := c.MaxUsagePercent; m != nil && !(*m >= 0 && *m <= 100) {
		p.Add("max_usage_percent", "must be between 0 and 100, or null to disable, not %g", *m)
	}
	return p.Err()
}

func (c *diskConfig) Build(env Env) (Checker, error) {
	return &Disk{path: c.Path, max: c.MaxUsagePercent, host: hostname(), timeout: env.Timeout}, nil
}

// Check reads the file system's usage (statfs) and compares the percentage
// used, rounded to one decimal as psutil does, with the threshold.
func (d *Disk) Check(ctx context.Context) error {
	u, blocked, err := d.statfs.do(ctx, func() (*disk.UsageStat, error) {
		return disk.UsageWithContext(ctx, d.path)
	})
	if isCtxErr(err) {
		return stuckFailure(ctx, d.timeout, d.path, "statfs", blocked)
	}
	if err != nil {
		return Unavailable("cannot read disk usage of %s: %s", d.path, errnoText(err))
	}
	pct := math.Round(u.UsedPercent*10) / 10
	Observe(ctx, "utilization", pct, "percent")
	if d.max != nil && pct >= *d.max {
		return Warn("%s %.1f%% disk usage exceeds %s%%", d.host, pct, formatNumber(*d.max))
	}
	Note(ctx, "%.1f%% of %s used", pct, d.path)
	return nil
}

// stuckFailure words a deadline hit while a system call was still running,
// and says so when the call has been blocked longer than this probe.
func stuckFailure(ctx context.Context, timeout time.Duration, path, call string, blocked time.Duration) error {
	if timeout > 0 && blocked > timeout+time.Second {
		return Unavailable("timed out after %s (%s: %s blocked for %s)", timeout, path, call, blocked.Round(time.Second))
	}
	return ctxFailure(ctx, timeout, path)
}

// errnoText returns the system's words for err ("no such file or
// directory") without the path and operation that os errors repeat.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// formatNumber prints a threshold as written in config: 90, 92.5, 1000000.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// hostname names this machine in warnings, as the seed does ("web-1 93.2%
// disk usage exceeds 90%").
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
