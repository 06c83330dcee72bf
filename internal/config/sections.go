package config

import "time"

// The keys of the file's sections, declared once: the loader decodes each
// section into these (checks.Decode), and `healthd schema`, the docs' key
// tables and the tests of configs/healthd-full.yaml read them (checks.KeysOf).
// A value set here is the key's default.

type serverKeys struct {
	Listen          string        `key:"listen" doc:"address to listen on, host:port or :port"`
	Path            string        `key:"path" doc:"where the checks are served; groups and single checks below it"`
	FailureStatus   int           `key:"failure_status" doc:"status code when a critical check fails: 500 as in django-health-check, or another 4xx or 5xx (503 for load balancers)"`
	LogFormat       string        `key:"log_format" enum:"text,json" doc:"log line format"`
	LogLevel        string        `key:"log_level" enum:"debug,info,warn,error" doc:"least severe level logged"`
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
		LogLevel:        "info",
		Refresh:         10 * time.Second,
		ShutdownTimeout: 15 * time.Second,
	}
}

// healthCheckKeys are the seed's HEALTH_CHECK settings, spelt as in Django.
type healthCheckKeys struct {
	DiskUsageMax     *float64 `key:"DISK_USAGE_MAX" doc:"disk checks warn above this percent used; null disables"`
	MemoryMin        *float64 `key:"MEMORY_MIN" doc:"memory checks warn below this many MB available; null disables"`
	WarningsAsErrors bool     `key:"WARNINGS_AS_ERRORS" doc:"a warning fails /ht/ (500), as in django-health-check"`
}

func defaultHealthCheckKeys() healthCheckKeys {
	disk, mem := 90.0, 100.0
	return healthCheckKeys{DiskUsageMax: &disk, MemoryMin: &mem, WarningsAsErrors: true}
}

type notifyKeys struct {
	URL     string            `key:"url" required:"true" secret:"true" doc:"http:// or https:// URL to POST state changes to"`
	Format  string            `key:"format" enum:"json,slack" doc:"json, or slack for an incoming webhook"`
	Timeout time.Duration     `key:"timeout" doc:"per attempt"`
	Retries int               `key:"retries" doc:"attempts after the first, 0 to 10"`
	Headers map[string]string `key:"headers" secret:"true" doc:"sent with every request (Authorization, say)"`
	Checks  []string          `key:"checks" doc:"only these checks' state changes; all when unset"`
}

func defaultNotifyKeys() notifyKeys {
	return notifyKeys{Format: "json", Timeout: 5 * time.Second, Retries: 3}
}

// perCheckKeys are the keys every check has that `defaults:` may set for
// all of them.
type perCheckKeys struct {
	Critical               bool          `key:"critical" doc:"a failure fails /ht/; false shows it without failing the answer"`
	Timeout                time.Duration `key:"timeout" doc:"deadline of one run"`
	CacheTTL               time.Duration `key:"cache_ttl" doc:"probes within this long of a run share its result; 0 runs the check on every probe (concurrent probes still share a run)"`
	MaxStale               time.Duration `key:"max_stale" doc:"while a run is under way, a result this old may still be served"`
	Interval               time.Duration `key:"interval" doc:"run in the background this often, at least 100ms; 0 runs on demand"`
	FailuresBeforeCritical int           `key:"failures_before_critical" doc:"failed runs in a row before the check fails (a warning before)"`
	SuccessesBeforePassing int           `key:"successes_before_passing" doc:"passing runs in a row before a failed check passes again"`
	History                int           `key:"history" doc:"results kept per check, 1 to 100000"`
}

// checkKeys are the keys of every entry of checks:, besides its type's own.
type checkKeys struct {
	Name   string   `key:"name" doc:"unique; 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (default: the type)"`
	Type   string   `key:"type" required:"true" doc:"the check type"`
	Groups []string `key:"groups" doc:"groups this check belongs to, each served at /ht/<group>/ (letters, digits, '.', '_' or '-')"`
	perCheckKeys
}

func defaultPerCheckKeys() perCheckKeys {
	return perCheckKeys{
		Critical:               true,
		Timeout:                2 * time.Second,
		CacheTTL:               time.Second,
		MaxStale:               5 * time.Second,
		FailuresBeforeCritical: 1,
		SuccessesBeforePassing: 1,
		History:                100,
	}
}
