package checks_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

const day = 24 * time.Hour

func tlsCheck(t *testing.T, addr string, ca *testsvc.CA, extra map[string]any) *checkstest.Check {
	keys := map[string]any{"address": addr}
	if ca != nil {
		keys["ca_file"] = ca.File
	}
	for k, v := range extra {
		keys[k] = v
	}
	return checkstest.New(t, "tls", keys, checkstest.Options{})
}

func TestTLS_CertificateStates(t *testing.T) {
	t.Parallel()
	ca := testsvc.NewCA(t)
	in := func(d time.Duration) time.Time { return time.Now().Add(d) }
	expired := in(-2 * day)
	for _, tc := range []struct {
		name  string
		leaf  *testsvc.Leaf
		keys  map[string]any
		want  string // "" passes; else a regexp of the message
		days  float64
		noObs bool
	}{
		{name: "valid for 100 days", leaf: ca.Issue([]string{"127.0.0.1", "localhost"}, in(100*day)), days: 100},
		{name: "expires in 10 days warns", leaf: ca.Issue([]string{"127.0.0.1"}, in(10*day)), days: 10,
			want: `^warning: certificate expires in 9\.9 days, on \d{4}-\d\d-\d\d \d\d:\d\d UTC; warn_days is 14 \(ADDR\)$`},
		{name: "expires in 3 days fails with fail_days 4", leaf: ca.Issue([]string{"127.0.0.1"}, in(3*day)), days: 3, keys: map[string]any{"fail_days": 4},
			want: `^unavailable: certificate expires in 2\.9 days, on .* UTC; fail_days is 4 \(ADDR\)$`},
		{name: "expires in 3 days warns with the default fail_days", leaf: ca.Issue([]string{"127.0.0.1"}, in(3*day+time.Hour)), days: 3,
			want: `^warning: certificate expires in 3\.0 days`},
		{name: "warn_days 0 and fail_days 0 pass a certificate expiring tomorrow", leaf: ca.Issue([]string{"127.0.0.1"}, in(day+time.Hour)), days: 1,
			keys: map[string]any{"warn_days": 0, "fail_days": 0}},
		{name: "expired", leaf: ca.Issue([]string{"127.0.0.1"}, expired), days: -2,
			want: `^unavailable: certificate expired on ` + regexp.QuoteMeta(expired.UTC().Format("2006-01-02 15:04")) + ` UTC \(ADDR\)$`},
		{name: "wrong host", leaf: ca.Issue([]string{"other.example", "10.9.9.9"}, in(100*day)), days: 100,
			want: `^unavailable: certificate is not valid for 127\.0\.0\.1 \(it names other\.example, 10\.9\.9\.9\) \(ADDR\)$`},
		{name: "server_name checked", leaf: ca.Issue([]string{"127.0.0.1", "db.internal"}, in(100*day)), days: 100, keys: map[string]any{"server_name": "db.internal"}},
		{name: "server_name not in the certificate", leaf: ca.Issue([]string{"127.0.0.1"}, in(100*day)), days: 100, keys: map[string]any{"server_name": "db.internal"},
			want: `^unavailable: certificate is not valid for db\.internal \(it names 127\.0\.0\.1\) \(ADDR\)$`},
		{name: "self-signed", leaf: testsvc.SelfSigned(t, []string{"127.0.0.1"}, in(100*day)), days: 100,
			want: `^unavailable: certificate is self-signed and not trusted \(unknown authority\) \(ADDR\)$`},
		{name: "another CA", leaf: testsvc.NewCA(t).Issue([]string{"127.0.0.1"}, in(100*day)), days: 100,
			want: `^unavailable: certificate signed by unknown authority \(ADDR\)$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := testsvc.ServeTLS(t, tc.leaf)
			r := tlsCheck(t, addr, ca, tc.keys).Run()
			if tc.want == "" {
				if r.Err != nil {
					t.Fatalf("failed: %s", r.Message)
				}
				if !regexp.MustCompile(`^certificate for \S+ valid for \d+ more days, until .* UTC$`).MatchString(r.Note) {
					t.Errorf("note = %q", r.Note)
				}
			} else {
				re := regexp.MustCompile(regexp.MustCompile(`ADDR`).ReplaceAllLiteralString(tc.want, regexp.QuoteMeta(addr)))
				if !re.MatchString(r.Message) {
					t.Errorf("message = %q, want %s", r.Message, re)
				}
			}
			if got := r.Observation(t, "daysLeft", "days"); got < tc.days-0.2 || got > tc.days+0.1 {
				t.Errorf("daysLeft = %v, want about %v", got, tc.days)
			}
		})
	}
}

// The check judges a certificate at its own clock's time, the wording of
// the failure too: a certificate whose validity starts after that time is
// "not valid before", not "expired", whatever the wall clock says.
func TestTLS_CertificateIsJudgedByTheChecksClock(t *testing.T) {
	t.Parallel()
	ca := testsvc.NewCA(t)
	leaf := ca.Issue([]string{"127.0.0.1"}, time.Now().Add(100*day))
	addr := testsvc.ServeTLS(t, leaf)
	notBefore := leaf.TLS.Leaf.NotBefore.UTC().Format("2006-01-02 15:04")
	notAfter := leaf.TLS.Leaf.NotAfter.UTC().Format("2006-01-02 15:04")
	for _, tc := range []struct {
		name  string
		shift time.Duration // the check's clock minus the wall clock
		want  string
		days  float64
	}{
		{name: "30 days early", shift: -30 * day, want: "unavailable: certificate is not valid before " + notBefore + " UTC (" + addr + ")", days: 130},
		{name: "200 days late", shift: 200 * day, want: "unavailable: certificate expired on " + notAfter + " UTC (" + addr + ")", days: -100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tlsCheck(t, addr, ca, nil)
			checks.SetTLSClock(c.Checker, func() time.Time { return time.Now().Add(tc.shift) })
			r := c.FailsWith(t, tc.want)
			if got := r.Observation(t, "daysLeft", "days"); got < tc.days-0.2 || got > tc.days+0.1 {
				t.Errorf("daysLeft = %v, want about %v", got, tc.days)
			}
		})
	}
}

func TestTLS_SystemRootsDoNotTrustATestCA(t *testing.T) {
	t.Parallel()
	addr := testsvc.ServeTLS(t, testsvc.NewCA(t).Issue([]string{"127.0.0.1"}, time.Now().Add(100*day)))
	tlsCheck(t, addr, nil, nil).Fails(t, "unavailable: certificate signed by unknown authority ("+addr+")")
}

func TestTLS_PlainTextServerFails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	tlsCheck(t, addr, nil, nil).Fails(t, "unavailable: TLS handshake failed: server does not speak TLS ("+addr+")")
}

func TestTLS_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	checkstest.Unreachable(t, 2, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "tls", map[string]any{"address": addr}, checkstest.Options{Timeout: 300 * time.Millisecond})
	})
}

// STARTTLS for PostgreSQL against a real server with ssl on.
func TestTLS_StartTLSPostgres(t *testing.T) {
	ca := testsvc.NewCA(t)
	leaf := ca.Issue([]string{"127.0.0.1", "localhost"}, time.Now().Add(40*day))
	pg := testsvc.StartPostgres(t)
	pg.EnableSSL(leaf.CertFile, leaf.KeyFile)
	r := tlsCheck(t, pg.Addr(), ca, map[string]any{"starttls": "postgres"}).Run()
	if r.Err != nil {
		t.Fatalf("failed: %s", r.Message)
	}
	if d := r.Observation(t, "daysLeft", "days"); d < 39.8 || d > 40 {
		t.Errorf("daysLeft = %v, want about 40", d)
	}
	// The machine's PostgreSQL has ssl off (or a certificate of its own):
	// either way, not this CA's.
	testsvc.MachinePostgres(t)
	r = tlsCheck(t, "127.0.0.1:5432", ca, map[string]any{"starttls": "postgres"}).Run()
	if r.Err == nil {
		t.Fatalf("the machine's postgres passed with the test CA")
	}
	t.Logf("machine postgres: %s", r.Message)
}

func TestTLS_ConfigValidation(t *testing.T) {
	checkstest.ConfigTable(t, "tls", []checkstest.ConfigCase{
		{Name: "minimal", Keys: map[string]any{"address": "example.com:443"}},
		{Name: "all", Keys: map[string]any{"address": "mail.example.com:25", "starttls": "smtp", "server_name": "mx.example.com", "warn_days": 30, "fail_days": 7}},
		{Name: "missing", Keys: map[string]any{}, Want: `key "address": is required`},
		{Name: "url", Keys: map[string]any{"address": "https://example.com"}, Want: `key "address": must end with a port number from 1 to 65535`},
		{Name: "warn below fail", Keys: map[string]any{"address": "example.com:443", "warn_days": 2}, Want: `key "warn_days": must be at least fail_days (3)`},
		{Name: "negative fail", Keys: map[string]any{"address": "example.com:443", "fail_days": -1, "warn_days": 0}, Want: `key "fail_days": must be 0 or more`},
		{Name: "unknown starttls", Keys: map[string]any{"address": "example.com:143", "starttls": "imap"}, Want: `key "starttls"`, Contains: true},
	})
}
