package config

// Checks from the environment: the variables a Django app's container
// already holds (dj-database-url, django-environ, Celery, django-storages)
// say what it depends on. FromEnv turns them into a config file's text, with
// every value left as ${VAR}, so that `healthd serve` with no config file and
// `healthd init` share one derivation, and the derived config is loaded,
// validated and reported like any file.

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/healthd/healthd/internal/checks"
)

// CacheName is the check CACHE_URL builds: django-health-check 3.x's
// identifier for the default cache ("Cache backend: <alias>", 3.17 and the
// guide's target). 4.x names it Cache(alias='default'), which a check name
// cannot hold (docs/migrating-from-django-health-check.md).
const CacheName = "Cache backend: default"

// EnvFile is the name messages give the config derived from the environment.
const EnvFile = "(environment)"

// EnvSource says which variable built which check.
type EnvSource struct {
	Var   string // DATABASE_URL…
	Check string // the check's name
	Type  string // the check's type
}

// EnvNote is a variable that is set and understood but builds no check,
// and why (a cache in the app's own process, an SQLite file…): logged at
// start so that its absence from /ht/ is explained.
type EnvNote struct {
	Var string
	Why string
}

// Derived is the config the environment implies.
type Derived struct {
	YAML    []byte
	Sources []EnvSource
	Notes   []EnvNote
}

// Var returns the variable check was built from, or "".
func (d *Derived) Var(check string) string {
	for _, s := range d.Sources {
		if s.Check == check {
			return s.Var
		}
	}
	return ""
}

// The variables FromEnv reads, in the order it reads them.
var (
	databaseVars = []string{"DATABASE_URL"}
	redisVars    = []string{"REDIS_URL"}
	cacheVars    = []string{"CACHE_URL"}
	brokerVars   = []string{"CELERY_BROKER_URL", "BROKER_URL"}
)

// EnvVars lists every variable FromEnv reads, for docs and messages.
func EnvVars() []string {
	return slices.Concat(databaseVars, redisVars, cacheVars, brokerVars, []string{
		"AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "AWS_S3_REGION_NAME", "AWS_S3_ADDRESSING_STYLE",
		"DISK_USAGE_MAX", "MEMORY_MIN", "HEALTHD_CELERY_CRITICAL", "HEALTHD_LISTEN",
	})
}

// envError is a variable that is set but unusable. It names the variable and
// never its value, which may hold a password.
func envError(name, format string, args ...any) error {
	return &Error{File: EnvFile, Source: name, Msg: fmt.Sprintf(format, args...)}
}

// FromEnv derives a config from the environment (lookup is os.LookupEnv in
// the daemon): a check for each dependency a variable names, plus disk and
// memory, named with django-health-check's identifiers. Every problem is
// reported at once, naming the variable.
func FromEnv(lookup func(string) (string, bool)) (*Derived, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	var (
		b    strings.Builder
		errs Errors
		d    Derived
	)
	fail := func(err error) { errs = append(errs, err.(*Error)) }
	note := func(variable, why string) { d.Notes = append(d.Notes, EnvNote{Var: variable, Why: why}) }
	add := func(variable, name, typ, keys string) {
		d.Sources = append(d.Sources, EnvSource{Var: variable, Check: name, Type: typ})
		from := "always"
		if variable != "" {
			from = "from " + variable
		}
		if strings.Contains(name, ": ") {
			name = strconv.Quote(name) // "Cache backend: default" is not a plain YAML scalar
		}
		fmt.Fprintf(&b, "  - name: %s   # %s\n    type: %s\n%s", name, from, typ, keys)
	}

	b.WriteString(`# healthd's config, derived from the environment (healthd init): each check says
# the variable it was built from, whose value is read when healthd starts.
server:
  listen: "${HEALTHD_LISTEN:-:8000}"   # --listen and HEALTHD_SERVER_LISTEN override it
  path: /ht/               # the seed's URL; groups are served at /ht/<group>/
  failure_status: 500      # django-health-check answers 500; 503 is allowed
`)
	var hc []string
	for _, v := range []string{"DISK_USAGE_MAX", "MEMORY_MIN"} {
		if s := get(v); s != "" {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				fail(envError(v, "must be a number"))
				continue
			}
			hc = append(hc, fmt.Sprintf("  %s: ${%s}\n", v, v))
		}
	}
	if len(hc) > 0 {
		b.WriteString("health_check:\n" + strings.Join(hc, ""))
	}
	b.WriteString(`defaults:
  timeout: 2s              # each check's deadline
  cache_ttl: 1s            # reuse a result this long; concurrent probes share one run
  max_stale: 5s            # past cache_ttl, serve the last result this long while refreshing
checks:
`)
	// As django-health-check's psutil app: always, with the thresholds
	// from DISK_USAGE_MAX and MEMORY_MIN when they are set.
	add("", "DiskUsage", "disk", "    path: /\n")
	add("", "MemoryUsage", "memory", "")

	if v, val := firstSet(get, databaseVars); v != "" {
		// The checks read dj-database-url's and django-environ's engine
		// schemes (postgis://, mysql2://…) as their protocol's.
		switch scheme := schemeOf(val); {
		case scheme == "postgres" || scheme == "postgresql" || slices.Contains(checks.DjangoSchemes("postgres"), scheme):
			add(v, "DatabaseBackend", "postgres", "    dsn: ${"+v+"}\n")
		case scheme == "mysql" || slices.Contains(checks.DjangoSchemes("mysql"), scheme):
			add(v, "DatabaseBackend", "mysql", "    dsn: ${"+v+"}\n")
		case scheme == "sqlite" || scheme == "spatialite":
			note(v, scheme+"://: a file next to the app, nothing to reach over the network")
		case scheme == "":
			fail(envError(v, "is not a URL with a scheme (postgres://, mysql://)"))
		default:
			fail(envError(v, "has scheme %q: healthd checks postgres:// (postgresql, postgis, pgsql, timescale) and mysql:// (mysql2, mysqlgis) databases (sqlite:// needs no check)", scheme))
		}
	}
	if v, val := firstSet(get, redisVars); v != "" {
		switch scheme := schemeOf(val); scheme {
		case "redis", "rediss":
			add(v, "RedisHealthCheck", "redis", "    url: ${"+v+"}\n")
		default:
			fail(envError(v, "has scheme %q: want redis:// or rediss://", scheme))
		}
	}
	if v, val := firstSet(get, cacheVars); v != "" {
		// django-environ's and django-cache-url's schemes.
		switch scheme := schemeOf(val); scheme {
		case "redis", "rediss", "rediscache", "hiredis":
			add(v, CacheName, "redis", "    url: ${"+v+"}\n")
		case "memcache", "pymemcache", "pylibmc", "memcached", "pymemcached", "djangopylibmc":
			servers, err := memcachedServers(val)
			if err != nil {
				fail(envError(v, "%v", err))
				break
			}
			// The check takes a list; memcached URLs carry no credentials,
			// so the servers are written as they are.
			add(v, CacheName, "memcached", "    servers: ["+strings.Join(quoteAll(servers), ", ")+"]\n")
		case "locmem", "locmemcache", "dummy", "dummycache", "uwsgicache":
			note(v, scheme+"://: a cache in the app's own process, nothing to reach over the network")
		case "db", "dbcache":
			note(v, scheme+"://: a cache in the app's database, checked as DATABASE_URL")
		case "file", "filecache":
			note(v, scheme+"://: a cache in the app's files, nothing to reach over the network")
		default:
			fail(envError(v, "has scheme %q: healthd checks redis:// (rediss, rediscache, hiredis) and memcache:// (memcached, pymemcache, pylibmc) caches; locmem, dummy, db and file caches need no check", scheme))
		}
	}
	if v, val := firstSet(get, brokerVars); v != "" {
		critical := "false"
		if c := get("HEALTHD_CELERY_CRITICAL"); c != "" {
			if _, err := strconv.ParseBool(c); err != nil {
				fail(envError("HEALTHD_CELERY_CRITICAL", "must be true or false"))
			} else {
				critical = c
			}
		}
		switch scheme := schemeOf(val); scheme {
		case "amqp", "amqps", "pyamqp":
			add(v, "RabbitMQHealthCheck", "rabbitmq", "    url: ${"+v+"}\n")
			add(v, "CeleryPingHealthCheck", "celery", "    broker: ${"+v+"}\n    critical: "+critical+"   # a worker ping; HEALTHD_CELERY_CRITICAL=true makes it fail /ht/\n")
		case "redis", "rediss":
			add(v, "CeleryBrokerHealthCheck", "redis", "    url: ${"+v+"}\n")
			add(v, "CeleryPingHealthCheck", "celery", "    broker: ${"+v+"}\n    critical: "+critical+"   # a worker ping; HEALTHD_CELERY_CRITICAL=true makes it fail /ht/\n")
		default:
			fail(envError(v, "has scheme %q: healthd checks amqp://, amqps://, redis:// and rediss:// brokers", scheme))
		}
	}
	if bucket := get("AWS_STORAGE_BUCKET_NAME"); bucket != "" {
		keys := "    bucket: ${AWS_STORAGE_BUCKET_NAME}\n"
		if e := get("AWS_S3_ENDPOINT_URL"); e != "" {
			if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				fail(envError("AWS_S3_ENDPOINT_URL", "must be an http:// or https:// URL"))
			}
			keys += "    endpoint: ${AWS_S3_ENDPOINT_URL}\n"
		}
		if get("AWS_S3_REGION_NAME") != "" {
			keys += "    region: ${AWS_S3_REGION_NAME}\n"
		}
		switch s := get("AWS_S3_ADDRESSING_STYLE"); s {
		case "path":
			keys += "    path_style: true\n"
		case "", "auto", "virtual":
		default:
			fail(envError("AWS_S3_ADDRESSING_STYLE", "must be path, virtual or auto"))
		}
		// Credentials come from the AWS chain (AWS_ACCESS_KEY_ID and
		// AWS_SECRET_ACCESS_KEY, a role…), as for django-storages.
		add("AWS_STORAGE_BUCKET_NAME", "S3Boto3StorageHealthCheck", "s3", keys)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	d.YAML = []byte(b.String())
	return &d, nil
}

func firstSet(get func(string) string, names []string) (string, string) {
	for _, n := range names {
		if v := get(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

// schemeOf returns s's URL scheme in lower case, or "" when s has none. It
// looks only at what precedes "://", so a password with odd characters
// cannot make it fail.
func schemeOf(s string) string {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return ""
	}
	return strings.ToLower(scheme)
}

// memcachedServers parses django-environ's memcache URLs:
// memcache://host:port, several hosts separated by "," or ";", or a unix
// socket path (memcache:///tmp/memcached.sock).
func memcachedServers(s string) ([]string, error) {
	_, rest, _ := strings.Cut(s, "://")
	if strings.HasPrefix(rest, "/") {
		return []string{rest}, nil
	}
	var out []string
	for _, h := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ';' }) {
		h = strings.TrimSuffix(h, "/")
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":11211"
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, errors.New("names no server (memcache://host:port)")
	}
	return out, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// Explain rewrites the errors of loading d's config so that each names the
// variable its check came from ("DATABASE_URL: check DatabaseBackend: key
// "dsn": …"), never a line of text nobody wrote.
func (d *Derived) Explain(err error) error {
	var es Errors
	if !errors.As(err, &es) {
		return err
	}
	out := make(Errors, 0, len(es))
	for _, e := range es {
		e2 := *e
		name := strings.Trim(e.Check, `"`)
		if v := d.Var(name); v != "" && e.Source == "" {
			msg := e.Msg
			if e.Key != "" {
				msg = fmt.Sprintf("key %q: %s", e.Key, msg)
			}
			e2.Source, e2.Msg = v, fmt.Sprintf("check %s: %s", name, msg)
		}
		out = append(out, &e2)
	}
	return out
}
