package checks

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/shirou/gopsutil/v4/mem"
)

func TestMemory_BelowMinimumWarnsLikeTheSeed(t *testing.T) {
	c := localNew(t, "memory", map[string]any{"min_available_mb": 1e9}, Settings{})
	r := localRun(c)
	if KindOf(r.err) != KindWarning {
		t.Fatalf("kind = %v, want warning (message %q)", KindOf(r.err), r.msg)
	}
	want := regexp.MustCompile(`^warning: ` + regexp.QuoteMeta(hostname()) + ` \d+ MB available RAM below 1000000000 MB$`)
	if !want.MatchString(r.msg) {
		t.Fatalf("message = %q, want like %q", r.msg, "warning: web-1 87 MB available RAM below 1000000000 MB")
	}
	if mb := localObservation(t, r, "available", "MB"); mb <= 0 {
		t.Errorf("available = %v MB", mb)
	}
}

func TestMemory_NullMinimumPasses(t *testing.T) {
	c := localNew(t, "memory", map[string]any{"min_available_mb": nil}, Settings{MemoryMin: localPtr(1e9)})
	r := localPasses(t, c)
	if !regexp.MustCompile(`^\d+ MB available( \(cgroup limit\))?$`).MatchString(r.note) {
		t.Errorf("note = %q", r.note)
	}
	localObservation(t, r, "available", "MB")
}

func TestMemory_MinimumDefaultsToMemoryMin(t *testing.T) {
	r := localRun(localNew(t, "memory", map[string]any{}, Settings{MemoryMin: localPtr(1e9)}))
	localWantPrefix(t, r, "warning: "+hostname()+" ")
	localPasses(t, localNew(t, "memory", map[string]any{}, Settings{MemoryMin: localPtr(1)}))
	localPasses(t, localNew(t, "memory", map[string]any{}, Settings{}))
}

// The cgroup fixtures under testdata/cgroup are real files laid out as the
// kernel lays out /sys/fs/cgroup and /proc/self/cgroup.
func TestMemory_CgroupLimitCountsWhenLowerThanMemAvailable(t *testing.T) {
	vm, err := mem.VirtualMemoryWithContext(context.Background())
	if err != nil {
		t.Fatalf("reading /proc/meminfo: %v", err)
	}
	memAvailMB := int64(vm.Available / mib)
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
			m := localNew(t, "memory", map[string]any{"min_available_mb": 200}, Settings{}).(*Memory)
			m.cgroupRoot = "testdata/cgroup/" + tc.fixture + "/sys"
			m.procCgroup = "testdata/cgroup/" + tc.fixture + "/proc_self_cgroup"
			r := localRun(m)
			got := int64(localObservation(t, r, "available", "MB"))
			switch {
			case tc.wantMB < 0:
				if r.err != nil || got < memAvailMB-512 {
					t.Fatalf("got %d MB (%q), want about MemAvailable, %d MB, and a pass", got, r.msg, memAvailMB)
				}
				if r.note != fmt.Sprintf("%d MB available", got) {
					t.Errorf("note = %q", r.note)
				}
			case tc.wantMB < 200:
				if got != tc.wantMB {
					t.Fatalf("available = %d MB, want %d", got, tc.wantMB)
				}
				want := fmt.Sprintf("warning: %s %d MB available RAM below 200 MB", hostname(), tc.wantMB)
				if r.msg != want {
					t.Fatalf("message = %q, want %q", r.msg, want)
				}
			default:
				if got != tc.wantMB || r.err != nil {
					t.Fatalf("available = %d MB (%q), want %d and a pass", got, r.msg, tc.wantMB)
				}
				if want := fmt.Sprintf("%d MB available (cgroup limit)", tc.wantMB); r.note != want {
					t.Errorf("note = %q, want %q", r.note, want)
				}
			}
		})
	}
}

func TestMemory_ConfigValidation(t *testing.T) {
	localConfigTable(t, "memory", []localConfigCase{
		{"defaults", map[string]any{}, ""},
		{"minimum", map[string]any{"min_available_mb": 256}, ""},
		{"null disables", map[string]any{"min_available_mb": nil}, ""},
		{"zero", map[string]any{"min_available_mb": 0}, ""},
		{"negative", map[string]any{"min_available_mb": -5},
			`key "min_available_mb": must be 0 or more, or null to disable, not -5`},
		{"not a number", map[string]any{"min_available_mb": "lots"},
			`key "min_available_mb": must be a number or null, not "lots"`},
		{"misspelled key", map[string]any{"min_availabe_mb": 100},
			`key "min_availabe_mb": unknown key (did you mean "min_available_mb"?)`},
		{"a key of another type", map[string]any{"path": "/"}, `key "path": unknown key`},
	})
}
