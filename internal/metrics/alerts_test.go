package metrics_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/testsvc"
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
		metrics.NameRuns, metrics.NameBuildInfo, metrics.NameReloadOK, metrics.NameReloadTime, metrics.NameObserved, metrics.NameGroupInfo} {
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

// promtool returns the path of promtool (scripts/setup/prometheus.sh
// installs it); the test fails without it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is needed (scripts/setup/prometheus.sh installs it): %v", err)
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRules_PromtoolChecksThem(t *testing.T) {
	if testing.Short() {
		t.Skip("runs promtool")
	}
	runPromtool(t, "check", "rules", "../../deploy/prometheus/alerts.yml")
}

// deploy/prometheus/alerts_test.yml, the rules' unit tests on made-up series.
func TestAlertRules_PromtoolUnitTests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs promtool")
	}
	runPromtool(t, "test", "rules", "../../deploy/prometheus/alerts_test.yml")
}

// A disk over its threshold is a warning, not an outage: under both values
// of WARNINGS_AS_ERRORS, the alert rules fire HealthdCheckWarning for it and
// HealthdCheckFailing only for the check that really fails. healthd serves
// a real disk check (DISK_USAGE_MAX 0.001, below any real usage), a disk
// check without a threshold and a TCP check of a closed port; /metrics is
// scraped, its series held for 40 minutes as every later scrape would
// return them, and promtool evaluates alerts.yml over them.
// WARNINGS_AS_ERRORS decides only the status code of /ht/.
func TestAlertRules_DiskThresholdWarnsAndDoesNotPage(t *testing.T) {
	if testing.Short() {
		t.Skip("serves real checks and runs promtool")
	}
	rules, err := filepath.Abs("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, wae := range []bool{true, false} {
		t.Run(fmt.Sprintf("WARNINGS_AS_ERRORS=%v", wae), func(t *testing.T) {
			base := serveDaemon(t, fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
health_check: {DISK_USAGE_MAX: 0.001, WARNINGS_AS_ERRORS: %v}
checks:
  - {name: disk, type: disk, path: /}
  - {name: root-usage, type: disk, path: /, max_usage_percent: null}
  - {name: refused, type: tcp, address: "%s", critical: false}
`, wae, testsvc.RefusedAddr(t)))

			code, body := httpGet(t, base+"/ht/?format=json")
			if want := map[bool]int{true: 500, false: 200}[wae]; code != want {
				t.Errorf("/ht/ answered %d, want %d: %s", code, want, body)
			}
			if !strings.Contains(body, `"disk": "warning: `) {
				t.Errorf("/ht/ body lacks the disk warning: %s", body)
			}

			fams := scrapeRuns(t, base, 3)
			l := map[string]string{"check": "disk", "type": "disk"}
			for name, want := range map[string]float64{metrics.NameState: 1, metrics.NameUp: 1} {
				if v, _ := series(fams, name, l); v != want {
					t.Errorf("disk %s %v, want %v", name, v, want)
				}
			}
			if v, _ := series(fams, metrics.NameRuns, map[string]string{"check": "disk", "result": "failing"}); v != 0 {
				t.Errorf("disk runs{result=failing} %v, want 0", v)
			}

			test := filepath.Join(t.TempDir(), "scraped_test.yml")
			if err := os.WriteFile(test, []byte(promtoolTest(rules, fams, diskAlerts)), 0o644); err != nil {
				t.Fatal(err)
			}
			runPromtool(t, "test", "rules", test)
		})
	}
}

// A certificate within warn_days pages nobody: a real tls check against a
// loopback server whose certificate expires in 10 days (warn_days 14) warns,
// and over the scraped series HealthdCertificateExpiring fires, with the days
// left from its daysLeft observation, while HealthdCheckWarning (which leaves
// tls to it) and HealthdCheckFailing do not. A certificate within fail_days
// (2 days left; fail_days 3) or expired fails, and HealthdCheckFailing fires
// instead.
func TestAlertRules_ExpiringCertificateWarnsAndExpiredPages(t *testing.T) {
	if testing.Short() {
		t.Skip("serves real checks and runs promtool")
	}
	rules, err := filepath.Abs("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	const day = 24 * time.Hour
	ca := testsvc.NewCA(t)
	failing := `      - eval_time: 40m
        alertname: HealthdCheckFailing
        exp_alerts:
          - exp_labels: {severity: critical, job: healthd, instance: "healthd:8000", check: cert, type: tls}
            exp_annotations:
              summary: "cert (tls) is failing on healthd:8000"
              description: "healthd's check cert has failed for 5 minutes. The message is on the dashboard and in GET /ht/check/cert/?format=text (with the bearer token)."
      - eval_time: 40m
        alertname: HealthdCertificateExpiring
        exp_alerts: []
      - eval_time: 40m
        alertname: HealthdCheckWarning
        exp_alerts: []
`
	for _, tc := range []struct {
		name     string
		expires  time.Duration // from now
		state    float64       // healthd_check_state: 0 failing, 1 warning
		up       float64
		daysLeft float64 // in tenths, rounded down
		alerts   string
	}{
		{name: "10 days left warns", expires: 10 * day, state: 1, up: 1, daysLeft: 9.9, alerts: `      - eval_time: 40m
        alertname: HealthdCertificateExpiring
        exp_alerts:
          - exp_labels: {severity: warning, job: healthd, instance: "healthd:8000", check: cert, type: tls}
            exp_annotations:
              summary: "The certificate checked by cert expires within its warn_days (healthd:8000): 9.9 days left"
              description: "Renew it before fail_days, when the check fails and pages; the message says the date: /ht/check/cert/."
      - eval_time: 40m
        alertname: HealthdCheckWarning
        exp_alerts: []
      - eval_time: 40m
        alertname: HealthdCheckFailing
        exp_alerts: []
`},
		{name: "2 days left pages", expires: 2 * day, state: 0, up: 0, daysLeft: 1.9, alerts: failing},
		{name: "expired pages", expires: -2 * day, state: 0, up: 0, daysLeft: -2.1, alerts: failing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testsvc.ServeTLS(t, ca.Issue([]string{"127.0.0.1"}, time.Now().Add(tc.expires)))
			base := serveDaemon(t, fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
checks:
  - {name: cert, type: tls, address: "%s", ca_file: "%s", warn_days: 14, fail_days: 3}
`, addr, ca.File))
			fams := scrapeRuns(t, base, 1)
			l := map[string]string{"check": "cert", "type": "tls"}
			for name, want := range map[string]float64{metrics.NameState: tc.state, metrics.NameUp: tc.up} {
				if v, _ := series(fams, name, l); v != want {
					_, said := httpGet(t, base+"/ht/?format=json")
					t.Errorf("cert %s %v, want %v; /ht/ says %s", name, v, want, said)
				}
			}
			if v, ok := series(fams, metrics.NameObserved, map[string]string{"check": "cert", "measurement": "daysLeft", "unit": "days"}); !ok || v != tc.daysLeft {
				t.Errorf("cert daysLeft %v (exported: %v), want %v", v, ok, tc.daysLeft)
			}

			test := filepath.Join(t.TempDir(), "scraped_test.yml")
			if err := os.WriteFile(test, []byte(promtoolTest(rules, fams, tc.alerts)), 0o644); err != nil {
				t.Fatal(err)
			}
			runPromtool(t, "test", "rules", test)
		})
	}
}

// serveDaemon runs healthd's daemon (the built-in check types) on yaml
// until the test ends and returns its base URL.
func serveDaemon(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &testsvc.Buffer{}
	go func() {
		done <- daemon.Serve(ctx, daemon.Options{ConfigPath: path, Version: "test", Stderr: logs, NoWatch: true,
			Ready: func(a string) { addr <- a }})
	}()
	select {
	case a := <-addr:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, logs)
			}
		})
		return "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(30 * time.Second): // did not hang
		cancel()
		t.Fatalf("serve did not start\n%s", logs)
	}
	return ""
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrapeRuns scrapes base's /metrics until the runs counters show a run of
// each of the n checks (observers hear of a run just after probes get it).
func scrapeRuns(t *testing.T, base string, n int) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // did not hang
	for {
		code, body := httpGet(t, base+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics answered %d", code)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		ran := map[string]bool{}
		if f, ok := fams[metrics.NameRuns]; ok {
			for _, m := range f.Metric {
				if m.GetCounter().GetValue() > 0 {
					ran[labelValue(m, "check")] = true
				}
			}
		}
		if len(ran) >= n {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, /metrics shows runs of %d checks, want %d:\n%s", len(ran), n, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// promtoolTest is a promtool rule unit test of rules over the gauges and
// counters of fams, as Prometheus would have stored them from a target
// (job healthd, instance healthd:8000) that answered the same for 40
// minutes, with alerts as its alert_rule_test list.
func promtoolTest(rules string, fams map[string]*dto.MetricFamily, alerts string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rule_files: [%q]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n", rules)
	names := slices.Sorted(maps.Keys(fams))
	for _, name := range names {
		if !strings.HasPrefix(name, "healthd_") {
			continue
		}
		for _, m := range fams[name].Metric {
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Counter != nil:
				v = m.Counter.GetValue()
			default:
				continue // the histogram: no rule asserted here reads it
			}
			labels := []string{`job="healthd"`, `instance="healthd:8000"`}
			for _, l := range m.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			series := name + "{" + strings.Join(labels, ",") + "}"
			fmt.Fprintf(&b, "      - series: %q\n        values: '%sx40'\n", series, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	b.WriteString("    alert_rule_test:\n")
	b.WriteString(alerts)
	return b.String()
}

// diskAlerts: HealthdCheckWarning fires for disk only and
// HealthdCheckFailing for refused only.
const diskAlerts = `      - eval_time: 40m
        alertname: HealthdCheckWarning
        exp_alerts:
          - exp_labels: {severity: warning, job: healthd, instance: "healthd:8000", check: disk, type: disk}
            exp_annotations:
              summary: "disk has warned for 30 minutes on healthd:8000"
              description: "A threshold is crossed (disk usage, available memory…): see /ht/check/disk/."
      - eval_time: 40m
        alertname: HealthdCheckFailing
        exp_alerts:
          - exp_labels: {severity: critical, job: healthd, instance: "healthd:8000", check: refused, type: tcp}
            exp_annotations:
              summary: "refused (tcp) is failing on healthd:8000"
              description: "healthd's check refused has failed for 5 minutes. The message is on the dashboard and in GET /ht/check/refused/?format=text (with the bearer token)."
`
