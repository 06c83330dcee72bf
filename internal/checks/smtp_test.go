package checks_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// smtpPassword holds checkstest.Secret, which no message may show.
const smtpPassword = "pw-" + checkstest.Secret

func smtpCheck(t *testing.T, keys map[string]any) *checkstest.Check {
	return checkstest.New(t, "smtp", keys, checkstest.Options{})
}

func TestSMTP_PlainSessionPasses(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartSMTP(t, testsvc.SMTPOptions{})
	r := smtpCheck(t, map[string]any{"address": srv.Addr, "helo_name": "probe.test"}).Passes(t)
	if want := `^` + regexp.QuoteMeta(srv.Addr) + ` answered EHLO, QUIT in \d+\.\d ms$`; !regexp.MustCompile(want).MatchString(r.Note) {
		t.Errorf("note = %q, want %s", r.Note, want)
	}
	r.Observation(t, "sessionTime", "ms")
	// A server without STARTTLS fails a check that asks for it.
	smtpCheck(t, map[string]any{"address": srv.Addr, "starttls": true}).Fails(t, "unexpected result: server does not offer STARTTLS ("+srv.Addr+")")
}

func TestSMTP_StartTLSAndAuth(t *testing.T) {
	t.Parallel()
	ca := testsvc.NewCA(t)
	srv := testsvc.StartSMTP(t, testsvc.SMTPOptions{Leaf: ca.Issue([]string{"127.0.0.1", "smtp.test"}, time.Now().Add(30*day)), User: "healthd", Password: smtpPassword})
	base := map[string]any{"address": srv.Addr, "starttls": true, "ca_file": ca.File}
	with := func(extra map[string]any) map[string]any {
		keys := map[string]any{}
		for k, v := range base {
			keys[k] = v
		}
		for k, v := range extra {
			keys[k] = v
		}
		return keys
	}
	t.Run("starttls", func(t *testing.T) {
		t.Parallel()
		r := smtpCheck(t, base).Passes(t)
		if want := `^` + regexp.QuoteMeta(srv.Addr) + ` answered EHLO, STARTTLS, QUIT in`; !regexp.MustCompile(want).MatchString(r.Note) {
			t.Errorf("note = %q", r.Note)
		}
	})
	t.Run("server_name", func(t *testing.T) {
		t.Parallel()
		smtpCheck(t, with(map[string]any{"server_name": "smtp.test"})).Passes(t)
	})
	t.Run("right password", func(t *testing.T) {
		t.Parallel()
		r := smtpCheck(t, with(map[string]any{"username": "healthd", "password": smtpPassword})).Passes(t)
		if want := `answered EHLO, STARTTLS, AUTH, QUIT in`; !regexp.MustCompile(want).MatchString(r.Note) {
			t.Errorf("note = %q", r.Note)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		r := smtpCheck(t, with(map[string]any{"username": "healthd", "password": "wrong-" + checkstest.Secret})).Fails(t, "unavailable: authentication failed: 535 ")
		t.Logf("wrong password: %s", r.Message)
	})
	t.Run("unknown user", func(t *testing.T) {
		t.Parallel()
		smtpCheck(t, with(map[string]any{"username": "nobody", "password": smtpPassword})).Fails(t, "unavailable: authentication failed: 535 ")
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		t.Parallel()
		smtpCheck(t, with(map[string]any{"ca_file": testsvc.NewCA(t).File})).Fails(t, "unavailable: TLS certificate not accepted: x509: certificate signed by unknown authority")
	})
	t.Run("wrong name", func(t *testing.T) {
		t.Parallel()
		smtpCheck(t, with(map[string]any{"server_name": "mail.example.com"})).Fails(t, "unavailable: TLS certificate not accepted: x509: certificate is valid for smtp.test, not mail.example.com ("+srv.Addr+")")
	})
	t.Run("AUTH is not offered before TLS", func(t *testing.T) {
		t.Parallel()
		smtpCheck(t, map[string]any{"address": srv.Addr, "username": "healthd", "password": smtpPassword, "allow_insecure_auth": true}).
			Fails(t, "unexpected result: server does not offer AUTH ("+srv.Addr+")")
	})
	t.Run("tls check with starttls smtp", func(t *testing.T) {
		t.Parallel()
		r := checkstest.New(t, "tls", map[string]any{"address": srv.Addr, "starttls": "smtp", "ca_file": ca.File}, checkstest.Options{}).Passes(t)
		if d := r.Observation(t, "daysLeft", "days"); d < 29.8 || d > 30 {
			t.Errorf("daysLeft = %v, want about 30", d)
		}
	})
}

func TestSMTP_ImplicitTLS(t *testing.T) {
	t.Parallel()
	ca := testsvc.NewCA(t)
	srv := testsvc.StartSMTP(t, testsvc.SMTPOptions{Leaf: ca.Issue([]string{"127.0.0.1"}, time.Now().Add(30*day)), ImplicitTLS: true, User: "healthd", Password: smtpPassword})
	r := smtpCheck(t, map[string]any{"address": srv.Addr, "tls": true, "ca_file": ca.File, "username": "healthd", "password": smtpPassword}).Passes(t)
	if want := `answered TLS, EHLO, AUTH, QUIT in`; !regexp.MustCompile(want).MatchString(r.Note) {
		t.Errorf("note = %q", r.Note)
	}
	smtpCheck(t, map[string]any{"address": srv.Addr, "tls": true, "ca_file": ca.File, "username": "healthd", "password": "x" + checkstest.Secret}).Fails(t, "unavailable: authentication failed: 535 ")
}

// A real aiosmtpd that greets and then never answers EHLO (its handler
// awaits): each probe times out at the check's deadline, and the first probe
// after the server answers again passes.
func TestSMTP_HangsAfterTheBanner(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartSMTP(t, testsvc.SMTPOptions{})
	c := checkstest.New(t, "smtp", map[string]any{"address": srv.Addr}, checkstest.Options{Timeout: 300 * time.Millisecond})
	srv.HangAfterBanner(t)
	for range 2 {
		r := c.FailsWith(t, "unavailable: timed out after 300ms ("+srv.Addr+")")
		t.Logf("hung after the banner: answered in %v", r.Took)
	}
	srv.Answer(t)
	c.Passes(t)
}

func TestSMTP_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	checkstest.Unreachable(t, 2, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "smtp", map[string]any{"address": addr}, checkstest.Options{Timeout: 300 * time.Millisecond})
	})
}

func TestSMTP_ConfigValidation(t *testing.T) {
	checkstest.ConfigTable(t, "smtp", []checkstest.ConfigCase{
		{Name: "minimal", Keys: map[string]any{"address": "smtp.internal:25"}},
		{Name: "auth", Keys: map[string]any{"address": "smtp.internal:587", "starttls": true, "username": "u", "password": smtpPassword}},
		{Name: "missing", Keys: map[string]any{}, Want: `key "address": is required`},
		{Name: "both tls", Keys: map[string]any{"address": "a:1", "tls": true, "starttls": true},
			Want: `key "tls": cannot be used with starttls: tls is TLS from the start (port 465), starttls an upgrade (port 587)`},
		{Name: "password alone", Keys: map[string]any{"address": "a:1", "starttls": true, "password": smtpPassword}, Want: `key "username": is required with password`},
		{Name: "username alone", Keys: map[string]any{"address": "a:1", "starttls": true, "username": "u"}, Want: `key "password": is required with username`},
		{Name: "auth in clear", Keys: map[string]any{"address": "a:1", "username": "u", "password": smtpPassword},
			Want: `key "username": needs starttls: true or tls: true, so the password is not sent in clear text (or allow_insecure_auth: true)`},
		{Name: "auth in clear allowed", Keys: map[string]any{"address": "a:1", "username": "u", "password": smtpPassword, "allow_insecure_auth": true}},
		{Name: "ca_file without tls", Keys: map[string]any{"address": "a:1", "ca_file": "/ca.pem"}, Want: `key "ca_file": has no effect without starttls: true or tls: true`},
	})
}
