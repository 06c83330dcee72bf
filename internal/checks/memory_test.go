package checks_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
)

func TestMemory_BelowMinimumWarnsLikeTheSeed(t *testing.T) {
	r := checkstest.New(t, "memory", map[string]any{"min_available_mb": 1e9}, checkstest.Options{}).Run()
	if checks.KindOf(r.Err) != checks.KindWarning {
		t.Fatalf("kind = %v, want warning (message %q)", checks.KindOf(r.Err), r.Message)
	}
	want := regexp.MustCompile(`^warning: ` + regexp.QuoteMeta(checks.Hostname()) + ` \d+ MB available RAM below 1000000000 MB$`)
	if !want.MatchString(r.Message) {
		t.Fatalf("message = %q, want like %q", r.Message, "warning: web-1 87 MB available RAM below 1000000000 MB")
	}
	if mb := r.Observation(t, "available", "MB"); mb <= 0 {
		t.Errorf("available = %v MB", mb)
	}
}

func TestMemory_NullMinimumPasses(t *testing.T) {
	c := checkstest.New(t, "memory", map[string]any{"min_available_mb": nil}, checkstest.Options{Settings: checks.Settings{MemoryMin: ptr(1e9)}})
	r := c.Passes(t)
	if !regexp.MustCompile(`^\d+ MB available( \(cgroup limit\))?$`).MatchString(r.Note) {
		t.Errorf("note = %q", r.Note)
	}
	r.Observation(t, "available", "MB")
}

func TestMemory_MinimumDefaultsToMemoryMin(t *testing.T) {
	checkstest.New(t, "memory", map[string]any{}, checkstest.Options{Settings: checks.Settings{MemoryMin: ptr(1e9)}}).Fails(t, "warning: "+checks.Hostname()+" ")
	checkstest.New(t, "memory", map[string]any{}, checkstest.Options{Settings: checks.Settings{MemoryMin: ptr(1.0)}}).Passes(t)
	checkstest.New(t, "memory", map[string]any{}, checkstest.Options{}).Passes(t)
}

// The cgroup fixtures under testdata/cgroup are real files laid out as the
// kernel lays out /sys/fs/cgroup and /proc/self/cgroup.
func TestMemory_CgroupLimitCountsWhenLowerThanMemAvailable(t *testing.T) {
	vm, err := mem.VirtualMemoryWithContext(context.Background())
	if err != nil {
		t.Fatalf("reading /proc/meminfo: %v", err)
	}
	memAvailMB := int64(vm.Available / checks.MiB)
	if memAvailMB < 2048 {
		t.Fatalf("this test needs MemAvailable above 2048 MB to tell it from the fixtures' limits; it is %d MB", memAvailMB)
	}
	cases := []struct {
		fixture string
		wantMB  int64 // -1: MemAvailable (no limit, or a higher one)
	}{
		// 512 MiB limit, 384 MiB used, 128 MiB of it inactive file cache.
		{"v2-limit", 256},
		// memory.max is "max".
		{"v2-nolimit", -1},
		// The container has no limit; its pod (a parent) has 1 GiB, 896 MiB used.
		{"v2-nested", 128},
		// cgroup v1 without a cgroup namespace: the own path is absent under
		// the mount, whose root holds the limit (300 MiB, 200 used, 50 inactive).
		{"v1-limit", 150},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			c := checkstest.New(t, "memory", map[string]any{"min_available_mb": 200}, checkstest.Options{})
			checks.SetMemoryCgroup(c.Checker, "testdata/cgroup/"+tc.fixture+"/sys", "testdata/cgroup/"+tc.fixture+"/proc_self_cgroup")
			r := c.Run()
			got := int64(r.Observation(t, "available", "MB"))
			switch {
			case tc.wantMB < 0:
				if r.Err != nil || got < memAvailMB-512 {
					t.Fatalf("got %d MB (%q), want about MemAvailable, %d MB, and a pass", got, r.Message, memAvailMB)
				}
				if r.Note != fmt.Sprintf("%d MB available", got) {
					t.Errorf("note = %q", r.Note)
				}
			case tc.wantMB < 200:
				if got != tc.wantMB {
					t.Fatalf("available = %d MB, want %d", got, tc.wantMB)
				}
				want := fmt.Sprintf("warning: %s %d MB available RAM below 200 MB", checks.Hostname(), tc.wantMB)
				if r.Message != want {
					t.Fatalf("message = %q, want %q", r.Message, want)
				}
			default:
				if got != tc.wantMB || r.Err != nil {
					t.Fatalf("available = %d MB (%q), want %d and a pass", got, r.Message, tc.wantMB)
				}
				if want := fmt.Sprintf("%d MB available (cgroup limit)", tc.wantMB); r.Note != want {
					t.Errorf("note = %q, want %q", r.Note, want)
				}
			}
		})
	}
}

func TestMemory_ConfigValidation(t *testing.T) {
	checkstest.ConfigTable(t, "memory", []checkstest.ConfigCase{
		{Name: "defaults", Keys: map[string]any{}},
		{Name: "minimum", Keys: map[string]any{"min_available_mb": 256}},
		{Name: "null disables", Keys: map[string]any{"min_available_mb": nil}},
		{Name: "zero", Keys: map[string]any{"min_available_mb": 0}},
		{Name: "negative", Keys: map[string]any{"min_available_mb": -5},
			Want: `key "min_available_mb": must be 0 or more, or null to disable, not -5`},
		{Name: "not a number", Keys: map[string]any{"min_available_mb": "lots"},
			Want: `key "min_available_mb": must be a number or null, not "lots"`},
		{Name: "misspelled key", Keys: map[string]any{"min_availabe_mb": 100},
			Want: `key "min_availabe_mb": unknown key (did you mean "min_available_mb"?)`},
		{Name: "a key of another type", Keys: map[string]any{"path": "/"}, Want: `key "path": unknown key`},
	})
}
