package checks_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// pgShortTimeout is the timeout of a check a test expects to time out (the
// others have checkstest.Timeout); the test waits for it.
const pgShortTimeout = 400 * time.Millisecond

// newPostgresCheck builds a postgres check with checkstest.Timeout; it is
// closed when the test ends.
func newPostgresCheck(t *testing.T, keys map[string]any) *checkstest.Check {
	t.Helper()
	return checkstest.New(t, "postgres", keys, checkstest.Options{})
}

func TestPostgres_ConfigErrors(t *testing.T) {
	checkstest.ConfigTable(t, "postgres", []checkstest.ConfigCase{
		{Name: "dsn is required", Keys: map[string]any{}, Want: `key "dsn": is required`, Contains: true},
		{Name: "malformed dsn", Keys: map[string]any{"dsn": "postgres://postgres:s3cr3t-pw-XYZ@127.0.0.1:notaport/db"}, Want: `key "dsn": is not a valid PostgreSQL connection string`, Contains: true},
		{Name: "malformed key=value dsn", Keys: map[string]any{"dsn": "host=127.0.0.1 password='s3cr3t-pw-XYZ"}, Want: `key "dsn": is not a valid PostgreSQL connection string`, Contains: true},
		{Name: "bad lag", Keys: map[string]any{"dsn": testsvc.MachinePostgresDSN, "max_replication_lag": "soon"}, Want: `key "max_replication_lag": must be a duration`, Contains: true},
		{Name: "bad read_write", Keys: map[string]any{"dsn": testsvc.MachinePostgresDSN, "read_write": "maybe"}, Want: `key "read_write": must be true or false`, Contains: true},
		{Name: "empty query", Keys: map[string]any{"dsn": testsvc.MachinePostgresDSN, "query": " "}, Want: `key "query": must not be empty`, Contains: true},
		{Name: "unknown key", Keys: map[string]any{"dsn": testsvc.MachinePostgresDSN, "readwrite": true}, Want: `key "readwrite": unknown key (did you mean "read_write"?)`, Contains: true},
	})
}

// The config names the password pgx will use, wherever it comes from (the
// URL, key=value pairs, PGPASSWORD), so it is redacted everywhere.
func TestPostgres_ConfigNamesItsPassword(t *testing.T) {
	t.Setenv("PGPASSWORD", "env-pw-Q4")
	typ, _ := checks.Builtin().Lookup("postgres")
	for dsn, want := range map[string]string{
		"postgres://u:url-pw-Q1@127.0.0.1:5432/db": "url-pw-Q1",
		"host=127.0.0.1 password='kv pw Q2'":       "kv pw Q2",
		"postgres://u@127.0.0.1:5432/db":           "env-pw-Q4",
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

func TestPostgres_ConstructorDoesNotConnect(t *testing.T) {
	server := testsvc.NewDialCounter(t)
	start := time.Now()
	checkstest.New(t, "postgres", map[string]any{"dsn": "postgres://u:p@" + server.Addr() + "/db"}, checkstest.Options{Timeout: 2 * time.Second})
	testsvc.NotHung(t, "the constructor", time.Since(start), 0)
	if n := server.Count(t); n != 0 {
		t.Errorf("the constructor made %d connections to the server; it must not touch the network", n)
	}
}

func TestPostgres_SelectOnePassesOnRunningServer(t *testing.T) {
	newPostgresCheck(t, map[string]any{"dsn": testsvc.MachinePostgres(t)}).Passes(t)
}

func TestPostgres_ReadWrite(t *testing.T) {
	dsn := testsvc.MachinePostgres(t)
	t.Run("primary passes", func(t *testing.T) {
		newPostgresCheck(t, map[string]any{"dsn": dsn, "read_write": true}).Passes(t)
	})
	t.Run("read-only database fails", func(t *testing.T) {
		c := newPostgresCheck(t, map[string]any{"dsn": dsn + "&options=-c%20default_transaction_read_only%3Don", "read_write": true})
		c.Fails(t, "unavailable: database is read-only: transaction_read_only is on (127.0.0.1:5432)")
	})
	t.Run("read-only database passes without read_write", func(t *testing.T) {
		newPostgresCheck(t, map[string]any{"dsn": dsn + "&options=-c%20default_transaction_read_only%3Don"}).Passes(t)
	})
	t.Run("max_replication_lag on a primary passes without observing lag", func(t *testing.T) {
		r := newPostgresCheck(t, map[string]any{"dsn": dsn, "max_replication_lag": "1ms"}).Passes(t)
		if len(r.Observations) != 0 {
			t.Errorf("observations on a primary = %v, want none", r.Observations)
		}
	})
}

func TestPostgres_CustomQuery(t *testing.T) {
	dsn := testsvc.MachinePostgres(t)
	tests := []struct {
		name, query, want string
		timeout           time.Duration // checkstest.Timeout unless set
	}{
		{"a row passes", "SELECT 1 FROM pg_database WHERE datname = 'postgres'", "", 0},
		{"no rows fails", "SELECT 1 WHERE false", "unexpected result: query returned no rows", 0},
		{"an error fails", "SELECT * FROM no_such_table_healthd", `unexpected result: query failed: relation "no_such_table_healthd" does not exist (SQLSTATE 42P01)`, 0},
		{"a write is refused", "CREATE TABLE healthd_must_not_exist (id int)", "unexpected result: query failed: cannot execute CREATE TABLE in a read-only transaction (SQLSTATE 25006)", 0},
		{"a slow query times out", "SELECT pg_sleep(5)", "unavailable: timed out after 400ms (127.0.0.1:5432)", pgShortTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := cmp.Or(tt.timeout, checkstest.Timeout)
			c := checkstest.New(t, "postgres", map[string]any{"dsn": dsn, "query": tt.query}, checkstest.Options{Timeout: timeout})
			if tt.want == "" {
				c.Passes(t)
				return
			}
			c.FailsWith(t, tt.want)
		})
	}
}

func TestPostgres_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	checkstest.Unreachable(t, 2, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "postgres", map[string]any{"dsn": "postgres://postgres:" + testsvc.PostgresPassword + "@" + addr + "/postgres"}, checkstest.Options{Timeout: pgShortTimeout})
	})
}

func TestPostgres_RecoversWhenTheConnectionComesBack(t *testing.T) {
	proxy := testsvc.NewProxy(t, "127.0.0.1:5432")
	testsvc.MachinePostgres(t)
	c := newPostgresCheck(t, map[string]any{"dsn": fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", proxy.Addr())})
	c.Passes(t)
	proxy.Cut()
	c.Fails(t, "unavailable: ")
	proxy.Restore()
	c.Eventually(t, 3*time.Second)
	proxy.Hang()
	c.Fails(t, "unavailable: timed out after "+checkstest.Timeout.String()+" ("+proxy.Addr()+")")
	proxy.Restore()
	c.Eventually(t, 3*time.Second)
}

func TestPostgres_ManyProbesKeepAtMostTwoConnections(t *testing.T) {
	app := fmt.Sprintf("healthd-leaktest-%d", time.Now().UnixNano())
	dsn := testsvc.MachinePostgres(t)
	c := newPostgresCheck(t, map[string]any{"dsn": dsn + "&application_name=" + app})
	for range 20 {
		c.Passes(t)
	}
	before := testsvc.PostgresBackends(t, dsn, app)
	for range 200 {
		c.Passes(t)
	}
	after := testsvc.PostgresBackends(t, dsn, app)
	if before < 1 || before > 2 || after != before {
		t.Errorf("backends with application_name %s: %d after 20 probes, %d after 220; want 1 or 2, unchanged", app, before, after)
	}
	c.Close()
	deadline := time.Now().Add(testsvc.HangSlack)
	for testsvc.PostgresBackends(t, dsn, app) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("backends still open %v after Close", testsvc.HangSlack)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPostgres_DefaultApplicationName(t *testing.T) {
	dsn := testsvc.MachinePostgres(t)
	newPostgresCheck(t, map[string]any{"dsn": dsn, "query": "SELECT 1 WHERE current_setting('application_name') = 'healthd'"}).Passes(t)
}

// TestPostgres_OwnServer shares one password-protected instance (initdb and
// start take 1-3 s) between the subtests that need one; the standby subtests
// add a standby of it (another 1-1.5 s).
func TestPostgres_OwnServer(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	t.Logf("own PostgreSQL: initdb + start took %v", pg.Startup)

	t.Run("right password passes", func(t *testing.T) {
		newPostgresCheck(t, map[string]any{"dsn": pg.DSN(testsvc.PostgresPassword)}).Passes(t)
	})
	t.Run("wrong password is reported without the password", func(t *testing.T) {
		for _, dsn := range []string{
			pg.DSN("wrong-" + testsvc.PostgresPassword),
			fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable password='wrong-%s'", pg.Port(), testsvc.PostgresPassword),
		} {
			newPostgresCheck(t, map[string]any{"dsn": dsn}).FailsWith(t, "unavailable: password authentication failed")
		}
	})
	t.Run("unknown database is named", func(t *testing.T) {
		c := newPostgresCheck(t, map[string]any{"dsn": strings.Replace(pg.DSN(testsvc.PostgresPassword), "/postgres?", "/nosuchdb?", 1)})
		c.FailsWith(t, `unavailable: database "nosuchdb" does not exist (`+pg.Addr()+")")
	})
	t.Run("standby", func(t *testing.T) { postgresStandbyTests(t, pg) })
	t.Run("a restart between probes is not a failure", func(t *testing.T) {
		newPostgresCheck(t, map[string]any{"dsn": pg.DSN(testsvc.PostgresPassword)}).RestartBetweenProbes(t, pg.Stop, pg.Start)
	})
	t.Run("recovers after the server restarts", func(t *testing.T) {
		c := newPostgresCheck(t, map[string]any{"dsn": pg.DSN(testsvc.PostgresPassword)})
		c.Passes(t)
		pg.Stop()
		c.Fails(t, "unavailable: ")
		c.FailsWith(t, "unavailable: connection refused ("+pg.Addr()+")")
		pg.Start()
		c.Eventually(t, 3*time.Second)
	})
}

// postgresStandbyTests runs against a standby of the test's own primary.
func postgresStandbyTests(t *testing.T, primary *testsvc.Postgres) {
	standby := primary.StartStandby(t)
	t.Logf("own PostgreSQL standby: pg_basebackup + start took %v", standby.Startup)
	dsn := standby.DSN(testsvc.PostgresPassword)

	// A committed transaction the standby has replayed, so its lag is known.
	primary.Exec("CREATE TABLE healthd_lag (x int)")
	waitFor := func(what, sql string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var ok bool
			standby.Query(sql, &ok)
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("standby: %s did not happen within 10s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("replay of the first commit", "SELECT pg_last_xact_replay_timestamp() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")

	t.Run("passes without read_write", func(t *testing.T) {
		newPostgresCheck(t, map[string]any{"dsn": dsn}).Passes(t)
	})
	t.Run("read_write fails on a standby", func(t *testing.T) {
		c := newPostgresCheck(t, map[string]any{"dsn": dsn, "read_write": true})
		c.FailsWith(t, "unavailable: server is a standby in recovery, not writable ("+standby.Addr()+")")
	})
	t.Run("a caught-up standby has no lag", func(t *testing.T) {
		r := newPostgresCheck(t, map[string]any{"dsn": dsn, "max_replication_lag": "100ms"}).Passes(t)
		if obs := r.Observations; len(obs) != 1 || obs[0].Measurement != "lag" || obs[0].Value != 0 || obs[0].Unit != "s" {
			t.Errorf("observations = %+v, want lag 0 s", obs)
		}
	})
	t.Run("lag beyond max_replication_lag warns", func(t *testing.T) {
		standby.Exec("SELECT pg_wal_replay_pause()")
		t.Cleanup(func() { standby.Exec("SELECT pg_wal_replay_resume()") })
		primary.Exec("INSERT INTO healthd_lag VALUES (1)")
		waitFor("receipt of WAL it does not replay", "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()")
		time.Sleep(300 * time.Millisecond)
		r := newPostgresCheck(t, map[string]any{"dsn": dsn, "max_replication_lag": "100ms"}).Run()
		if r.Err == nil || checks.KindOf(r.Err) != checks.KindWarning || !strings.HasSuffix(r.Message, " exceeds 100ms") {
			t.Fatalf("Check = %v, want warning: replication lag … exceeds 100ms", r.Err)
		}
		if obs := r.Observations; len(obs) != 1 || obs[0].Value < 0.3 {
			t.Errorf("observations = %+v, want lag >= 0.3 s", obs)
		}
	})
}
