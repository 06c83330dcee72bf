package checks

import (
	"regexp"
	"testing"
)

func TestDisk_UsageAboveThresholdWarnsLikeTheSeed(t *testing.T) {
	c := localNew(t, "disk", map[string]any{"path": "/", "max_usage_percent": 1}, Settings{})
	r := localRun(c)
	if KindOf(r.err) != KindWarning {
		t.Fatalf("kind = %v, want warning (message %q)", KindOf(r.err), r.msg)
	}
	want := regexp.MustCompile(`^warning: ` + regexp.QuoteMeta(hostname()) + ` \d{1,3}\.\d% disk usage exceeds 1%$`)
	if !want.MatchString(r.msg) {
		t.Fatalf("message = %q, want like %q", r.msg, "warning: web-1 93.2% disk usage exceeds 1%")
	}
	if pct := localObservation(t, r, "utilization", "percent"); pct <= 1 || pct > 100 {
		t.Errorf("utilization = %v", pct)
	}
}

func TestDisk_NullThresholdPasses(t *testing.T) {
	// max_usage_percent: null disables the threshold even with a default set.
	c := localNew(t, "disk", map[string]any{"max_usage_percent": nil}, Settings{DiskUsageMax: localPtr(1)})
	r := localPasses(t, c)
	if !regexp.MustCompile(`^\d{1,3}\.\d% of / used$`).MatchString(r.note) {
		t.Errorf("note = %q, want like %q", r.note, "12.3% of / used")
	}
	localObservation(t, r, "utilization", "percent")
}

func TestDisk_HundredPercentThresholdPasses(t *testing.T) {
	localPasses(t, localNew(t, "disk", map[string]any{"path": t.TempDir(), "max_usage_percent": 100}, Settings{}))
}

func TestDisk_ThresholdDefaultsToDiskUsageMax(t *testing.T) {
	r := localRun(localNew(t, "disk", map[string]any{}, Settings{DiskUsageMax: localPtr(0.5)}))
	localWantPrefix(t, r, "warning: "+hostname()+" ")
	if !regexp.MustCompile(`exceeds 0\.5%$`).MatchString(r.msg) {
		t.Errorf("message = %q, want the threshold 0.5%%", r.msg)
	}
	// No DISK_USAGE_MAX (null in settings) and no key: no threshold.
	localPasses(t, localNew(t, "disk", map[string]any{}, Settings{}))
}

func TestDisk_MissingPathIsUnavailable(t *testing.T) {
	dir := t.TempDir() + "/gone"
	r := localRun(localNew(t, "disk", map[string]any{"path": dir}, Settings{}))
	want := "unavailable: cannot read disk usage of " + dir + ": no such file or directory"
	if r.msg != want {
		t.Fatalf("message = %q, want %q", r.msg, want)
	}
}

func TestDisk_ConfigValidation(t *testing.T) {
	localConfigTable(t, "disk", []localConfigCase{
		{"defaults", map[string]any{}, ""},
		{"path and percent", map[string]any{"path": "/var", "max_usage_percent": 85.5}, ""},
		{"percent as string after env expansion", map[string]any{"max_usage_percent": "80"}, ""},
		{"null disables", map[string]any{"max_usage_percent": nil}, ""},
		{"zero is allowed", map[string]any{"max_usage_percent": 0}, ""},
		{"percent above 100", map[string]any{"max_usage_percent": 150},
			`key "max_usage_percent": must be between 0 and 100, or null to disable, not 150`},
		{"negative percent", map[string]any{"max_usage_percent": -1},
			`key "max_usage_percent": must be between 0 and 100, or null to disable, not -1`},
		{"percent not a number", map[string]any{"max_usage_percent": "ninety"},
			`key "max_usage_percent": must be a number or null, not "ninety"`},
		{"empty path", map[string]any{"path": ""}, `key "path": must not be empty`},
		{"path not a string", map[string]any{"path": []any{"/"}}, `key "path": must be a string, not a list`},
		{"misspelled key", map[string]any{"max_usage_precent": 80},
			`key "max_usage_precent": unknown key (did you mean "max_usage_percent"?)`},
		{"every error at once", map[string]any{"path": "", "max_usage_percent": 101},
			"key \"max_usage_percent\": must be between 0 and 100, or null to disable, not 101\nkey \"path\": must not be empty"},
	})
}
