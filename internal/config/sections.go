package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/healthd/healthd/internal/checks"
)

// The file's sections, each declared once as a struct whose tags name its
// keys (as a check type declares its own, internal/checks/keys.go): the
// loader decodes each section into its struct with checks.Decode, and
// `healthd schema`, the key tables of docs/configuration.md, the layered
// keys of flags and HEALTHD_* variables and the tests of
// configs/healthd-full.yaml read the same struct with checks.KeysOf. The
// value a struct holds before decoding is the key's default.

// fileSection is one top-level section of the file.
type fileSection struct {
	name string
	doc  string // the schema's description
	// keys returns the section's declaration holding its defaults: a
	// pointer to a struct with tagged fields.
	keys func() any
	// list: the section is a list of such mappings (notify:).
	list bool
	// layered: flags and HEALTHD_* variables may set its scalar keys.
	layered bool
}

// fileSections lists the sections in the order of the docs. checks: holds
// the keys every check has; each check's type declares the rest.
var fileSections = []fileSection{
	{name: "server", doc: "how healthd serves", layered: true,
		keys: func() any { k := defaultServerKeys(); return &k }},
	{name: "health_check", doc: "django-health-check's HEALTH_CHECK settings", layered: true,
		keys: func() any { k := defaultHealthCheckKeys(); return &k }},
	{name: "defaults", doc: "per-check keys' values for checks that do not set them, and how many runs may load one dependency at once", layered: true,
		keys: func() any { k := defaultDefaultsKeys(); return &k }},
	{name: "notify", doc: "webhooks called on state changes", list: true,
		keys: func() any { k := defaultNotifyKeys(); return &k }},
	{name: "checks", doc: "the checks", list: true,
		keys: func() any { return &checkKeys{Defaults: defaultPerCheckKeys()} }},
}

// sectionNames are the top-level keys of the file.
func sectionNames() []string {
	out := make([]string, len(fileSections))
	for i, s := range fileSections {
		out[i] = s.name
	}
	return out
}

// serverKeys is the `server:` section as written; the loader resolves it
// into Server (the path normalised, the level parsed, the tokens trimmed).
type serverKeys struct {
	Listen          string        `key:"listen" doc:"address to listen on, host:port or :port"`
	GRPCListen      string        `key:"grpc_listen" doc:"also serve the gRPC health service (grpc.health.v1) on this address, host:port or :port: service \"\" is every check, a group name that group; off when empty"`
	Path            string        `key:"path" doc:"where the checks are served; groups and single checks below it"`
	FailureStatus   int           `key:"failure_status" doc:"status code when a critical check fails: 500 as in django-health-check, or another 4xx or 5xx (503 for load balancers)"`
	LogFormat       string        `key:"log_format" enum:"text,json" doc:"log line format"`
	LogLevel        logLevel      `key:"log_level" default:"info" doc:"least severe level logged"`
	Template        string        `key:"template" doc:"an html/template file replacing the built-in dashboard"`
	Refresh         time.Duration `key:"refresh" doc:"the dashboard refreshes its data in place this often; 0 disables"`
	DrainDelay      time.Duration `key:"drain_delay" doc:"after SIGTERM, /ht/ answers the failure status (healthd is shutting down) this long before the listener closes"`
	ShutdownTimeout time.Duration `key:"shutdown_timeout" doc:"how long requests in flight may take to finish on shutdown"`
	Auth            *authKeys     `key:"auth" doc:"bearer tokens that see check details, /metrics and /-/reload"`
	TLS             *tlsKeys      `key:"tls" doc:"serve HTTPS with this certificate and key"`
}

type authKeys struct {
	Tokens []string `key:"tokens" secret:"true" doc:"accepted bearer tokens; several, so one can be rotated"`
}

type tlsKeys struct {
	CertFile string `key:"cert_file" doc:"PEM certificate chain"`
	KeyFile  string `key:"key_file" doc:"PEM private key"`
}

func defaultServerKeys() serverKeys {
	return serverKeys{
		Listen:          ":8000",
		Path:            "/ht/",
		FailureStatus:   500,
		LogFormat:       "text",
		LogLevel:        logLevel(slog.LevelInfo),
		Refresh:         10 * time.Second,
		ShutdownTimeout: 15 * time.Second,
	}
}

// removedServerKeys are keys healthd no longer reads but still accepts,
// with a warning (see loader.server): a config written for an older
// release must not stop an upgrade.
var removedServerKeys = []string{"release_startup_pages"}

// logLevels are the levels the docs and the schema offer for log_level.
var logLevels = []string{"debug", "info", "warn", "error"}

// logLevel is server.log_level. It is read as slog reads a level, so
// "WARN" and "info+2" are accepted as they always were, while the docs
// and the schema offer the four names.
type logLevel slog.Level

// DecodeParam implements checks.ParamDecoder.
func (l *logLevel) DecodeParam(v any, errorf func(suffix, format string, args ...any)) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int, float64, bool:
		s = fmt.Sprint(v)
	default:
		errorf("", "must be a string, not %s", valueKind(v))
		return
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(s)); err != nil {
		errorf("", "must be %s, not %q", orList(logLevels), s)
		return
	}
	*l = logLevel(lv)
}

// ParamSchema implements checks.ParamDecoder: a string key offering the
// four names.
func (logLevel) ParamSchema() map[string]any {
	return checks.KeySchema(checks.Key{Kind: "string", Enum: logLevels})
}

// ParamKind names the values in the docs' key table, as for an enum.
func (logLevel) ParamKind() string {
	quoted := make([]string, len(logLevels))
	for i, l := range logLevels {
		quoted[i] = "`" + l + "`"
	}
	return orList(quoted)
}

// healthCheckKeys are the seed's HEALTH_CHECK settings, spelt as in
// Django; the loader hands them to the check types as checks.Settings.
type healthCheckKeys struct {
	DiskUsageMax     *float64 `key:"DISK_USAGE_MAX" doc:"disk checks warn above this percent used; null disables"`
	MemoryMin        *float64 `key:"MEMORY_MIN" doc:"memory checks warn below this many MB available; null disables"`
	WarningsAsErrors bool     `key:"WARNINGS_AS_ERRORS" doc:"a warning fails /ht/ (500), as in django-health-check"`
}

func defaultHealthCheckKeys() healthCheckKeys {
	disk, mem := 90.0, 100.0
	return healthCheckKeys{DiskUsageMax: &disk, MemoryMin: &mem, WarningsAsErrors: true}
}

// Defaults holds the `defaults:` section: the keys every check has that
// `defaults:` may set for all of them, applied to each check that does not
// set its own.
type Defaults struct {
	Critical               bool          `key:"critical" doc:"a failure fails /ht/; false shows it without failing the answer"`
	Timeout                time.Duration `key:"timeout" doc:"deadline of one run"`
	CacheTTL               time.Duration `key:"cache_ttl" doc:"probes within this long of a run share its result; 0 runs the check on every probe (concurrent probes still share a run)"`
	MaxStale               time.Duration `key:"max_stale" doc:"while a run is under way, a result this old may still be served"`
	Interval               time.Duration `key:"interval" doc:"run in the background this often (±10%; the first time at a random point of the first interval), at least 100ms; 0 runs on demand"`
	FailuresBeforeCritical int           `key:"failures_before_critical" doc:"failed runs in a row before the check fails (a warning before)"`
	SuccessesBeforePassing int           `key:"successes_before_passing" doc:"passing runs in a row before a failed check passes again"`
	History                int           `key:"history" doc:"results kept per check, 1 to 100000"`
}

// defaultPerCheckKeys are the built-in defaults of the `defaults:` keys.
func defaultPerCheckKeys() Defaults {
	return Defaults{
		Critical:               true,
		Timeout:                2 * time.Second,
		CacheTTL:               time.Second,
		MaxStale:               5 * time.Second,
		FailuresBeforeCritical: 1,
		SuccessesBeforePassing: 1,
		History:                100,
	}
}

// defaultsKeys is the `defaults:` section: the per-check keys' defaults,
// and the runner's bound on runs per dependency, which no check sets for
// itself (a bound shared by the checks of one target is not one check's).
type defaultsKeys struct {
	Defaults
	MaxRunsPerTarget int `key:"max_runs_per_target" doc:"runs in progress at once against one dependency (the same host:port, socket or path, whatever the check type); more wait, within their own timeout"`
}

func defaultDefaultsKeys() defaultsKeys {
	return defaultsKeys{Defaults: defaultPerCheckKeys(), MaxRunsPerTarget: 4}
}

// Notify is one entry of the `notify:` list: a webhook called on state
// changes.
type Notify struct {
	URL     string        `key:"url" required:"true" secret:"true" doc:"http:// or https:// URL to POST state changes to"`
	Format  string        `key:"format" enum:"json,slack" doc:"json, or slack for an incoming webhook"`
	Timeout time.Duration `key:"timeout" doc:"per attempt"`
	Retries int           `key:"retries" doc:"attempts after the first, 0 to 10"`
	// Headers are sent with every request (e.g. Authorization); their
	// values are secrets.
	Headers Headers `key:"headers" secret:"true" doc:"sent with every request (Authorization, say)"`
	// Checks, when set, limits the notifications to these checks.
	Checks []string `key:"checks" doc:"only these checks' state changes; all when unset"`
	// Secrets holds the URL (a Slack webhook URL is itself a credential),
	// the header values and any credential in the entry. Not a key.
	Secrets []string
}

func defaultNotifyKeys() Notify {
	return Notify{Format: "json", Timeout: 5 * time.Second, Retries: 3}
}

// Headers are a webhook's request headers, names to values.
type Headers map[string]string

// DecodeParam implements checks.ParamDecoder: a mapping of header names
// to string values.
func (h *Headers) DecodeParam(v any, errorf func(suffix, format string, args ...any)) {
	m, ok := v.(map[string]any)
	if !ok {
		errorf("", "must be a mapping of header names to values")
		return
	}
	for _, name := range sortedKeys(m) {
		hv, ok := m[name].(string)
		if !ok {
			errorf("."+name, "must be a string")
			continue
		}
		if *h == nil {
			*h = Headers{}
		}
		(*h)[name] = hv
	}
}

// ParamSchema implements checks.ParamDecoder.
func (Headers) ParamSchema() map[string]any {
	return checks.KeySchema(checks.Key{Kind: "mapping"})
}

// ParamKind names the values in the docs' key table.
func (Headers) ParamKind() string { return "mapping of names to strings" }

// checkKeys are the keys of every entry of checks:, besides its type's own.
type checkKeys struct {
	// Name is nil when not set: the name is then the type.
	Name   *string  `key:"name" doc:"unique; 1 to 64 letters, digits, '.', '_', '-', ':' or spaces, starting with a letter or digit (default: the type); spaces and ':' keep django-health-check 3.x keys such as \"Cache backend: default\""`
	Type   string   `key:"type" required:"true" doc:"the check type"`
	Groups []string `key:"groups" doc:"groups this check belongs to, each served at /ht/<group>/ (letters, digits, '.', '_' or '-')"`
	Defaults
}

// commonKeys are the keys of checkKeys: the loader decodes them for every
// check, and the rest go to the check's type.
var commonKeys = keyNames(checks.KeysOf(&checkKeys{}))

func keyNames(keys []checks.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

// orList joins ["a", "b", "c"] as "a, b or c".
func orList(vals []string) string { return joinLast(vals, " or ") }

// andList joins ["a", "b", "c"] as "a, b and c".
func andList(vals []string) string { return joinLast(vals, " and ") }

func joinLast(vals []string, last string) string {
	if len(vals) < 2 {
		return strings.Join(vals, "")
	}
	return strings.Join(vals[:len(vals)-1], ", ") + last + vals[len(vals)-1]
}

// valueKind names the kind of a YAML value that is not a scalar.
func valueKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
