package checks

import (
	"slices"
	"testing"
)

// Nested sections are as strict as the top level: a misspelt key under
// server.auth or server.tls is reported with its full path.
// TestRedact pins what redaction does to whole messages: every secret is
// hidden wherever it stands as a token, the longest first, and a short
// secret never garbles the words around it.
func TestRedact(t *testing.T) {
	cases := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"short secret inside words", []string{"b"},
			"unavailable: connection refused (127.0.0.1:5432)",
			"unavailable: connection refused (127.0.0.1:5432)"},
		{"short secret as a key=value", []string{"b"},
			"failed to connect to `user=app password=b database=app`: refused",
			"failed to connect to `user=app password=**** database=app`: refused"},
		{"short secret in a URL", []string{"g"},
			"unavailable: redis://:g@127.0.0.1:6379/0 is not a Redis server",
			"unavailable: redis://:****@127.0.0.1:6379/0 is not a Redis server"},
		{"short secret alone, quoted and bracketed", []string{"g"},
			`g "g" (g) 'g'`, `**** "****" (****) '****'`},
		{"short secret with punctuation at its edges", []string{"#b"},
			"password #b rejected; a#b too", "password **** rejected; a**** too"},
		{"short secret in a longer non-ASCII word", []string{"é"},
			"le café est fermé: é", "le café est fermé: ****"},
		{"long secret anywhere", []string{"Hunter2#x"},
			"auth failed for xHunter2#xy", "auth failed for x****y"},
		{"the longer secret first", []string{"abc", "abcdefgh"},
			"password abcdefgh and abc", "password **** and ****"},
		{"empty secret ignored", []string{""}, "nothing to hide", "nothing to hide"},
	}
	for _, c := range cases {
		if got := Redact(c.in, c.secrets); got != c.want {
			t.Errorf("%s: Redact(%q, %q)\n got %q\nwant %q", c.name, c.in, c.secrets, got, c.want)
		}
	}
}

// TestSecretsIn_DriverParsers finds passwords as the drivers read them,
// including those net/url rejects, so they are redacted too.
func TestSecretsIn_DriverParsers(t *testing.T) {
	cases := []struct {
		key, value string
		want       []string
	}{
		{"dsn", "postgres://app:pa#ss@db.internal:5432/app", []string{"pa#ss"}},
		{"dsn", "postgresql://app:Hunter2@h1:5432,h2:5433/app", []string{"Hunter2"}},
		{"dsn", `host=db user=app password='it\'s a secret' dbname=app`, []string{"it's a secret"}},
		{"dsn", "postgres://app:p%23ss@db/app", []string{"p#ss", "p%23ss"}},
		{"url", "redis://:r#dis@127.0.0.1:6379/0", []string{"r#dis"}},
		{"url", "rediss://default:s3cr3t@cache:6380/1", []string{"s3cr3t"}},
		{"broker", "amqp://guest:g%2Fst@rabbit:5672/", []string{"g/st", "g%2Fst"}},
		{"broker", "amqps://guest:gu#st@rabbit:5671/", []string{"gu#st"}},
	}
	for _, c := range cases {
		got := SecretsIn(c.key, c.value)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s=%q: %q not among the secrets %q", c.key, c.value, w, got)
			}
		}
	}
}
