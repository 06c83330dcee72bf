package config_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/config"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// A Django app's environment gives one check per dependency, named as
// django-health-check names it, and the derived text loads as a config file
// (its ${VAR}s expanded from the same environment).
func TestFromEnv_DjangoAppEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // name/type of every check, in order
	}{
		{"nothing set: disk and memory", nil, []string{"DiskUsage/disk", "MemoryUsage/memory"}},
		{"the usual set", map[string]string{
			"DATABASE_URL":            "postgres://app:s3cr3t@db:5432/app",
			"REDIS_URL":               "redis://:s3cr3t@cache:6379/0",
			"CACHE_URL":               "memcache://mc1:11211;mc2",
			"CELERY_BROKER_URL":       "amqp://guest:s3cr3t@mq:5672/",
			"AWS_STORAGE_BUCKET_NAME": "media",
			"AWS_S3_ENDPOINT_URL":     "http://minio:9000",
			"AWS_S3_REGION_NAME":      "eu-west-1",
			"AWS_S3_ADDRESSING_STYLE": "path",
			"DISK_USAGE_MAX":          "80",
			"MEMORY_MIN":              "200",
		}, []string{"DiskUsage/disk", "MemoryUsage/memory", "DatabaseBackend/postgres", "RedisHealthCheck/redis", "Cache backend: default/memcached",
			"RabbitMQHealthCheck/rabbitmq", "CeleryPingHealthCheck/celery", "S3Boto3StorageHealthCheck/s3"}},
		{"mysql, a redis cache and broker", map[string]string{
			"DATABASE_URL": "mysql://app:s3cr3t@db:3306/app",
			"CACHE_URL":    "rediss://cache:6380/1",
			"BROKER_URL":   "redis://broker:6379/0",
		}, []string{"DiskUsage/disk", "MemoryUsage/memory", "DatabaseBackend/mysql", "Cache backend: default/redis", "CeleryBrokerHealthCheck/redis", "CeleryPingHealthCheck/celery"}},
		{"sqlite and locmem need no check", map[string]string{"DATABASE_URL": "sqlite:////app/db.sqlite3", "CACHE_URL": "locmem://"},
			[]string{"DiskUsage/disk", "MemoryUsage/memory"}},
		{"Celery's pyamqp://", map[string]string{"CELERY_BROKER_URL": "pyamqp://guest@mq//"},
			[]string{"DiskUsage/disk", "MemoryUsage/memory", "RabbitMQHealthCheck/rabbitmq", "CeleryPingHealthCheck/celery"}},
		{"postgresql://", map[string]string{"DATABASE_URL": "postgresql://u@db/app"}, []string{"DiskUsage/disk", "MemoryUsage/memory", "DatabaseBackend/postgres"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := config.FromEnv(envOf(tc.env))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if strings.Contains(string(d.YAML), "s3cr3t") {
				t.Errorf("the derived config holds a value:\n%s", d.YAML)
			}
			cfg, err := config.Parse(config.EnvFile, d.YAML, config.Options{LookupEnv: envOf(tc.env)})
			if err != nil {
				t.Fatalf("the derived config does not load: %v\n%s", d.Explain(err), d.YAML)
			}
			var got []string
			for _, c := range cfg.Checks {
				got = append(got, c.Name+"/"+c.Type)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("checks = %v\nwant     %v", got, tc.want)
			}
			for _, c := range cfg.Checks {
				if c.Type == "celery" && c.Critical {
					t.Errorf("the Celery ping is critical without HEALTHD_CELERY_CRITICAL")
				}
			}
		})
	}
}

// Every URL scheme of dj-database-url, django-environ and django-cache-url
// for a server healthd can reach builds that server's check, which loads
// (the check reads the Django scheme as its protocol's); the schemes of
// caches in the app's process, database or files build none and say why.
func TestFromEnv_DjangoURLSchemes(t *testing.T) {
	for _, tc := range []struct {
		variable, url string
		want          string // name/type of the derived check, or "" for none
		why           string // with none: in the note
	}{
		{"DATABASE_URL", "postgres://u:s3cr3t@db/app", "DatabaseBackend/postgres", ""},
		{"DATABASE_URL", "postgresql://u:s3cr3t@db/app", "DatabaseBackend/postgres", ""},
		{"DATABASE_URL", "postgis://u:s3cr3t@db/app", "DatabaseBackend/postgres", ""},
		{"DATABASE_URL", "pgsql://u:s3cr3t@db/app", "DatabaseBackend/postgres", ""},
		{"DATABASE_URL", "timescale://u:s3cr3t@db/app", "DatabaseBackend/postgres", ""},
		{"DATABASE_URL", "timescalegis://u:s3cr3t@db/app", "DatabaseBackend/postgres", ""},
		{"DATABASE_URL", "mysql://u:s3cr3t@db/app", "DatabaseBackend/mysql", ""},
		{"DATABASE_URL", "mysql2://u:s3cr3t@db/app", "DatabaseBackend/mysql", ""},
		{"DATABASE_URL", "mysqlgis://u:s3cr3t@db/app", "DatabaseBackend/mysql", ""},
		{"DATABASE_URL", "mysql-connector://u:s3cr3t@db/app", "DatabaseBackend/mysql", ""},
		{"DATABASE_URL", "sqlite:////app/db.sqlite3", "", "a file next to the app"},
		{"DATABASE_URL", "spatialite:////app/db.sqlite3", "", "a file next to the app"},
		{"CACHE_URL", "redis://:s3cr3t@cache:6379/1", "Cache backend: default/redis", ""},
		{"CACHE_URL", "rediss://:s3cr3t@cache:6380/1", "Cache backend: default/redis", ""},
		{"CACHE_URL", "rediscache://:s3cr3t@cache:6379/1", "Cache backend: default/redis", ""},
		{"CACHE_URL", "hiredis://:s3cr3t@cache:6379/1", "Cache backend: default/redis", ""},
		{"CACHE_URL", "memcache://mc:11211", "Cache backend: default/memcached", ""},
		{"CACHE_URL", "memcached://mc:11211", "Cache backend: default/memcached", ""},
		{"CACHE_URL", "pymemcache://mc:11211", "Cache backend: default/memcached", ""},
		{"CACHE_URL", "pymemcached://mc:11211", "Cache backend: default/memcached", ""},
		{"CACHE_URL", "pylibmc://mc:11211", "Cache backend: default/memcached", ""},
		{"CACHE_URL", "djangopylibmc://mc:11211", "Cache backend: default/memcached", ""},
		{"CACHE_URL", "locmem://", "", "in the app's own process"},
		{"CACHE_URL", "locmemcache://", "", "in the app's own process"},
		{"CACHE_URL", "dummy://", "", "in the app's own process"},
		{"CACHE_URL", "dummycache://", "", "in the app's own process"},
		{"CACHE_URL", "uwsgicache://", "", "in the app's own process"},
		{"CACHE_URL", "db://cache_table", "", "in the app's database"},
		{"CACHE_URL", "dbcache://cache_table", "", "in the app's database"},
		{"CACHE_URL", "file:///var/tmp/django_cache", "", "in the app's files"},
		{"CACHE_URL", "filecache:///var/tmp/django_cache", "", "in the app's files"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			env := map[string]string{tc.variable: tc.url}
			d, err := config.FromEnv(envOf(env))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			cfg, err := config.Parse(config.EnvFile, d.YAML, config.Options{LookupEnv: envOf(env)})
			if err != nil {
				t.Fatalf("does not load: %v", d.Explain(err))
			}
			var got []string
			for _, c := range cfg.Checks[2:] { // after DiskUsage and MemoryUsage
				got = append(got, c.Name+"/"+c.Type)
			}
			if tc.want == "" {
				if len(got) != 0 || len(d.Notes) != 1 || d.Notes[0].Var != tc.variable || !strings.Contains(d.Notes[0].Why, tc.why) {
					t.Errorf("checks %v, notes %+v; want no check and a note on %s saying %q", got, d.Notes, tc.variable, tc.why)
				}
				return
			}
			if len(got) != 1 || got[0] != tc.want || len(d.Notes) != 0 {
				t.Errorf("checks %v, notes %+v; want [%s]", got, d.Notes, tc.want)
			}
			if strings.Contains(string(d.YAML), "s3cr3t") {
				t.Errorf("the derived config holds a value:\n%s", d.YAML)
			}
		})
	}
}

// A variable that is set but unusable is an error naming it, never its
// value, and every such variable is reported at once.
func TestFromEnv_UnusableVariablesAreNamed(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL":            "oracle://app:s3cr3t@db/app",
		"REDIS_URL":               "s3cr3t-not-a-url",
		"CELERY_BROKER_URL":       "sqs://AKIA:s3cr3t@",
		"DISK_USAGE_MAX":          "lots",
		"AWS_STORAGE_BUCKET_NAME": "media",
		"AWS_S3_ENDPOINT_URL":     "minio:9000",
	}
	_, err := config.FromEnv(envOf(env))
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, want := range []string{
		`DATABASE_URL: has scheme "oracle": healthd checks postgres:// (postgresql, postgis, pgsql, timescale) and mysql:// (mysql2, mysqlgis) databases (sqlite:// needs no check)`,
		`REDIS_URL: has scheme "": want redis:// or rediss://`,
		`CELERY_BROKER_URL: has scheme "sqs": healthd checks amqp://, amqps://, redis:// and rediss:// brokers`,
		`DISK_USAGE_MAX: must be a number`,
		`AWS_S3_ENDPOINT_URL: must be an http:// or https:// URL`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "s3cr3t") || strings.Contains(got, "lots") {
		t.Errorf("an error shows a value:\n%s", got)
	}
}

// An error of a derived check's keys names the variable, not a line of the
// derived text.
func TestFromEnv_LoadErrorsNameTheVariable(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://app:s3cr3t@db:notaport/app"}
	d, err := config.FromEnv(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse(config.EnvFile, d.YAML, config.Options{LookupEnv: envOf(env)})
	if err == nil {
		t.Fatal("a DSN with port notaport loaded")
	}
	got := d.Explain(err).Error()
	if !strings.HasPrefix(got, `DATABASE_URL: check DatabaseBackend: key "dsn": `) {
		t.Errorf("error = %q, want it to name DATABASE_URL and the check", got)
	}
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("error shows the password: %q", got)
	}
}

// healthd init's file carries the comments of configs/healthd.yaml for the
// settings the two share.
func TestFromEnv_CommentsAreTheDefaultConfigs(t *testing.T) {
	d, err := config.FromEnv(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile("../../configs/healthd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(d.YAML), "\n") {
		key, comment, ok := strings.Cut(line, "#")
		if !ok || strings.TrimSpace(key) == "" || strings.HasPrefix(strings.TrimSpace(key), "- name:") {
			continue // a comment line of its own, or a check's source
		}
		if strings.Contains(line, "${") {
			continue // listen: the derived config's own
		}
		n++
		if !strings.Contains(string(def), "# "+strings.TrimSpace(comment)) {
			t.Errorf("comment %q is not configs/healthd.yaml's", comment)
		}
	}
	if n < 4 {
		t.Errorf("only %d commented settings", n)
	}
}

// With a file, checks_from_env: true adds the environment's checks to the
// file's; an error in one of them names the variable.
func TestFromEnv_ChecksFromEnvInAFile(t *testing.T) {
	env := map[string]string{"REDIS_URL": "redis://cache:6379/0"}
	cfg, err := config.Parse("f.yaml", []byte("checks_from_env: true\nchecks:\n  - {name: mine, type: tcp, address: \"h:1\"}\n"), config.Options{LookupEnv: envOf(env)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cfg.Checks {
		got = append(got, c.Name)
	}
	if want := "[mine DiskUsage MemoryUsage RedisHealthCheck]"; fmt.Sprint(got) != want {
		t.Errorf("checks = %v, want %s", got, want)
	}
	// Only the environment's checks, with no checks: of the file's own.
	if _, err := config.Parse("f.yaml", []byte("checks_from_env: true\n"), config.Options{LookupEnv: envOf(env)}); err != nil {
		t.Errorf("checks_from_env with no checks: %v", err)
	}
	_, err = config.Parse("f.yaml", []byte("checks_from_env: true\nchecks: [{name: RedisHealthCheck, type: memory}]\n"), config.Options{LookupEnv: envOf(env)})
	if err == nil || !strings.Contains(err.Error(), "duplicate check name") {
		t.Errorf("a file check named as a derived one: %v, want a duplicate name error", err)
	}
	_, err = config.Parse("f.yaml", []byte("checks_from_env: true\n"), config.Options{LookupEnv: envOf(map[string]string{"REDIS_URL": "redis://:s3cr3t@h:notaport/0"})})
	if err == nil || !strings.HasPrefix(err.Error(), `REDIS_URL: check RedisHealthCheck: key "url": `) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error = %v, want one naming REDIS_URL and not the password", err)
	}
}

// "healthd:" starts healthd's own JSON keys: no check may take it.
func TestCheckNames_HealthdPrefixIsReserved(t *testing.T) {
	_, err := config.Parse("f.yaml", []byte("checks: [{name: \"healthd:shutdown\", type: memory}]\n"), config.Options{})
	if err == nil || !strings.Contains(err.Error(), `must not start with "healthd:"`) {
		t.Errorf("error = %v", err)
	}
	if _, err := config.Parse("f.yaml", []byte("checks: [{name: \"Cache backend: default\", type: memory}]\n"), config.Options{}); err != nil {
		t.Errorf("a 3.x name: %v", err)
	}
}

// HEALTHD_CELERY_CRITICAL=true makes the Celery ping critical, on either
// broker; unset or false leaves it a warning; anything else is an error
// naming the variable.
func TestFromEnv_CeleryCritical(t *testing.T) {
	for _, tc := range []struct {
		broker, value string
		critical      bool
		err           bool
	}{
		{"amqp://guest:s3cr3t@mq:5672/", "", false, false},
		{"amqp://guest:s3cr3t@mq:5672/", "true", true, false},
		{"redis://:s3cr3t@broker:6379/0", "true", true, false},
		{"amqp://guest:s3cr3t@mq:5672/", "false", false, false},
		{"amqp://guest:s3cr3t@mq:5672/", "maybe", false, true},
	} {
		env := map[string]string{"CELERY_BROKER_URL": tc.broker, "HEALTHD_CELERY_CRITICAL": tc.value}
		d, err := config.FromEnv(envOf(env))
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "HEALTHD_CELERY_CRITICAL: must be true or false") {
				t.Errorf("HEALTHD_CELERY_CRITICAL=%q: %v; want an error naming it", tc.value, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		cfg, err := config.Parse(config.EnvFile, d.YAML, config.Options{LookupEnv: envOf(env)})
		if err != nil {
			t.Fatalf("%q: %v", tc.value, d.Explain(err))
		}
		found := false
		for _, c := range cfg.Checks {
			if c.Name == "CeleryPingHealthCheck" {
				found = true
				if c.Critical != tc.critical {
					t.Errorf("%s with HEALTHD_CELERY_CRITICAL=%q: critical %v, want %v", tc.broker, tc.value, c.Critical, tc.critical)
				}
			}
		}
		if !found {
			t.Errorf("%s: no CeleryPingHealthCheck", tc.broker)
		}
	}
}
