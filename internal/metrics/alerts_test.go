package metrics_test

import (
	"os"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/metrics"
)

// The example alerting rules use only metrics healthd exports (promtool
// checks their syntax: see docs/ecosystem.md).
func TestAlertRules_UseExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	exported := map[string]bool{}
	for _, n := range []string{metrics.NameState, metrics.NameUp, metrics.NameLastDuration, metrics.NameLastRun,
		metrics.NameRuns, metrics.NameBuildInfo, metrics.NameReloadOK, metrics.NameReloadTime} {
		exported[n] = true
	}
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		exported[metrics.NameDuration+s] = true
	}
	name := regexp.MustCompile(`healthd_[a-z_]+`)
	rules := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			rules++
			for _, n := range name.FindAllString(r.Expr, -1) {
				if !exported[n] {
					t.Errorf("alert %s uses %s, which healthd does not export", r.Alert, n)
				}
			}
		}
	}
	if rules == 0 {
		t.Error("no rules in alerts.yml")
	}
}
