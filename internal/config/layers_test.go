package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
)

const layersFile = `
server: {listen: ":9000", log_level: warn}
health_check: {DISK_USAGE_MAX: 80}
defaults: {timeout: 3s, history: 20}
checks: [{name: a, type: fake}]
`

// One rule of precedence for every layered key: flag, then HEALTHD_*
// variable, then the file, then the default.
func TestLayers_OneRuleOfPrecedence(t *testing.T) {
	t.Setenv("HEALTHD_SERVER_LISTEN", ":9100")
	t.Setenv("HEALTHD_DEFAULTS_TIMEOUT", "4s")
	t.Setenv("HEALTHD_HEALTH_CHECK_DISK_USAGE_MAX", "70")
	t.Setenv("HEALTHD_SERVER_REFRESH", "30s")

	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("listen", "", "")
	v := config.NewOverrides()
	if err := v.BindPFlag("server.listen", fs.Lookup("listen")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--listen", ":9200"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("layers.yaml", []byte(layersFile), config.Options{Registry: checkstest.Registry(), Overrides: v})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"server.listen: the flag wins over the variable and the file", cfg.Server.Listen, ":9200"},
		{"defaults.timeout: the variable wins over the file", cfg.Defaults.Timeout, 4 * time.Second},
		{"health_check.DISK_USAGE_MAX: the variable wins over the file", *cfg.HealthCheck.DiskUsageMax, 70.0},
		{"server.refresh: the variable wins over the default", cfg.Server.Refresh, 30 * time.Second},
		{"defaults.history: the file wins over the default", cfg.Defaults.History, 20},
		{"server.log_level: the file", cfg.Server.LogLevel.String(), "WARN"},
		{"defaults.max_stale: the default", cfg.Defaults.MaxStale, 5 * time.Second},
		{"a check inherits the layered default", cfg.Checks[0].Timeout, 4 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestLayers_EveryScalarKeyOfTheLayeredSectionsHasAVariable(t *testing.T) {
	keys := strings.Join(config.LayeredKeys(), " ")
	for _, want := range []string{"server.listen", "server.drain_delay", "health_check.WARNINGS_AS_ERRORS", "defaults.interval", "defaults.critical"} {
		if !strings.Contains(keys, want) {
			t.Errorf("%s is not layered: %s", want, keys)
		}
	}
	if strings.Contains(keys, "server.auth") || strings.Contains(keys, "server.tls") {
		t.Errorf("sections are not scalars: %s", keys)
	}
	if got := config.EnvName("health_check.DISK_USAGE_MAX"); got != "HEALTHD_HEALTH_CHECK_DISK_USAGE_MAX" {
		t.Errorf("EnvName: %s", got)
	}
}

func TestLayers_ABadVariableIsNamedWithoutAFileLine(t *testing.T) {
	t.Setenv("HEALTHD_DEFAULTS_TIMEOUT", "forever")
	t.Setenv("HEALTHD_HEALTH_CHECK_WARNINGS_AS_ERRORS", "maybe")
	_, err := config.Parse("layers.yaml", []byte(layersFile), config.Options{Registry: checkstest.Registry(), Overrides: config.NewOverrides()})
	if err == nil {
		t.Fatal("bad variables were accepted")
	}
	for _, want := range []string{`HEALTHD_DEFAULTS_TIMEOUT: must be a duration`, `HEALTHD_HEALTH_CHECK_WARNINGS_AS_ERRORS: must be true or false`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
