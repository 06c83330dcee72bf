// Package docs holds the test of the examples under docs/examples/: each
// YAML file there is loaded as what it is, so the guides cannot drift from
// what healthd accepts.
package docs

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

// sampleEnv stands in for the variables the examples read.
var sampleEnv = map[string]string{
	"DATABASE_URL":       "postgres://app:pw@db.internal:5432/app",
	"MEMCACHED_LOCATION": "cache.internal:11211",
	"MEDIA_ROOT":         "/srv/media",
	"DJANGO_PROJECT_DIR": "/srv/app",
	"REDIS_URL":          "redis://cache.internal:6379/0",
	"BROKER_URL":         "amqp://app:pw@mq.internal:5672/",
	"SMTP_PASSWORD":      "pw",
}

func lookup(k string) (string, bool) { v, ok := sampleEnv[k]; return v, ok }

// Every healthd config under docs/examples loads as healthd validate loads
// it; every Kubernetes example's probes ask for paths and ports a healthd
// container of the same pod serves (or, for the "before" form, the app's).
func TestExamples_Load(t *testing.T) {
	t.Chdir("..") // paths in the examples (server.template) are from the repository's root
	files, err := filepath.Glob("docs/examples/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(filepath.Base(f), "kubernetes-") {
				checkManifest(t, data)
				return
			}
			if _, err := config.Parse(f, data, config.Options{LookupEnv: lookup}); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
}

type manifest struct {
	Spec struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Name  string   `yaml:"name"`
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name string `yaml:"name"`
					} `yaml:"env"`
					ReadinessProbe *struct {
						HTTPGet struct {
							Path string `yaml:"path"`
							Port any    `yaml:"port"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// checkManifest checks that the readiness probe's port is a port of the pod
// and, when a healthd container runs with no config file, that it serves
// the probe: zero-config healthd listens on :8000 and serves /ht/, and the
// app's variables give it its checks.
func checkManifest(t *testing.T, data []byte) {
	t.Helper()
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	ports := map[int]string{}
	var healthd, app []string
	for _, c := range m.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.ContainerPort] = c.Name
		}
		var env []string
		for _, e := range c.Env {
			env = append(env, e.Name)
		}
		if c.Name == "healthd" {
			healthd = env
			for _, a := range c.Args {
				if strings.HasPrefix(a, "--config") {
					t.Errorf("the healthd container passes %s: the example is the zero-config sidecar", a)
				}
			}
		} else {
			app = env
		}
	}
	for _, c := range m.Spec.Template.Spec.Containers {
		if c.ReadinessProbe == nil {
			continue
		}
		port, ok := c.ReadinessProbe.HTTPGet.Port.(int)
		if !ok {
			t.Fatalf("%s: readiness probe port %v is not a number", c.Name, c.ReadinessProbe.HTTPGet.Port)
		}
		owner, ok := ports[port]
		if !ok {
			t.Errorf("%s: readiness probe on port %d, which no container of the pod declares", c.Name, port)
		}
		if healthd != nil {
			if owner != "healthd" || port != 8000 || c.ReadinessProbe.HTTPGet.Path != "/ht/" {
				t.Errorf("%s: readiness probe %s on %d (%s); want healthd's /ht/ on 8000", c.Name, c.ReadinessProbe.HTTPGet.Path, port, owner)
			}
		}
	}
	if healthd == nil {
		return
	}
	// The checks healthd builds from its variables: one for each of the
	// app's dependency variables.
	d, err := config.FromEnv(func(k string) (string, bool) {
		for _, e := range healthd {
			if e == k {
				return sampleEnv[k], true
			}
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range app {
		if d.Var(firstCheckOf(d, v)) == "" {
			t.Errorf("the app has %s but healthd builds no check from it (give the healthd container the variable)", v)
		}
	}
}

func firstCheckOf(d *config.Derived, variable string) string {
	for _, s := range d.Sources {
		if s.Var == variable {
			return s.Check
		}
	}
	return ""
}

// Every check in a YAML block of the guides that hold whole checks loads as
// healthd validate loads it: the guides' snippets cannot drift from the
// types' keys.
func TestGuides_CheckSnippetsLoad(t *testing.T) {
	for _, guide := range []string{"custom-checks.md", "zero-config.md", "migrating-from-django-health-check.md"} {
		data, err := os.ReadFile(guide)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(data), "```yaml\n")[1:]
		n := 0
		for i, b := range blocks {
			b, _, _ = strings.Cut(b, "```")
			var yamlText string
			switch {
			case strings.HasPrefix(strings.TrimLeft(b, " "), "- name:") || strings.HasPrefix(strings.TrimLeft(b, " "), "- {name:"):
				yamlText = "checks:\n" + b
			case strings.Contains(b, "\nchecks:\n") || strings.HasPrefix(b, "checks:\n"):
				yamlText = b
			default:
				continue
			}
			if strings.Contains(b, "image:") || strings.Contains(b, "type: jobs") {
				continue // a Kubernetes container; the Go example's own type (TestGuides_GoTypeBuildsAndRuns loads it)
			}
			n++
			if _, err := config.Parse(guide, []byte(yamlText), config.Options{LookupEnv: lookup}); err != nil {
				t.Errorf("%s, YAML block %d: %v\n%s", guide, i+1, err, b)
			}
		}
		if guide == "custom-checks.md" && n < 3 {
			t.Errorf("%s: only %d check snippets found", guide, n)
		}
	}
}

// The guide's JSON body is docs/examples/body.json, byte for byte (test/django
// compares that file with what django-health-check 3.17 and healthd answer).
func TestGuide_JSONBodyIsTheExampleFile(t *testing.T) {
	guide, err := os.ReadFile("migrating-from-django-health-check.md")
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("examples/body.json")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(guide), "```json\n")
	if len(blocks) != 2 {
		t.Fatalf("the guide has %d JSON blocks, want 1", len(blocks)-1)
	}
	shown, _, _ := strings.Cut(blocks[1], "\n```")
	if shown != string(body) {
		t.Errorf("the guide shows\n%s\nexamples/body.json is\n%s", shown, body)
	}
}

// The custom-template example loads as server.template and serves /ht/:
// every check's row with its name, and the keyword marker.
func TestExamples_TemplateServesThePage(t *testing.T) {
	t.Chdir("..")
	cfg, err := config.Load("docs/examples/healthd-template.yaml", config.Options{LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Template != "docs/examples/template/status.html" {
		t.Fatalf("server.template = %q", cfg.Server.Template)
	}
	if err := server.CheckTemplate(cfg.Server.Template); err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	hs := server.New(server.Options{Version: "test"})
	st, err := hs.NewState(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	hs.Swap(st)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/ht/", nil)
	req.Header.Set("Accept", "text/html")
	hs.ServeHTTP(rec, req)
	page := rec.Body.String()
	for _, want := range []string{"<td>DatabaseBackend</td>", "<td>Cache backend: default</td>", `data-healthd-status="`, "Time Taken"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
}

// The 4.x "before" urls.py is Python that compiles.
func TestExamples_PythonCompiles(t *testing.T) {
	files, err := filepath.Glob("examples/django-health-check/*.py")
	if err != nil || len(files) < 3 {
		t.Fatalf("python examples: %v %v", files, err)
	}
	for _, f := range files {
		// -c compile(): py_compile would write __pycache__ into docs/.
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/bin/python3", "-c", "import sys; compile(sys.stdin.read(), sys.argv[1], 'exec')", f)
		cmd.Stdin = strings.NewReader(string(src))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s does not compile: %v\n%s", f, err, out)
		}
	}
}
