package config_test

import "github.com/healthd/healthd/internal/checks"

var checksSecretsIn = checks.SecretsIn
