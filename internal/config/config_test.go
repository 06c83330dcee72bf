package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
)

var update = flag.Bool("update", false, "rewrite testdata/*.err golden files and docs/configuration.md's key tables")

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestLoad_Errors pins the exact message for every bad file in testdata:
// each names the file, the check and the key, and all are reported at once.
func TestLoad_Errors(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range files {
		if filepath.Base(f) == "valid.yaml" {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := config.Load(f, config.Options{Registry: goldenRegistry(t), LookupEnv: env(nil)})
			if err == nil {
				t.Fatalf("%s loaded without error", f)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			got := err.Error() + "\n"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("missing golden file %s (run go test -update): %v", golden, rerr)
			}
			if got != string(want) {
				t.Errorf("errors differ:\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// goldenRegistry holds a fixed set of types, so the golden messages (which
// list the known types) do not change each time a type is added.
func goldenRegistry(t *testing.T) *checks.Registry {
	r := checks.NewRegistry().MustRegister(checkstest.Type)
	for _, name := range []string{"disk", "postgres"} {
		typ, ok := checks.Builtin().Lookup(name)
		if !ok {
			t.Fatalf("built-in type %s missing", name)
		}
		r.MustRegister(typ)
	}
	return r
}

func TestLoad_Valid(t *testing.T) {
	cfg, err := config.Load("testdata/valid.yaml", config.Options{
		Registry:  checkstest.Registry(),
		LookupEnv: env(map[string]string{"TEST_DSN": "postgres://app:pa55word@db:5432/app"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != ":9000" || cfg.Server.Path != "/health/" || cfg.Server.FailureStatus != 503 {
		t.Errorf("server: %+v", cfg.Server)
	}
	if cfg.HealthCheck.DiskUsageMax != nil {
		t.Errorf("DISK_USAGE_MAX: null must disable, got %v", *cfg.HealthCheck.DiskUsageMax)
	}
	if m := cfg.HealthCheck.MemoryMin; m == nil || *m != 250 {
		t.Errorf("MEMORY_MIN: %v", m)
	}
	if cfg.HealthCheck.WarningsAsErrors {
		t.Errorf("WARNINGS_AS_ERRORS false not read")
	}
	if len(cfg.Checks) != 2 {
		t.Fatalf("checks: %d", len(cfg.Checks))
	}
	db, second := cfg.Checks[0], cfg.Checks[1]
	if db.Timeout != 1500*time.Millisecond || !db.Critical || db.CacheTTL != time.Second || db.Groups[0] != "readiness" {
		t.Errorf("db: %+v", db)
	}
	if second.Name != "fake" || second.Critical || second.Timeout != 300*time.Millisecond || second.CacheTTL != 0 {
		t.Errorf("second (name defaults to type): %+v", second)
	}
	if f := checkstest.FakeOf(checkstest.NewRunner(t, cfg, runner.Options{}), second.Name); f.Note != "fallback" {
		t.Errorf("${VAR:-default}: %q", f.Note)
	}
	if !contains(cfg.Secrets(), "pa55word") {
		t.Errorf("the DSN's password is not among the secrets to redact: %v", cfg.Secrets())
	}
	if g := cfg.Groups(); len(g) != 1 || g[0] != "readiness" {
		t.Errorf("groups: %v", g)
	}
}

func TestLoad_Defaults(t *testing.T) {
	cfg, err := config.Parse("x.yaml", []byte("checks: [{type: fake}]\n"), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if s.Listen != ":8000" || s.Path != "/ht/" || s.FailureStatus != 500 {
		t.Errorf("server defaults: %+v", s)
	}
	h := cfg.HealthCheck
	if h.DiskUsageMax == nil || *h.DiskUsageMax != 90 || h.MemoryMin == nil || *h.MemoryMin != 100 || !h.WarningsAsErrors {
		t.Errorf("health_check defaults: %+v", h)
	}
	if cfg.Checks[0].Timeout != 2*time.Second {
		t.Errorf("default timeout %v", cfg.Checks[0].Timeout)
	}
}

func TestLoad_OverridesFromEnvironment(t *testing.T) {
	t.Setenv("HEALTHD_SERVER_LISTEN", "127.0.0.1:9999")
	cfg, err := config.Parse("x.yaml", []byte("server: {listen: ':8000'}\nchecks: [{type: fake}]\n"),
		config.Options{Registry: checkstest.Registry(), Overrides: config.NewOverrides()})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:9999" {
		t.Errorf("HEALTHD_SERVER_LISTEN not applied: %q", cfg.Server.Listen)
	}
}

func TestLoad_ErrorsNeverEchoSecrets(t *testing.T) {
	yaml := `checks:
  - {name: a, type: fake, dsn: "postgres://u:TopSecret99@h/db", tiemout: 1s}
  - {name: b, type: fake, password: "TopSecret99", sleep: "TopSecret99"}
`
	_, err := config.Parse("x.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry()})
	if err == nil {
		t.Fatal("want errors")
	}
	if strings.Contains(err.Error(), "TopSecret99") {
		t.Fatalf("secret in config error: %v", err)
	}
}

func TestSecretsIn(t *testing.T) {
	cases := []struct {
		key, value string
		want       []string
	}{
		{"dsn", "postgres://app:s3cret@db/app", []string{"s3cret"}},
		{"url", "amqp://guest:p%40ss@rabbit:5672/", []string{"p@ss", "p%40ss"}},
		{"dsn", "host=db user=app password=kv-secret dbname=x", []string{"kv-secret"}},
		{"dsn", "host=db password='quoted secret' dbname=x", []string{"quoted secret"}},
		{"secret_access_key", "AKIAxyz", []string{"AKIAxyz"}},
		{"url", "redis://127.0.0.1:6379/0", nil},
	}
	for _, c := range cases {
		got := checksSecretsIn(c.key, c.value)
		for _, w := range c.want {
			if !contains(got, w) {
				t.Errorf("%s=%q: %q not found in %q", c.key, c.value, w, got)
			}
		}
		if len(c.want) == 0 && len(got) != 0 {
			t.Errorf("%s=%q: unexpected secrets %q", c.key, c.value, got)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestLoad_NotifyHeadersAndURLAreSecrets(t *testing.T) {
	cfg, err := config.Parse("n.yaml", []byte(`
notify:
  - url: https://hooks.slack.com/services/T0/B0/XyZ
    format: slack
    headers: {Authorization: "Bearer s3cr3t"}
    checks: [db]
checks: [{name: db, type: fake}]
`), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notify[0]
	if n.Headers["Authorization"] != "Bearer s3cr3t" || len(n.Checks) != 1 || n.Timeout != 5*time.Second || n.Retries != 3 {
		t.Errorf("parsed %+v", n)
	}
	secrets := strings.Join(cfg.Secrets(), " ")
	for _, s := range []string{"Bearer s3cr3t", "https://hooks.slack.com/services/T0/B0/XyZ"} {
		if !strings.Contains(secrets, s) {
			t.Errorf("Secrets() lacks %q", s)
		}
	}
}
