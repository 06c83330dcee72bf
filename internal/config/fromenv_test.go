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
		}, []string{"DiskUsage/disk", "MemoryUsage/memory", "DatabaseBackend/postgres", "RedisHealthCheck/redis", "CacheBackend/memcached",
			"RabbitMQHealthCheck/rabbitmq", "CeleryPingHealthCheck/celery", "S3Boto3StorageHealthCheck/s3"}},
		{"mysql, a redis cache and broker", map[string]string{
			"DATABASE_URL": "mysql://app:s3cr3t@db:3306/app",
			"CACHE_URL":    "rediss://cache:6380/1",
			"BROKER_URL":   "redis://broker:6379/0",
		}, []string{"DiskUsage/disk", "MemoryUsage/memory", "DatabaseBackend/mysql", "CacheBackend/redis", "CeleryBrokerHealthCheck/redis", "CeleryPingHealthCheck/celery"}},
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
		`DATABASE_URL: has scheme "oracle": healthd checks postgres://, postgresql:// and mysql:// databases (sqlite:// needs no check)`,
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
