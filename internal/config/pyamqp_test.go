package config_test

// A pyamqp:// URL's password is a secret like an amqp:// one's.

import (
	"slices"
	"testing"

	"github.com/healthd/healthd/internal/config"
)

func TestPyamqpURLsPasswordsAreSecrets(t *testing.T) {
	cfg, err := config.Parse("f.yaml", []byte("checks: [{name: c, type: celery, broker: \"pyamqp://guest:s3cr3tpw@mq//\", min_workers: 0}, {name: r, type: rabbitmq, url: \"pyamqp://guest:s3cr3tpw2@mq//\"}]\n"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cfg.Secrets(), "s3cr3tpw") || !slices.Contains(cfg.Secrets(), "s3cr3tpw2") {
		t.Fatalf("secrets = %q", cfg.Secrets())
	}
}
