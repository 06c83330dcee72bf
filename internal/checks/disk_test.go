package checks_test

import (
	"regexp"
	"testing"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
)

func TestDisk_UsageAboveThresholdWarnsLikeTheSeed(t *testing.T) {
	r := checkstest.New(t, "disk", map[string]any{"path": "/", "max_usage_percent": 1}, checkstest.Options{}).Run()
	if checks.KindOf(r.Err) != checks.KindWarning {
		t.Fatalf("kind = %v, want warning (message %q)", checks.KindOf(r.Err), r.Message)
	}
	want := regexp.MustCompile(`^warning: ` + regexp.QuoteMeta(checks.Hostname()) + ` \d{1,3}\.\d% disk usage exceeds 1%$`)
	if !want.MatchString(r.Message) {
		t.Fatalf("message = %q, want like %q", r.Message, "warning: web-1 93.2% disk usage exceeds 1%")
	}
	if pct := r.Observation(t, "utilization", "percent"); pct <= 1 || pct > 100 {
		t.Errorf("utilization = %v", pct)
	}
}

func TestDisk_NullThresholdPasses(t *testing.T) {
	// max_usage_percent: null disables the threshold even with a default set.
	c := checkstest.New(t, "disk", map[string]any{"max_usage_percent": nil}, checkstest.Options{Settings: checks.Settings{DiskUsageMax: ptr(1.0)}})
	r := c.Passes(t)
	if !regexp.MustCompile(`^\d{1,3}\.\d% of / used$`).MatchString(r.Note) {
		t.Errorf("note = %q, want like %q", r.Note, "12.3% of / used")
	}
	r.Observation(t, "utilization", "percent")
}

func TestDisk_HundredPercentThresholdPasses(t *testing.T) {
	checkstest.New(t, "disk", map[string]any{"path": t.TempDir(), "max_usage_percent": 100}, checkstest.Options{}).Passes(t)
}

func TestDisk_ThresholdDefaultsToDiskUsageMax(t *testing.T) {
	r := checkstest.New(t, "disk", map[string]any{}, checkstest.Options{Settings: checks.Settings{DiskUsageMax: ptr(0.5)}}).Fails(t, "warning: "+checks.Hostname()+" ")
	if !regexp.MustCompile(`exceeds 0\.5%$`).MatchString(r.Message) {
		t.Errorf("message = %q, want the threshold 0.5%%", r.Message)
	}
	// No DISK_USAGE_MAX (null in settings) and no key: no threshold.
	checkstest.New(t, "disk", map[string]any{}, checkstest.Options{}).Passes(t)
}

func TestDisk_MissingPathIsUnavailable(t *testing.T) {
	dir := t.TempDir() + "/gone"
	c := checkstest.New(t, "disk", map[string]any{"path": dir}, checkstest.Options{})
	c.FailsWith(t, "unavailable: cannot read disk usage of "+dir+": no such file or directory")
}

func TestDisk_ConfigValidation(t *testing.T) {
	checkstest.ConfigTable(t, "disk", []checkstest.ConfigCase{
		{Name: "defaults", Keys: map[string]any{}},
		{Name: "path and percent", Keys: map[string]any{"path": "/var", "max_usage_percent": 85.5}},
		{Name: "percent as string after env expansion", Keys: map[string]any{"max_usage_percent": "80"}},
		{Name: "null disables", Keys: map[string]any{"max_usage_percent": nil}},
		{Name: "zero is allowed", Keys: map[string]any{"max_usage_percent": 0}},
		{Name: "percent above 100", Keys: map[string]any{"max_usage_percent": 150},
			Want: `key "max_usage_percent": must be between 0 and 100, or null to disable, not 150`},
		{Name: "negative percent", Keys: map[string]any{"max_usage_percent": -1},
			Want: `key "max_usage_percent": must be between 0 and 100, or null to disable, not -1`},
		{Name: "percent not a number", Keys: map[string]any{"max_usage_percent": "ninety"},
			Want: `key "max_usage_percent": must be a number or null, not "ninety"`},
		{Name: "empty path", Keys: map[string]any{"path": ""}, Want: `key "path": must not be empty`},
		{Name: "path not a string", Keys: map[string]any{"path": []any{"/"}}, Want: `key "path": must be a string, not a list`},
		{Name: "misspelled key", Keys: map[string]any{"max_usage_precent": 80},
			Want: `key "max_usage_precent": unknown key (did you mean "max_usage_percent"?)`},
		{Name: "every error at once", Keys: map[string]any{"path": "", "max_usage_percent": 101},
			Want: "key \"max_usage_percent\": must be between 0 and 100, or null to disable, not 101\nkey \"path\": must not be empty"},
	})
}
