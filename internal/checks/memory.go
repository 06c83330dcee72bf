package checks

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/mem"
)

// Memory warns when less memory is available than a threshold, like the
// seed's MemoryUsage check. Available is the kernel's MemAvailable, or the
// headroom under this process's cgroup memory limit when that is lower, so
// the check means the same inside a container as on a host.
type Memory struct {
	min     *float64 // MB; nil disables the threshold
	host    string
	timeout time.Duration

	// cgroupRoot is where the cgroup file systems are mounted and
	// procCgroup lists this process's cgroups; tests point them at
	// testdata.
	cgroupRoot string
	procCgroup string
}

type memoryConfig struct {
	MinAvailableMB *float64 `key:"min_available_mb" default:"health_check.MEMORY_MIN" doc:"warn when less memory is available, in MB (0 or more; the lower of the host's and the cgroup's); null disables"`
}

func newMemoryConfig(s Settings) Config { return &memoryConfig{MinAvailableMB: s.MemoryMin} }

func (c *memoryConfig) Validate() error {
	var p Problems
	if m := c.MinAvailableMB; m != nil && !(*m >= 0 && !math.IsInf(*m, 1)) {
		p.Add("min_available_mb", "must be 0 or more, or null to disable, not %g", *m)
	}
	return p.Err()
}

func (c *memoryConfig) Build(env Env) (Checker, error) {
	return &Memory{
		min:        c.MinAvailableMB,
		host:       hostname(),
		timeout:    env.Timeout,
		cgroupRoot: "/sys/fs/cgroup",
		procCgroup: "/proc/self/cgroup",
	}, nil
}

const mib = 1 << 20

// Check reads /proc/meminfo and the cgroup's limit and usage, and compares
// the lower of the two available figures with the threshold.
func (m *Memory) Check(ctx context.Context) error {
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctxFailure(ctx, m.timeout, "/proc/meminfo")
		}
		return Unavailable("cannot read /proc/meminfo: %s", errnoText(err))
	}
	avail, limited := vm.Available, false
	if headroom, ok := m.cgroupHeadroom(); ok && headroom < avail {
		avail, limited = headroom, true
	}
	mb := float64(avail) / mib
	// Whole MB, truncated, so the observation, the note and the warning agree.
	Observe(ctx, "available", math.Floor(mb), "MB")
	if m.min != nil && mb < *m.min {
		return Warn("%s %d MB available RAM below %s MB", m.host, int64(mb), formatNumber(*m.min))
	}
	if limited {
		Note(ctx, "%d MB available (cgroup limit)", int64(mb))
	} else {
		Note(ctx, "%d MB available", int64(mb))
	}
	return nil
}

// cgroupHeadroom returns how many bytes this process's cgroup, and each of
// its ancestors, can still grow before its memory limit: the smallest
// headroom on the way up. Usage counts the inactive file cache as used, but
// the kernel reclaims it before it would OOM, so it is subtracted, as
// kubelet's working set does. ok is false when no limit is set (or cgroups
// cannot be read).
func (m *Memory) cgroupHeadroom() (headroom uint64, ok bool) {
	v1, v2 := m.ownCgroups()
	type layout struct {
		base, own              string
		limit, usage, inactive string
	}
	layouts := []layout{
		{m.cgroupRoot, v2, "memory.max", "memory.current", "inactive_file"},
		{filepath.Join(m.cgroupRoot, "memory"), v1, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"},
	}
	for _, l := range layouts {
		// From the process's own cgroup up to the mount's root. Without a
		// cgroup namespace the own path may not exist under the mount
		// (the mount root is the container's cgroup); that level is skipped.
		dir := path.Clean("/" + l.own)
		for {
			full := filepath.Join(l.base, filepath.FromSlash(dir))
			if h, found := levelHeadroom(full, l.limit, l.usage, l.inactive); found && (!ok || h < headroom) {
				headroom, ok = h, true
			}
			if dir == "/" {
				break
			}
			dir = path.Dir(dir)
		}
		if ok {
			return headroom, true
		}
	}
	return 0, false
}

// ownCgroups reads /proc/self/cgroup: the v1 memory controller's path and
// the v2 (unified) path.
func (m *Memory) ownCgroups() (v1, v2 string) {
	b, err := os.ReadFile(m.procCgroup)
	if err != nil {
		return "/", "/"
	}
	v1, v2 = "/", "/"
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2 = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "memory" {
				v1 = f[2]
			}
		}
	}
	return v1, v2
}

// levelHeadroom reads one cgroup directory. found is false when it has no
// limit ("max", or v1's near-2^63 "unlimited") or its files are unreadable.
func levelHeadroom(dir, limitFile, usageFile, inactiveKey string) (headroom uint64, found bool) {
	limit, ok := readCgroupUint(filepath.Join(dir, limitFile))
	if !ok || limit >= 1<<62 {
		return 0, false
	}
	usage, ok := readCgroupUint(filepath.Join(dir, usageFile))
	if !ok {
		return 0, false
	}
	if inactive, ok := readCgroupStat(filepath.Join(dir, "memory.stat"), inactiveKey); ok && inactive <= usage {
		usage -= inactive
	}
	if usage >= limit {
		return 0, true
	}
	return limit - usage, true
}

func readCgroupUint(name string) (uint64, bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil // "max" fails to parse: no limit
}

func readCgroupStat(name, key string) (uint64, bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
