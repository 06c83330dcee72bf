package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

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

// TestLoad_HostileFilesAreRefusedQuickly loads files that would exhaust a
// loader following aliases or reading without limit: each is refused with
// an error naming the file (and the alias's line), well within a
// did-not-hang bound, allocating a bounded amount of memory.
func TestLoad_HostileFilesAreRefusedQuickly(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("checks: []\n# "+strings.Repeat("x", config.MaxFileSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ file, want string }{
		{"testdata/alias_bomb.yaml", `testdata/alias_bomb.yaml:8: key "a6[0]": the alias *a5 expands to more than 100000 values`},
		{"testdata/alias_text.yaml", `testdata/alias_text.yaml:10: key "x7[0]": the alias *t6 expands to more than 8 MiB of text`},
		{"testdata/alias_cycle.yaml", `testdata/alias_cycle.yaml:2: the alias *s is inside the value it refers to`},
		{"/dev/zero", `/dev/zero: cannot read config: the file is larger than 1048576 bytes`},
		{big, big + `: cannot read config: the file is larger than 1048576 bytes`},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			done := make(chan error, 1)
			go func() {
				_, err := config.Load(c.file, config.Options{Registry: checkstest.Registry(), LookupEnv: env(nil)})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: still loading after 10 s", c.file)
			}
			runtime.ReadMemStats(&after)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("got %v\nwant an error starting %q", err, c.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("loading allocated %d MiB, want a bounded amount (under 64 MiB)", grew>>20)
			}
		})
	}
}

// Parse, which a reload calls with the bytes it read, refuses more than a
// file may hold too.
func TestParse_RefusesMoreThanAFileMayHold(t *testing.T) {
	data := []byte("checks: [{type: fake}]\n#" + strings.Repeat("x", config.MaxFileSize))
	_, err := config.Parse("big.yaml", data, config.Options{Registry: checkstest.Registry()})
	if err == nil || !strings.Contains(err.Error(), "big.yaml: cannot read config: the file is larger than 1048576 bytes") {
		t.Fatalf("got %v", err)
	}
}

// Aliases within the bounds still work, and an empty document after a
// trailing --- is not a second document.
func TestLoad_ModestAliasesAndATrailingSeparator(t *testing.T) {
	cfg, err := config.Parse("x.yaml", []byte("checks:\n  - {type: fake, timeout: &t 1s, note: &n hello}\n  - {name: b, type: fake, timeout: *t, note: *n}\n---\n"),
		config.Options{Registry: checkstest.Registry(), LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Checks) != 2 || cfg.Checks[1].Timeout != time.Second || checkstest.FakeOf(checkstest.NewRunner(t, cfg, runner.Options{}), "b").Note != "hello" {
		t.Errorf("checks: %+v", cfg.Checks)
	}
}

// An expansion error locates the mistake and names file, line, check and
// key, but shows no character of the value: a "${" in a password is a typo
// for "$${", and the text around it is the password.
func TestLoad_ExpansionErrorsShowNoPartOfTheValue(t *testing.T) {
	_, err := config.Load("testdata/expansion_errors.yaml", config.Options{Registry: goldenRegistry(t), LookupEnv: env(nil)})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, frag := range []string{"Hunter", "a-b", "x$", "db.internal", "@db", "app:"} {
		if strings.Contains(err.Error(), frag) {
			t.Errorf("the errors show %q, part of a value:\n%v", frag, err)
		}
	}
	for _, want := range []string{
		`testdata/expansion_errors.yaml:5: check "db": key "dsn": unclosed ${ at character 22`,
		`testdata/expansion_errors.yaml:8: check "db2": key "dsn": the ${...} at character 17`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("%d errors, want 3 (one per value; nothing about the unexpanded text):\n%v", n, err)
	}
}

// A value from a HEALTHD_SERVER_* variable or a flag is reported under its
// name, not as a line of the file that it overrides.
func TestLoad_OverrideErrorsNameTheirSource(t *testing.T) {
	file := []byte("server: {listen: ':8000'}\nchecks: [{type: fake}]\n")
	t.Setenv("HEALTHD_SERVER_LISTEN", "not an address")
	t.Setenv("HEALTHD_SERVER_FAILURE_STATUS", "200")
	_, err := config.Parse("x.yaml", file, config.Options{Registry: checkstest.Registry(), Overrides: config.NewOverrides()})
	want := "HEALTHD_SERVER_FAILURE_STATUS: must be a 4xx or 5xx status such as 500 or 503, not 200\n" +
		`HEALTHD_SERVER_LISTEN: must be host:port or :port, such as :8000 or 127.0.0.1:8000, not "not an address"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}

	v := config.NewOverrides()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("listen", "", "")
	if err := v.BindPFlag("server.listen", fs.Lookup("listen")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--listen", "127.0.0.1:http-nope"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HEALTHD_SERVER_FAILURE_STATUS", "503")
	_, err = config.Parse("x.yaml", file, config.Options{Registry: checkstest.Registry(), Overrides: v})
	want = `--listen: port "http-nope" is neither a number nor a known service name`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// server.path may not hide healthd's own endpoints; a path that merely
// starts like one may.
func TestLoad_ServerPathMayNotShadowABuiltinEndpoint(t *testing.T) {
	for path, want := range map[string]string{
		"/metrics":   "must not be /metrics",
		"/metrics/":  "must not be /metrics",
		"/ping":      "must not be /ping",
		"/-/reload/": "must not be /-/reload",
		"/-/":        "must not be /-: healthd serves /-/reload there",
		"/-/health/": "must not be /-/health: healthd serves /-/reload there",
		"/ht/":       "",
		"/pingpong/": "",
		"/metrics2/": "",
		"/":          "",
	} {
		_, err := config.Parse("x.yaml", []byte("server: {path: '"+path+"'}\nchecks: [{type: fake}]\n"), config.Options{Registry: checkstest.Registry()})
		switch {
		case want == "" && err != nil:
			t.Errorf("path %s: %v", path, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), `key "server.path": `+want)):
			t.Errorf("path %s: got %v, want %q", path, err, want)
		}
	}
}

// Every per-check key with a default can be set for all checks under
// defaults:, and a check's own value still wins.
func TestLoad_DefaultsSetEveryPerCheckKey(t *testing.T) {
	cfg, err := config.Parse("x.yaml", []byte(`defaults:
  critical: false
  timeout: 3s
  cache_ttl: 4s
  max_stale: 5s
  interval: 30s
  failures_before_critical: 3
  successes_before_passing: 2
  history: 50
checks:
  - {name: inherits, type: fake}
  - {name: own, type: fake, critical: true, timeout: 1s, cache_ttl: 0s, max_stale: 0s, interval: 0s,
     failures_before_critical: 1, successes_before_passing: 1, history: 10}
`), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	got := func(c *config.Check) config.Defaults {
		return config.Defaults{Critical: c.Critical, Timeout: c.Timeout, CacheTTL: c.CacheTTL, MaxStale: c.MaxStale, Interval: c.Interval,
			FailuresBeforeCritical: c.FailuresBeforeCritical, SuccessesBeforePassing: c.SuccessesBeforePassing, History: c.History}
	}
	inherits := config.Defaults{Critical: false, Timeout: 3 * time.Second, CacheTTL: 4 * time.Second, MaxStale: 5 * time.Second,
		Interval: 30 * time.Second, FailuresBeforeCritical: 3, SuccessesBeforePassing: 2, History: 50}
	own := config.Defaults{Critical: true, Timeout: time.Second, Interval: 0, FailuresBeforeCritical: 1, SuccessesBeforePassing: 1, History: 10}
	if g := got(cfg.Checks[0]); g != inherits {
		t.Errorf("inherits:\n got %+v\nwant %+v", g, inherits)
	}
	if g := got(cfg.Checks[1]); g != own {
		t.Errorf("own:\n got %+v\nwant %+v", g, own)
	}
	if cfg.Defaults != inherits {
		t.Errorf("cfg.Defaults %+v", cfg.Defaults)
	}
}

// A check's secrets are taken as its driver reads the value: pgx accepts a
// '#' in a password that net/url rejects, and it must be redacted all the
// same.
func TestLoad_SecretsAsTheDriversReadThem(t *testing.T) {
	cfg, err := config.Parse("x.yaml", []byte(`checks:
  - {name: db, type: postgres, dsn: "postgres://app:Zq7#Hunter@127.0.0.1:5432/app"}
  - {name: db2, type: postgres, dsn: "postgresql://app:Kw9pass@h1:5432,h2:5433/app"}
`), config.Options{Registry: goldenRegistry(t), LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Zq7#Hunter", "Kw9pass"} {
		if !contains(cfg.Secrets(), want) {
			t.Errorf("%q is not among the secrets to redact: %q", want, cfg.Secrets())
		}
	}
}
