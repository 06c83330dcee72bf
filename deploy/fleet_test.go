package deploy

// Tests of the fleet view (docs/fleet.md): the Grafana dashboard, the
// recording rules it reads, the alerting rules, the fleet scrape config and
// the Alertmanager route, with the real tools (promtool, amtool, a real
// Alertmanager) and against what a real healthd exports.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/testsvc"
)

// scrapeLabels are the labels Prometheus adds to every series of the fleet
// job (scrape-fleet.yml's relabelling, plus job and instance).
var scrapeLabels = []string{"job", "instance", "namespace", "pod", "app"}

// exported scrapes a real healthd registry whose checks cover every kind of
// per-check series (groups, an observation, runs and durations) and returns
// the metric names (histograms with their _bucket, _sum and _count) and the
// label names it exports.
func exported(t *testing.T) (names, labels map[string]bool) {
	t.Helper()
	cfg := checkstest.Load(t, `checks:
  - {name: cert, type: fake, groups: [readiness], observe: 12, measurement: daysLeft, unit: days}
  - {name: db, type: fake, fail: down}
`)
	r := checkstest.NewRunner(t, cfg, runner.Options{})
	m := metrics.New(metrics.Options{Version: "test"})
	m.Attach(r)
	r.Run(context.Background(), r.Checks())
	names, labels = map[string]bool{}, map[string]bool{}
	deadline := time.Now().Add(testsvc.HangSlack)
	for {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(rec.Body)
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		if _, ok := fams[metrics.NameObserved]; !ok && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the observers have not heard the runs yet
			continue
		}
		for name, f := range fams {
			names[name] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[name+s] = true
				}
			}
			for _, mt := range f.Metric {
				for _, l := range mt.Label {
					labels[l.GetName()] = true
				}
			}
		}
		break
	}
	for _, n := range []string{metrics.NameObserved, metrics.NameGroupInfo, metrics.NameDuration + "_bucket"} {
		if !names[n] {
			t.Fatalf("the scrape has no %s: the test would check nothing", n)
		}
	}
	labels["le"] = true
	for _, l := range scrapeLabels {
		labels[l] = true
	}
	names["up"] = true // Prometheus's own, per scrape
	return names, labels
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// dashboardQueries returns every PromQL query of the Grafana dashboard (its
// panels' targets and its variables' label_values), keyed by where it is.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("grafana/healthd-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("healthd-fleet.json: %v", err)
	}
	q := map[string]string{}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			q[fmt.Sprintf("panel %q query %d", p.Title, i)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			q["variable "+v.Name] = v.Definition
		}
	}
	if len(q) < 10 {
		t.Fatalf("found %d queries in the dashboard", len(q))
	}
	return q
}

// grafanaVars stands in for the dashboard's variables, so that a query is
// plain PromQL.
var grafanaVars = strings.NewReplacer(`$namespace`, `.*`, `$app`, `.*`, `$__rate_interval`, `5m`)

var (
	// metricName matches a metric name in PromQL: healthd's, Prometheus's
	// up, or a recording rule's level:metric:operations name.
	metricName = regexp.MustCompile(`\b(healthd_[a-z_]+|up|[a-z_]+:[a-z_]+:[a-z0-9_]+)\b`)
	// labelLists matches by (...), without (...), on (...),
	// ignoring (...), group_left (...) and group_right (...).
	labelLists = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	// matchers matches the label names in {name="v", name=~"v"}.
	matchers    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	labelValues = regexp.MustCompile(`label_values\([^,]+,\s*([a-z_]+)\)`)
)

// namesIn returns the metric and label names a query uses.
func namesIn(expr string) (metricNames, labelNames []string) {
	expr = regexp.MustCompile(`"[^"]*"`).ReplaceAllStringFunc(expr, func(s string) string { return `""` })
	for _, m := range metricName.FindAllString(expr, -1) {
		if !slices.Contains([]string{"histogram_quantile", "label_values"}, m) {
			metricNames = append(metricNames, m)
		}
	}
	for _, m := range labelLists.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labelNames = append(labelNames, l)
			}
		}
	}
	for _, m := range matchers.FindAllStringSubmatch(expr, -1) {
		labelNames = append(labelNames, m[1])
	}
	for _, m := range labelValues.FindAllStringSubmatch(expr, -1) {
		labelNames = append(labelNames, m[1])
	}
	return metricNames, labelNames
}

// TestFleet_QueriesNameOnlyWhatHealthdExports checks every query of the
// Grafana dashboard and every recording and alerting rule: each metric is
// one a real healthd exports (or a recording rule of recording.yml), and
// each label one it exports or the fleet scrape config adds.
func TestFleet_QueriesNameOnlyWhatHealthdExports(t *testing.T) {
	names, labels := exported(t)
	recorded := map[string]bool{}
	queries := map[string]string{}
	for _, file := range []string{"prometheus/recording.yml", "prometheus/alerts.yml"} {
		for _, g := range readRules(t, file).Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
					queries[file+": "+r.Record] = r.Expr
				} else {
					queries[file+": "+r.Alert] = r.Expr
				}
			}
		}
	}
	if len(recorded) < 5 {
		t.Fatalf("recording.yml records %d series", len(recorded))
	}
	usedRecorded := map[string]bool{}
	for where, q := range dashboardQueries(t) {
		queries["dashboard: "+where] = grafanaVars.Replace(q)
	}
	for where, q := range queries {
		ms, ls := namesIn(q)
		if len(ms) == 0 {
			t.Errorf("%s: no metric found in %q", where, q)
		}
		for _, m := range ms {
			switch {
			case names[m]:
			case recorded[m]:
				if strings.HasPrefix(where, "dashboard: ") {
					usedRecorded[m] = true
				}
			default:
				t.Errorf("%s uses %s, which healthd does not export and no rule records", where, m)
			}
		}
		for _, l := range ls {
			// A recording rule's output carries only its by() labels;
			// group is one of them, from healthd_check_group_info.
			if !labels[l] {
				t.Errorf("%s uses label %s, which neither healthd nor the fleet scrape config gives", where, l)
			}
		}
	}
	for r := range recorded {
		if !usedRecorded[r] {
			t.Errorf("recording rule %s is used by no dashboard panel", r)
		}
	}
}

// The certificate rule reads the measurement the tls check records (its
// tests assert the name: internal/checks/tls_test.go).
func TestFleet_CertificateRuleReadsTheTLSCheckMeasurement(t *testing.T) {
	src, err := os.ReadFile("../internal/checks/tls.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Observe\(ctx, "([A-Za-z_]+)", [^,]+, "days"\)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("tls.go records no observation in days")
	}
	rules, err := os.ReadFile("prometheus/recording.yml")
	if err != nil {
		t.Fatal(err)
	}
	if want := `type="tls", measurement="` + string(m[1]) + `"`; !strings.Contains(string(rules), want) {
		t.Errorf("recording.yml does not select %s", want)
	}
}

// TestFleet_PromtoolChecksRulesAndDashboardQueries runs promtool on the
// recording rules and their unit tests, and on every dashboard query (as a
// rule of a scratch file: promtool parses PromQL only in rule files).
func TestFleet_PromtoolChecksRulesAndDashboardQueries(t *testing.T) {
	testsvc.NeedsServer(t)
	promtool := lookTool(t, "promtool", "scripts/setup/prometheus.sh")
	run(t, promtool, "check", "rules", "prometheus/recording.yml")
	run(t, promtool, "test", "rules", "prometheus/recording_test.yml")

	var rules []map[string]string
	qs := dashboardQueries(t)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range qs {
			if !yield(k) {
				return
			}
		}
	})
	for i, k := range keys {
		q := grafanaVars.Replace(qs[k])
		if strings.HasPrefix(q, "label_values(") { // Grafana's, not PromQL: its selector is
			q = strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(q, "label_values("), ",", 2)[0], ")")
		}
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query:%d", i), "expr": q})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, promtool, "check", "rules", path)
}

// TestFleet_ScrapeConfigAddsTheFleetLabels checks scrape-fleet.yml with
// promtool (Debian's Prometheus is built without Kubernetes discovery, so a
// copy with the discovery replaced by a static target is checked) and
// applies its relabelling to sample pods: namespace, pod and app come out.
func TestFleet_ScrapeConfigAddsTheFleetLabels(t *testing.T) {
	b, err := os.ReadFile("prometheus/scrape-fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.ScrapeConfigs) != 1 {
		t.Fatalf("%d scrape configs, want 1", len(doc.ScrapeConfigs))
	}
	job := doc.ScrapeConfigs[0]
	var relabels []relabel
	rb, _ := yaml.Marshal(job["relabel_configs"])
	if err := yaml.Unmarshal(rb, &relabels); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		meta map[string]string
		want map[string]string // nil: dropped
	}{
		{"app.kubernetes.io/name", map[string]string{"__meta_kubernetes_pod_container_port_name": "healthd", "__meta_kubernetes_namespace": "shop",
			"__meta_kubernetes_pod_name": "web-7d9f-abcde", "__meta_kubernetes_pod_label_app_kubernetes_io_name": "web", "__meta_kubernetes_pod_label_app": "legacy"},
			map[string]string{"namespace": "shop", "pod": "web-7d9f-abcde", "app": "web"}},
		{"app label only", map[string]string{"__meta_kubernetes_pod_container_port_name": "healthd", "__meta_kubernetes_namespace": "shop",
			"__meta_kubernetes_pod_name": "worker-0", "__meta_kubernetes_pod_label_app": "worker"},
			map[string]string{"namespace": "shop", "pod": "worker-0", "app": "worker"}},
		{"another container's port", map[string]string{"__meta_kubernetes_pod_container_port_name": "http", "__meta_kubernetes_namespace": "shop"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, kept := applyRelabels(t, relabels, tc.meta)
			if tc.want == nil {
				if kept {
					t.Errorf("kept, want dropped: %v", got)
				}
				return
			}
			if !kept {
				t.Fatal("dropped, want kept")
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}

	if testing.Short() {
		return
	}
	promtool := lookTool(t, "promtool", "scripts/setup/prometheus.sh")
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delete(job, "kubernetes_sd_configs")
	job["static_configs"] = []any{map[string]any{"targets": []string{"web-1:8000"}}}
	job["authorization"] = map[string]any{"type": "Bearer", "credentials_file": token}
	out, err := yaml.Marshal(map[string]any{"scrape_configs": []any{job}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, promtool, "check", "config", path)
}

// relabel is the part of Prometheus's relabel_config the fleet config uses.
type relabel struct {
	SourceLabels []string `yaml:"source_labels"`
	Separator    *string  `yaml:"separator"`
	Regex        *string  `yaml:"regex"`
	Replacement  *string  `yaml:"replacement"`
	TargetLabel  string   `yaml:"target_label"`
	Action       string   `yaml:"action"`
}

// applyRelabels applies rs as Prometheus does for the replace and keep
// actions (anchored regex, default separator ";", replacement "$1").
func applyRelabels(t *testing.T, rs []relabel, labels map[string]string) (map[string]string, bool) {
	t.Helper()
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	for _, r := range rs {
		sep, re, repl := ";", "(.*)", "$1"
		if r.Separator != nil {
			sep = *r.Separator
		}
		if r.Regex != nil {
			re = *r.Regex
		}
		if r.Replacement != nil {
			repl = *r.Replacement
		}
		var vals []string
		for _, s := range r.SourceLabels {
			vals = append(vals, out[s])
		}
		val := strings.Join(vals, sep)
		rx := regexp.MustCompile("^(?:" + re + ")$")
		switch r.Action {
		case "keep":
			if !rx.MatchString(val) {
				return out, false
			}
		case "", "replace":
			m := rx.FindStringSubmatchIndex(val)
			if m == nil {
				continue
			}
			res := string(rx.ExpandString(nil, repl, val, m))
			if res == "" {
				delete(out, r.TargetLabel)
			} else {
				out[r.TargetLabel] = res
			}
		default:
			t.Fatalf("relabel action %q: not modelled by this test", r.Action)
		}
	}
	return out, true
}

// TestFleet_AlertmanagerPagesOncePerOutage runs amtool on the example
// Alertmanager config and its routes, then a real Alertmanager with it (its
// receivers pointed at a local webhook, its waits shortened): the same
// check failing on three pods of one app is one notification, listing the
// three, not three.
func TestFleet_AlertmanagerPagesOncePerOutage(t *testing.T) {
	testsvc.NeedsServer(t)
	amtool := lookTool(t, "amtool", "scripts/setup/alertmanager.sh")
	run(t, amtool, "check-config", "alertmanager/alertmanager.yml")
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=HealthdCheckFailing", "severity=critical", "app=web", "check=database"}, "pager"},
		{[]string{"alertname=HealthdDown", "severity=critical", "app=web"}, "pager"},
		{[]string{"alertname=HealthdCheckWarning", "severity=warning", "app=web", "check=disk"}, "team-chat"},
	} {
		args := append([]string{"config", "routes", "test", "--config.file=alertmanager/alertmanager.yml"}, tc.labels...)
		if got := strings.TrimSpace(run(t, amtool, args...)); got != tc.want {
			t.Errorf("route for %v = %q, want %q", tc.labels, got, tc.want)
		}
	}

	am := lookTool(t, "prometheus-alertmanager", "scripts/setup/alertmanager.sh")
	var mu sync.Mutex
	var notes []struct {
		Receiver string `json:"receiver"`
		Alerts   []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n struct {
			Receiver string `json:"receiver"`
			Alerts   []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal(b, &n); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		notes = append(notes, n)
		mu.Unlock()
	}))
	defer hook.Close()

	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`url: http://[a-z.]+/alertmanager`).ReplaceAllString(string(b), "url: "+hook.URL+"/")
	cfg = strings.Replace(cfg, "group_wait: 30s", "group_wait: 1s", 1)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testsvc.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(am, "--config.file="+cfgPath, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	var logs testsvc.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitReady(t, "http://"+addr+"/-/ready", &logs)

	var alerts []map[string]any
	for _, pod := range []string{"web-1", "web-2", "web-3"} {
		alerts = append(alerts, map[string]any{"labels": map[string]string{
			"alertname": "HealthdCheckFailing", "severity": "critical", "job": "healthd", "namespace": "shop", "app": "web",
			"pod": pod, "instance": pod + ":8000", "check": "database", "type": "postgres",
		}})
	}
	body, _ := json.Marshal(alerts)
	resp, err := http.Post("http://"+addr+"/api/v2/alerts", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("posting alerts: %s", resp.Status)
	}

	// group_wait is 1 s: wait for a first notification, then a while more
	// for any other that would come from a per-pod grouping.
	deadline := time.Now().Add(testsvc.HangSlack + 5*time.Second)
	for {
		mu.Lock()
		n := len(notes)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification from Alertmanager:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(notes) != 1 {
		t.Fatalf("%d notifications for one outage on three pods, want 1: %+v", len(notes), notes)
	}
	if notes[0].Receiver != "pager" || len(notes[0].Alerts) != 3 {
		t.Errorf("notification to %q with %d alerts, want pager with the three pods", notes[0].Receiver, len(notes[0].Alerts))
	}
}

func lookTool(t *testing.T, name, setup string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (%s installs it): %v", name, setup, err)
	}
	return p
}

// run runs a tool and returns its standard output; a failure fails the
// test with both outputs.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func waitReady(t *testing.T, url string, logs *testsvc.Buffer) {
	t.Helper()
	deadline := time.Now().Add(testsvc.HangSlack * 2)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alertmanager not ready at %s: %v\n%s", url, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
