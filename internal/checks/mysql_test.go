package checks_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// myShortTimeout is the timeout of a check a test expects to time out.
const myShortTimeout = 400 * time.Millisecond

func TestMySQL_Config(t *testing.T) {
	dsn := "root:s3cr3t-my-XYZ@tcp(127.0.0.1:3306)/test"
	checkstest.ConfigTable(t, "mysql", []checkstest.ConfigCase{
		{Name: "driver DSN", Keys: map[string]any{"dsn": dsn}},
		{Name: "URL", Keys: map[string]any{"dsn": "mysql://root:s3cr3t@db.example:3306/app?charset=utf8mb4&ssl-mode=REQUIRED"}},
		{Name: "mariadb URL without port", Keys: map[string]any{"dsn": "mariadb://root@db.example/app"}},
		{Name: "every option", Keys: map[string]any{"dsn": dsn, "expect": "replica", "lag_warn": "5s", "lag_fail": "1m", "query": "SELECT 1 FROM dual",
			"tls": map[string]any{"mode": "verify-full", "ca_file": "/etc/ssl/certs/ca-certificates.crt", "server_name": "db.example"}}},
		{Name: "dsn is required", Keys: map[string]any{}, Want: `key "dsn": is required`},
		{Name: "no slash", Keys: map[string]any{"dsn": "root:s3cr3t@tcp(127.0.0.1:3306)"}, Want: `key "dsn": is not a valid MySQL DSN`, Contains: true},
		{Name: "unterminated address", Keys: map[string]any{"dsn": "root:s3cr3t@tcp(127.0.0.1:3306/test"}, Want: `key "dsn": is not a valid MySQL DSN`, Contains: true},
		{Name: "bad parameter", Keys: map[string]any{"dsn": "root:s3cr3t@tcp(127.0.0.1)/test?parseTime=s3cr3t"}, Want: `a parameter has an invalid value`, Contains: true},
		{Name: "registered tls name", Keys: map[string]any{"dsn": "root:s3cr3t@tcp(127.0.0.1)/test?tls=custom"}, Want: `use the tls key`, Contains: true},
		{Name: "other URL scheme", Keys: map[string]any{"dsn": "postgres://root:s3cr3t@127.0.0.1/test"}, Want: `the URL scheme must be mysql:// or mariadb://`, Contains: true},
		{Name: "bad URL port", Keys: map[string]any{"dsn": "mysql://root:s3cr3t@127.0.0.1:99999/test"}, Want: `the port is not a number from 1 to 65535`, Contains: true},
		{Name: "bad ssl-mode", Keys: map[string]any{"dsn": "mysql://root:s3cr3t@127.0.0.1/test?ssl-mode=sometimes"}, Want: `ssl-mode must be`, Contains: true},
		{Name: "bad expect", Keys: map[string]any{"dsn": dsn, "expect": "standby"}, Want: `key "expect": must be any, primary or replica, not "standby"`},
		{Name: "bad tls mode", Keys: map[string]any{"dsn": dsn, "tls": map[string]any{"mode": "on"}}, Want: `key "tls.mode": must be disable, preferred, required, verify-ca or verify-full, not "on"`},
		{Name: "ca_file without verification", Keys: map[string]any{"dsn": dsn, "tls": map[string]any{"mode": "disable", "ca_file": "/ca.pem"}}, Want: `key "tls.ca_file": needs tls.mode required, verify-ca or verify-full`},
		{Name: "server_name without verify-full", Keys: map[string]any{"dsn": dsn, "tls": map[string]any{"mode": "required", "server_name": "db"}}, Want: `key "tls.server_name": needs tls.mode verify-full`},
		{Name: "lag_warn above lag_fail", Keys: map[string]any{"dsn": dsn, "lag_warn": "1m", "lag_fail": "10s"}, Want: `key "lag_warn": must be less than lag_fail (10s)`},
		{Name: "bad lag", Keys: map[string]any{"dsn": dsn, "lag_fail": "soon"}, Want: `key "lag_fail": must be a duration`, Contains: true},
		{Name: "empty query", Keys: map[string]any{"dsn": dsn, "query": " "}, Want: `key "query": must not be empty`},
		{Name: "unknown key", Keys: map[string]any{"dsn": dsn, "lag_wran": "1s"}, Want: `key "lag_wran": unknown key (did you mean "lag_warn"?)`},
	})
}

// The config names the password the driver will send, in either form, so
// it is redacted everywhere.
func TestMySQL_ConfigNamesItsPassword(t *testing.T) {
	typ, _ := checks.Builtin().Lookup("mysql")
	for dsn, want := range map[string]string{
		"u:drv-pw-Q1@tcp(127.0.0.1:3306)/db":      "drv-pw-Q1",
		"u:p@ss/w:rd-Q2@tcp(127.0.0.1:3306)/db":   "p@ss/w:rd-Q2",
		"mysql://u:url-pw-Q3@127.0.0.1:3306/db":   "url-pw-Q3",
		"mysql://u:pct%2Fpw-Q4@127.0.0.1:3306/db": "pct/pw-Q4",
	} {
		cfg, err := typ.Parse(map[string]any{"dsn": dsn}, checks.Settings{})
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		s, ok := cfg.(checks.Secreter)
		if !ok {
			t.Fatalf("%T does not name its secrets", cfg)
		}
		if got := s.Secrets(); !slices.Contains(got, want) {
			t.Errorf("%s: Secrets() = %q, want %q among them", dsn, got, want)
		}
	}
}

func TestMySQL_ConstructorDoesNotConnect(t *testing.T) {
	server := testsvc.NewDialCounter(t)
	start := time.Now()
	c, err := checkstest.Build("mysql", map[string]any{"dsn": "root:s3cr3t@tcp(" + server.Addr() + ")/test"}, checkstest.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	testsvc.NotHung(t, "the constructor", time.Since(start), 0)
	if n := server.Count(t); n != 0 {
		t.Errorf("the constructor made %d connections to the server; it must not touch the network", n)
	}
}

func TestMySQL_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	checkstest.Unreachable(t, 2, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "mysql", map[string]any{"dsn": "root:" + testsvc.MariaDBPassword + "@tcp(" + addr + ")/test"}, checkstest.Options{Timeout: myShortTimeout})
	})
}

// The machine's MariaDB: a writable primary with no replication.
func TestMySQL_MachineServer(t *testing.T) {
	t.Parallel()
	dsn := testsvc.MachineMySQL(t)
	t.Run("driver DSN passes", func(t *testing.T) {
		checkstest.New(t, "mysql", map[string]any{"dsn": dsn}, checkstest.Options{}).Passes(t)
	})
	t.Run("mysql URL passes", func(t *testing.T) {
		checkstest.New(t, "mysql", map[string]any{"dsn": "mysql://root@" + testsvc.MachineMySQLAddr + "/test?charset=utf8mb4"}, checkstest.Options{}).Passes(t)
	})
	t.Run("expect primary passes", func(t *testing.T) {
		checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "expect": "primary"}, checkstest.Options{}).Passes(t)
	})
	t.Run("expect replica fails on a primary", func(t *testing.T) {
		c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "expect": "replica"}, checkstest.Options{})
		want := "unavailable: server is writable (@@read_only is OFF), not a read-only replica (" + testsvc.MachineMySQLAddr + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("lag options on a primary pass without observing lag", func(t *testing.T) {
		r := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "lag_warn": "1s", "lag_fail": "2s"}, checkstest.Options{}).Passes(t)
		if len(r.Observations) != 0 {
			t.Errorf("observations on a primary = %v, want none", r.Observations)
		}
	})
	t.Run("unknown database is named", func(t *testing.T) {
		c := checkstest.New(t, "mysql", map[string]any{"dsn": "root@tcp(" + testsvc.MachineMySQLAddr + ")/healthd_no_such_db"}, checkstest.Options{})
		want := "unavailable: Unknown database 'healthd_no_such_db' (" + testsvc.MachineMySQLAddr + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("TLS required of a server without it", func(t *testing.T) {
		// The machine's MariaDB is set up by its package; ask whether it
		// offers TLS rather than assume it.
		var haveSSL string
		if err := testsvc.MachineMariaDB(t).QueryRow("SELECT @@have_ssl").Scan(&haveSSL); err != nil {
			t.Fatal(err)
		}
		c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "tls": map[string]any{"mode": "required"}}, checkstest.Options{})
		r := c.Run()
		if haveSSL == "YES" {
			if r.Err != nil {
				t.Errorf("the server offers TLS (have_ssl YES), but the check failed: %s", r.Message)
			}
			return
		}
		want := "unavailable: TLS required but the server does not offer it (" + testsvc.MachineMySQLAddr + ")"
		if r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("TLS preferred of a server without it passes", func(t *testing.T) {
		checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "tls": map[string]any{"mode": "preferred"}}, checkstest.Options{}).Passes(t)
	})
	t.Run("custom query", func(t *testing.T) {
		for _, tt := range []struct{ name, query, want string }{
			{"a row passes", "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'test'", ""},
			{"no rows fails", "SELECT 1 FROM dual WHERE 1 = 0", "unexpected result: query returned no rows"},
			{"an error fails", "SELECT * FROM healthd_no_such_table", "unexpected result: query failed: Table 'test.healthd_no_such_table' doesn't exist (error 1146)"},
			// DDL commits implicitly and escapes the read-only transaction
			// (the docs say to give healthd a user that may only SELECT);
			// a row written is refused.
			{"a write is refused", "INSERT INTO healthd_no_such_table VALUES (1)", "unexpected result: query failed: "},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "query": tt.query}, checkstest.Options{})
				if tt.want == "" {
					c.Passes(t)
					return
				}
				c.Fails(t, tt.want)
			})
		}
		t.Run("a slow query times out", func(t *testing.T) {
			c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "query": "SELECT SLEEP(5)"}, checkstest.Options{Timeout: myShortTimeout})
			want := "unavailable: timed out after " + myShortTimeout.String() + " (" + testsvc.MachineMySQLAddr + ")"
			if r := c.Fails(t, want); r.Message != want {
				t.Errorf("message = %q, want %q", r.Message, want)
			}
		})
	})
}

// TestMySQL_OwnServer shares one password-protected MariaDB (install and
// start take a few seconds) between the subtests that need one; the
// replica subtests add a replica of it.
func TestMySQL_OwnServer(t *testing.T) {
	t.Parallel()
	my := testsvc.StartMariaDB(t)
	t.Logf("own MariaDB: install + start took %v", my.Startup)
	keys := func(extra ...any) map[string]any {
		k := map[string]any{"dsn": my.DSN(testsvc.MariaDBPassword)}
		for i := 0; i+1 < len(extra); i += 2 {
			k[extra[i].(string)] = extra[i+1]
		}
		return k
	}

	t.Run("right password passes in both forms", func(t *testing.T) {
		checkstest.New(t, "mysql", keys(), checkstest.Options{}).Passes(t)
		checkstest.New(t, "mysql", map[string]any{"dsn": my.URL(testsvc.MariaDBPassword)}, checkstest.Options{}).Passes(t)
	})
	t.Run("wrong password is reported without the password", func(t *testing.T) {
		for _, dsn := range []string{my.DSN("wrong-" + testsvc.MariaDBPassword), my.URL("wrong-" + testsvc.MariaDBPassword)} {
			c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn}, checkstest.Options{})
			want := "unavailable: authentication failed: Access denied for user 'root'@'127.0.0.1' (using password: YES)"
			if r := c.Fails(t, want); r.Message != want {
				t.Errorf("message = %q, want %q", r.Message, want)
			}
		}
	})
	t.Run("tls", func(t *testing.T) {
		// A row only when the session is encrypted.
		const onTLS = "SELECT 1 FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER' AND VARIABLE_VALUE <> ''"
		for _, tt := range []struct {
			name string
			dsn  string
			tls  map[string]any
			want string // "" passes
		}{
			{"preferred", "", map[string]any{"mode": "preferred"}, ""},
			{"required", "", map[string]any{"mode": "required"}, ""},
			{"verify-ca with ca_file", "", map[string]any{"mode": "verify-ca", "ca_file": my.CAFile()}, ""},
			{"verify-full by IP address", "", map[string]any{"mode": "verify-full", "ca_file": my.CAFile()}, ""},
			{"verify-full with server_name", "", map[string]any{"mode": "verify-full", "ca_file": my.CAFile(), "server_name": testsvc.MariaDBServerName}, ""},
			{"URL with ssl-mode and ssl-ca", my.URL(testsvc.MariaDBPassword) + "?ssl-mode=VERIFY_IDENTITY&ssl-ca=" + my.CAFile(), nil, ""},
			{"disable", "", map[string]any{"mode": "disable"}, "unexpected result: query returned no rows"},
			{"verify-ca with the system's CAs", "", map[string]any{"mode": "verify-ca"},
				"unavailable: TLS certificate not accepted: x509: certificate signed by unknown authority (" + my.Addr() + ")"},
			{"verify-full with another name", "", map[string]any{"mode": "verify-full", "ca_file": my.CAFile(), "server_name": "other.healthd.test"},
				"unavailable: TLS certificate not accepted: x509: certificate is valid for " + testsvc.MariaDBServerName + ", not other.healthd.test (" + my.Addr() + ")"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				k := keys("query", onTLS)
				if tt.dsn != "" {
					k["dsn"] = tt.dsn
				}
				if tt.tls != nil {
					k["tls"] = tt.tls
				}
				c := checkstest.New(t, "mysql", k, checkstest.Options{})
				if tt.want == "" {
					c.Passes(t)
					return
				}
				if r := c.Fails(t, tt.want); r.Message != tt.want {
					t.Errorf("message = %q, want %q", r.Message, tt.want)
				}
			})
		}
		t.Run("a missing ca_file fails the build", func(t *testing.T) {
			_, err := checkstest.Build("mysql", keys("tls", map[string]any{"mode": "verify-full", "ca_file": "/nonexistent/ca.pem"}), checkstest.Options{})
			if err == nil || !strings.Contains(err.Error(), "ca_file") {
				t.Errorf("Build = %v, want an error naming ca_file", err)
			}
		})
	})
	t.Run("many probes keep at most two connections", func(t *testing.T) {
		my.Exec("CREATE DATABASE IF NOT EXISTS healthd_pool")
		dsn := strings.Replace(my.DSN(testsvc.MariaDBPassword), "/healthd", "/healthd_pool", 1)
		c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn}, checkstest.Options{})
		for range 20 {
			c.Passes(t)
		}
		before := testsvc.MySQLSessions(t, my.DSN(testsvc.MariaDBPassword), "healthd_pool")
		for range 200 {
			c.Passes(t)
		}
		after := testsvc.MySQLSessions(t, my.DSN(testsvc.MariaDBPassword), "healthd_pool")
		if before < 1 || before > 2 || after != before {
			t.Errorf("sessions in healthd_pool: %d after 20 probes, %d after 220; want 1 or 2, unchanged", before, after)
		}
		c.Close()
		deadline := time.Now().Add(testsvc.HangSlack)
		for testsvc.MySQLSessions(t, my.DSN(testsvc.MariaDBPassword), "healthd_pool") != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("sessions still open %v after Close", testsvc.HangSlack)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("replica", func(t *testing.T) { mysqlReplicaTests(t, my) })
	t.Run("a restart between probes is not a failure", func(t *testing.T) {
		checkstest.New(t, "mysql", keys(), checkstest.Options{}).RestartBetweenProbes(t, my.Stop, my.Start)
	})
	t.Run("recovers after the server restarts", func(t *testing.T) {
		checkstest.New(t, "mysql", keys(), checkstest.Options{}).RecoversFromRestart(t, my.Addr(), my.Stop, my.Start)
	})
	t.Run("a hung server times out, then passes once it answers", func(t *testing.T) {
		c := checkstest.New(t, "mysql", keys(), checkstest.Options{Timeout: myShortTimeout})
		c.Eventually(t, 3*time.Second) // warm: the pool holds a connection
		my.Pause()
		defer my.Resume()
		want := "unavailable: timed out after " + myShortTimeout.String() + " (" + my.Addr() + ")"
		for i := range 2 { // the pooled connection, then a new one
			if r := c.Fails(t, want); r.Message != want {
				t.Errorf("probe %d: message = %q, want %q", i, r.Message, want)
			}
		}
		my.Resume()
		// go-sql-driver closes a connection whose query ran out of time,
		// so the pool keeps none of the stalled ones: the first probe
		// after SIGCONT passes.
		if r := c.Run(); r.Err != nil {
			t.Fatalf("first probe after the server answers again: %s (in %v)", r.Message, r.Took)
		}
	})
	t.Run("killed mid-probe fails at once, then recovers", func(t *testing.T) {
		c := checkstest.New(t, "mysql", keys(), checkstest.Options{})
		c.Passes(t)
		my.Pause() // the probe waits for an answer…
		done := make(chan checkstest.Result, 1)
		go func() { done <- c.Run() }()
		time.Sleep(200 * time.Millisecond)
		my.Kill() // …when the server dies
		r := <-done
		if r.Err == nil {
			t.Fatalf("the probe passed, want a failure")
		}
		if !strings.HasPrefix(r.Message, "unavailable: connection ") || !strings.HasSuffix(r.Message, " ("+my.Addr()+")") {
			t.Errorf("message = %q, want unavailable: connection reset/closed (%s)", r.Message, my.Addr())
		}
		checkstest.NoSecret(t, "message", r.Message)
		testsvc.NotHung(t, "the probe killed mid-way", r.Took, 0)
		my.Start()
		if r := c.Run(); r.Err != nil {
			t.Fatalf("first run after the server is back: %s", r.Message)
		}
	})
}

// mysqlReplicaTests runs against a replica of the test's own primary.
func mysqlReplicaTests(t *testing.T, primary *testsvc.MariaDB) {
	replica := primary.StartReplica(t)
	t.Logf("own MariaDB replica: copy + start + catch-up took %v", replica.Startup)
	dsn := replica.DSN(testsvc.MariaDBPassword)
	primary.Exec("CREATE TABLE IF NOT EXISTS healthd.lag (x int)")
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("replica: %s did not happen within 15s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("replication of the table", func() bool {
		var n int
		replica.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'healthd' AND TABLE_NAME = 'lag'", &n)
		return n == 1
	})

	t.Run("expect replica passes and observes no lag", func(t *testing.T) {
		r := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "expect": "replica", "lag_warn": "10s"}, checkstest.Options{}).Passes(t)
		if lag := r.Observation(t, "lag", "s"); lag != 0 {
			t.Errorf("lag = %v s, want 0", lag)
		}
		if want := "replica of " + primary.Addr() + ", replication lag 0s"; r.Note != want {
			t.Errorf("note = %q, want %q", r.Note, want)
		}
	})
	t.Run("expect primary fails on a replica", func(t *testing.T) {
		c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "expect": "primary"}, checkstest.Options{})
		want := "unavailable: server is read-only (@@read_only is ON), not a writable primary (" + replica.Addr() + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("a stopped SQL thread fails", func(t *testing.T) {
		replica.Exec("STOP SLAVE SQL_THREAD")
		defer replica.Exec("START SLAVE SQL_THREAD")
		c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "expect": "replica"}, checkstest.Options{})
		want := "unavailable: replication stopped: the SQL thread is not running (" + replica.Addr() + ", replicating from " + primary.Addr() + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
		// Without expect or lag options, the replica is just a server.
		checkstest.New(t, "mysql", map[string]any{"dsn": dsn}, checkstest.Options{}).Passes(t)
	})
	t.Run("a stopped IO thread fails", func(t *testing.T) {
		replica.Exec("STOP SLAVE IO_THREAD")
		defer replica.Exec("START SLAVE IO_THREAD")
		c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "lag_fail": "1m"}, checkstest.Options{})
		want := "unavailable: replication stopped: the IO thread is not running (" + replica.Addr() + ", replicating from " + primary.Addr() + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("a user without the privilege to see replication is told so", func(t *testing.T) {
		primary.Exec("CREATE USER IF NOT EXISTS 'monitor'@'127.0.0.1' IDENTIFIED BY '" + testsvc.MariaDBPassword + "'")
		waitFor("replication of the user", func() bool {
			var n int
			replica.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = 'monitor'", &n)
			return n == 1
		})
		c := checkstest.New(t, "mysql", map[string]any{"dsn": "monitor:" + testsvc.MariaDBPassword + "@tcp(" + replica.Addr() + ")/", "expect": "replica"}, checkstest.Options{})
		want := "unavailable: SHOW REPLICA STATUS denied: the user needs the REPLICATION CLIENT privilege (SLAVE MONITOR on MariaDB 10.5 and later) (" + replica.Addr() + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("lag beyond lag_warn warns, beyond lag_fail fails", func(t *testing.T) {
		// Delayed replication: the SQL thread holds each event for an hour,
		// and Seconds_Behind_Master counts from the event's time.
		replica.Exec("STOP SLAVE")
		replica.Exec("CHANGE MASTER TO MASTER_DELAY = 3600")
		replica.Exec("START SLAVE")
		defer func() {
			replica.Exec("STOP SLAVE")
			replica.Exec("CHANGE MASTER TO MASTER_DELAY = 0")
			replica.Exec("START SLAVE")
		}()
		primary.Exec("INSERT INTO healthd.lag VALUES (1)")
		watch := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "lag_warn": "1h"}, checkstest.Options{})
		waitFor("a lag of 2 s", func() bool {
			r := watch.Run()
			return r.Err == nil && len(r.Observations) == 1 && r.Observations[0].Value >= 2
		})
		c := checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "expect": "replica", "lag_warn": "1s"}, checkstest.Options{})
		r := c.Run()
		if r.Err == nil || checks.KindOf(r.Err) != checks.KindWarning || !strings.HasPrefix(r.Message, "warning: replication lag ") || !strings.HasSuffix(r.Message, " exceeds 1s") {
			t.Errorf("lag_warn 1s: %q, want warning: replication lag … exceeds 1s", r.Message)
		}
		if lag := r.Observation(t, "lag", "s"); lag < 2 {
			t.Errorf("lag = %v s, want >= 2", lag)
		}
		c = checkstest.New(t, "mysql", map[string]any{"dsn": dsn, "lag_fail": "1s"}, checkstest.Options{})
		r = c.Fails(t, "unavailable: replication lag ")
		if !strings.HasSuffix(r.Message, " exceeds 1s ("+replica.Addr()+")") {
			t.Errorf("lag_fail 1s: %q, want unavailable: replication lag … exceeds 1s (%s)", r.Message, replica.Addr())
		}
	})
}
