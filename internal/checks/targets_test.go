package checks_test

import (
	"testing"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
)

// Every built-in type names the dependency its runs load, as the runner's
// per-target bound (defaults.max_runs_per_target) groups them; building
// opens nothing, so no server is needed.
func TestTarget_EveryTypeNamesItsDependency(t *testing.T) {
	cases := []struct {
		typ  string
		keys map[string]any
		want string
	}{
		{"postgres", map[string]any{"dsn": "postgres://u:" + checkstest.Secret + "@db.internal:6432/app"}, "db.internal:6432"},
		{"postgres", map[string]any{"dsn": "host=/run/postgresql dbname=app"}, "/run/postgresql/.s.PGSQL.5432"},
		{"mysql", map[string]any{"dsn": "mysql://root@db.internal/app"}, "db.internal:3306"},
		{"sql", map[string]any{"dsn": "postgres://db.internal/app", "query": "select 1"}, "db.internal:5432"},
		{"sql", map[string]any{"dsn": "mysql://root@db.internal:3307/app", "query": "select 1"}, "db.internal:3307"},
		{"redis", map[string]any{"url": "redis://cache:6380/0"}, "cache:6380"},
		{"redis", map[string]any{"sentinels": []any{"s1:26379", "s2:26379"}, "master_name": "m"}, "s1:26379"},
		{"redis", map[string]any{"cluster_nodes": []any{"n1:7000", "n2:7000"}}, "n1:7000"},
		{"memcached", map[string]any{"servers": []any{"mc1:11211", "mc2:11211"}}, "mc1:11211"},
		{"rabbitmq", map[string]any{"url": "amqp://guest:guest@mq:5672/"}, "mq:5672"},
		{"celery", map[string]any{"broker": "amqp://guest:guest@mq/"}, "mq:5672"},
		{"celery", map[string]any{"broker": "redis://cache:6379/0"}, "cache:6379"},
		{"s3", map[string]any{"bucket": "b", "endpoint": "http://minio:9000"}, "minio:9000"},
		{"s3", map[string]any{"bucket": "b", "region": "eu-west-1"}, "s3.eu-west-1.amazonaws.com:443"},
		{"storage", map[string]any{"path": "/var/lib/app/"}, "/var/lib/app"},
		{"tcp", map[string]any{"address": "db:5432"}, "db:5432"},
		{"tls", map[string]any{"address": "example.com:443"}, "example.com:443"},
		{"http", map[string]any{"url": "https://u:" + checkstest.Secret + "@api.example.com/ht/"}, "api.example.com:443"},
		{"http", map[string]any{"url": "http://127.0.0.1:8000/ht/"}, "127.0.0.1:8000"},
		{"grpc", map[string]any{"address": "grpc:50051"}, "grpc:50051"},
		{"dns", map[string]any{"domain": "example.com", "server": "10.0.0.2:53"}, "10.0.0.2:53"},
		{"dns", map[string]any{"domain": "example.com"}, ""},
		{"smtp", map[string]any{"address": "mail:25"}, "mail:25"},
		{"mqtt", map[string]any{"url": "mqtt://broker"}, "broker:1883"},
		{"nats", map[string]any{"url": "nats://nats:4222"}, "nats:4222"},
		{"kafka", map[string]any{"brokers": []any{"k1:9092", "k2:9092"}}, "k1:9092"},
		{"exec", map[string]any{"command": []any{"/usr/bin/true"}}, ""},
		{"disk", map[string]any{"path": "/"}, "/"},
		{"memory", map[string]any{}, ""},
		{"process", map[string]any{"pattern": "nginx"}, ""},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.typ] = true
		ck := checkstest.New(t, c.typ, c.keys, checkstest.Options{})
		tg, ok := ck.Checker.(checks.Targeter)
		if !ok {
			t.Errorf("%s %v: %T does not name its target", c.typ, c.keys, ck.Checker)
			continue
		}
		if got := tg.Target(); got != c.want {
			t.Errorf("%s %v: target %q, want %q", c.typ, c.keys, got, c.want)
		}
	}
	for _, name := range checks.Builtin().Names() {
		if !seen[name] {
			t.Errorf("type %s has no case here", name)
		}
	}
}
