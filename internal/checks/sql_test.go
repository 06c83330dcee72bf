package checks_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// sqlShortTimeout is the timeout of a sql check a test expects to time out.
const sqlShortTimeout = 400 * time.Millisecond

// sqlDB is one of the machine's databases, for the sql check's tests: its
// DSN, where messages say it is, and a way to run the test's own setup.
type sqlDB struct {
	name string // "postgres" or "mariadb"
	dsn  string
	addr string
	exec func(t *testing.T, stmt string)
	// query returns the first column of the first row, as text.
	query func(t *testing.T, q string) string
}

func machineSQLPostgres(t *testing.T) sqlDB {
	dsn := testsvc.MachinePostgres(t)
	run := func(t *testing.T, f func(ctx context.Context, conn *pgx.Conn) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := f(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
	return sqlDB{
		name: "postgres",
		dsn:  dsn,
		addr: "127.0.0.1:5432",
		exec: func(t *testing.T, stmt string) {
			t.Helper()
			run(t, func(ctx context.Context, conn *pgx.Conn) error { _, err := conn.Exec(ctx, stmt); return err })
		},
		query: func(t *testing.T, q string) string {
			t.Helper()
			var s string
			run(t, func(ctx context.Context, conn *pgx.Conn) error { return conn.QueryRow(ctx, q).Scan(&s) })
			return s
		},
	}
}

func machineSQLMariaDB(t *testing.T) sqlDB {
	db := testsvc.MachineMariaDB(t)
	return sqlDB{
		name: "mariadb",
		dsn:  testsvc.MachineMariaDBURL,
		addr: "127.0.0.1:3306",
		exec: func(t *testing.T, stmt string) {
			t.Helper()
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		},
		query: func(t *testing.T, q string) string {
			t.Helper()
			var s string
			if err := db.QueryRow(q).Scan(&s); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return s
		},
	}
}

// machineSQLDBs runs f for each of the machine's databases, in parallel.
func machineSQLDBs(t *testing.T, f func(t *testing.T, db sqlDB)) {
	for name, mk := range map[string]func(*testing.T) sqlDB{"postgres": machineSQLPostgres, "mariadb": machineSQLMariaDB} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, mk(t))
		})
	}
}

// table creates a table of the test's own, named after base with a unique
// suffix, from columns (the part between the parentheses of CREATE TABLE),
// and drops it when the test ends.
func (db sqlDB) table(t *testing.T, base, columns string) string {
	t.Helper()
	name := fmt.Sprintf("%s_healthd_%d", base, time.Now().UnixNano())
	db.exec(t, "CREATE TABLE "+name+" ("+columns+")")
	t.Cleanup(func() { db.exec(t, "DROP TABLE IF EXISTS "+name) })
	return name
}

// sqlCheck builds a sql check of keys against db's DSN with query.
func (db sqlDB) check(t *testing.T, query string, keys map[string]any, timeout time.Duration) *checkstest.Check {
	t.Helper()
	all := map[string]any{"dsn": db.dsn, "query": query}
	for k, v := range keys {
		all[k] = v
	}
	return checkstest.New(t, "sql", all, checkstest.Options{Timeout: timeout})
}

// onTable returns query with the word table replaced by name: the tests run
// the documented queries on tables of their own.
func onTable(query, table, name string) string {
	return regexp.MustCompile(`\b`+table+`\b`).ReplaceAllString(query, name)
}

func TestSQL_ConfigErrors(t *testing.T) {
	pgDSN, myDSN := "postgres://u:"+checkstest.Secret+"@127.0.0.1:5432/db", "mysql://u:"+checkstest.Secret+"@127.0.0.1:3306/db"
	rows := []struct {
		name     string
		keys     map[string]any
		want     string
		contains bool
	}{
		{"postgres", map[string]any{"dsn": pgDSN, "query": "SELECT 1"}, "", false},
		{"postgresql scheme", map[string]any{"dsn": "postgresql://127.0.0.1/db", "query": "SELECT 1"}, "", false},
		{"mysql", map[string]any{"dsn": myDSN, "query": "SELECT 1", "equals": 1}, "", false},
		{"mysql socket", map[string]any{"dsn": "mysql://root@/test?socket=/run/mysqld/mysqld.sock", "query": "SELECT 1"}, "", false},
		{"mysql with driver parameters", map[string]any{"dsn": myDSN + "?tls=preferred&charset=utf8mb4", "query": "SELECT 1"}, "", false},
		{"required keys", map[string]any{}, "key \"dsn\": is required\nkey \"query\": is required", false},
		{"blank query", map[string]any{"dsn": pgDSN, "query": "  "}, `key "query": must not be empty`, false},
		{"other scheme", map[string]any{"dsn": "sqlite:///var/db.sqlite", "query": "SELECT 1"}, `key "dsn": must start with postgres://, postgresql:// or mysql://`, false},
		{"key=value DSN", map[string]any{"dsn": "host=127.0.0.1 password=" + checkstest.Secret, "query": "SELECT 1"}, `key "dsn": must start with postgres://, postgresql:// or mysql://`, false},
		{"bad postgres URL", map[string]any{"dsn": "postgres://u:" + checkstest.Secret + "@127.0.0.1:notaport/db", "query": "SELECT 1"}, `key "dsn": is not a valid PostgreSQL URL (postgres://user:password@host:5432/dbname)`, false},
		{"bad mysql URL", map[string]any{"dsn": "mysql://u:" + checkstest.Secret + "@[::1/db", "query": "SELECT 1"}, `key "dsn": is not a valid MySQL URL (mysql://user:password@host:3306/dbname)`, false},
		{"mysql without host", map[string]any{"dsn": "mysql://u:" + checkstest.Secret + "@/db", "query": "SELECT 1"}, `key "dsn": must name a host`, true},
		{"mysql bad parameter", map[string]any{"dsn": myDSN + "?parseTime=maybe", "query": "SELECT 1"}, `key "dsn": is not a valid MySQL URL: parameter "parseTime" has a value go-sql-driver/mysql does not accept`, false},
		{"mysql multiStatements", map[string]any{"dsn": myDSN + "?multiStatements=true", "query": "SELECT 1"}, `key "dsn": must not set multiStatements: the query is one statement, so that it cannot leave the read-only transaction`, false},
		{"mysql compress", map[string]any{"dsn": myDSN + "?compress=true", "query": "SELECT 1"}, `key "dsn": must not set compress: the check bounds an answer by the bytes that reach it, and a compressed answer is many times larger than its bytes`, false},
		{"warn above fail", map[string]any{"dsn": pgDSN, "query": "SELECT 1", "warn_above": 10, "fail_above": 5}, `key "warn_above": must not be above fail_above (5)`, false},
		{"warn below fail", map[string]any{"dsn": pgDSN, "query": "SELECT 1", "warn_below": 1, "fail_below": 5}, `key "warn_below": must not be below fail_below (5)`, false},
		{"equals and a threshold", map[string]any{"dsn": pgDSN, "query": "SELECT 1", "equals": "1", "fail_above": 5}, `key "equals": cannot be combined with warn_above, fail_above, warn_below or fail_below: compare text or numbers, not both`, false},
		{"threshold not a number", map[string]any{"dsn": pgDSN, "query": "SELECT 1", "fail_above": "lots"}, `key "fail_above": must be a number or null, not "lots"`, false},
		{"equals a list", map[string]any{"dsn": pgDSN, "query": "SELECT 1", "equals": []any{1}}, `key "equals": must be a string, a number or a boolean, not a list`, false},
		{"misspelled key", map[string]any{"dsn": pgDSN, "query": "SELECT 1", "fail_abve": 5}, `key "fail_abve": unknown key (did you mean "fail_above"?)`, false},
	}
	var cases []checkstest.ConfigCase
	for _, r := range rows {
		cases = append(cases, checkstest.ConfigCase{Name: r.name, Keys: r.keys, Want: r.want, Contains: r.contains})
	}
	checkstest.ConfigTable(t, "sql", cases)
}

// The config names the password the driver will use, wherever it comes
// from, so that it is redacted everywhere.
func TestSQL_ConfigNamesItsPassword(t *testing.T) {
	t.Setenv("PGPASSWORD", "env-pw-Q4")
	typ, _ := checks.Builtin().Lookup("sql")
	for dsn, want := range map[string]string{
		"postgres://u:url-pw-Q1@127.0.0.1:5432/db":   "url-pw-Q1",
		"postgres://u@127.0.0.1:5432/db":             "env-pw-Q4",
		"mysql://u:my%23pw-Q3@127.0.0.1:3306/db":     "my#pw-Q3",
		"mysql://u:my-pw@Q5@127.0.0.1:3306/db?tls=1": "my-pw@Q5",
	} {
		cfg, err := typ.Parse(map[string]any{"dsn": dsn, "query": "SELECT 1"}, checks.Settings{})
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		if got := cfg.(checks.Secreter).Secrets(); !slices.Contains(got, want) {
			t.Errorf("%s: Secrets() = %q, want %q among them", dsn, got, want)
		}
	}
}

func TestSQL_ConstructorDoesNotConnect(t *testing.T) {
	server := testsvc.NewDialCounter(t)
	for _, dsn := range []string{"postgres://u:p@" + server.Addr() + "/db", "mysql://u:p@" + server.Addr() + "/db"} {
		c, err := checkstest.Build("sql", map[string]any{"dsn": dsn, "query": "SELECT 1"}, checkstest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := server.Count(t); n != 0 {
		t.Errorf("building made %d connections to the server; it must not touch the network", n)
	}
}

// sqlExample is one of the examples of docs/checks/sql.md: the query as
// documented (on the documented table), for one database.
type sqlExample struct {
	name, db, table, query string
	keys                   map[string]any
}

var sqlExamples = []sqlExample{
	{"queue backlog", "", "jobs", "SELECT count(*) FROM jobs WHERE state = 'queued'",
		map[string]any{"measurement": "backlog", "unit": "jobs", "warn_above": 100, "fail_above": 1000}},
	{"nightly import", "postgres", "import_runs", "SELECT EXTRACT(EPOCH FROM now() - max(finished_at)) FROM import_runs",
		map[string]any{"measurement": "age", "unit": "s", "fail_above": 93600}},
	{"nightly import", "mariadb", "import_runs", "SELECT TIMESTAMPDIFF(SECOND, max(finished_at), now()) FROM import_runs",
		map[string]any{"measurement": "age", "unit": "s", "fail_above": 93600}},
	{"replication lag on a standby", "postgres", "", `SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
       END`,
		map[string]any{"measurement": "lag", "unit": "s", "warn_above": 30, "fail_above": 300}},
	{"replication lag seen from the primary", "postgres", "", "SELECT COALESCE(max(EXTRACT(EPOCH FROM replay_lag)), 0) FROM pg_stat_replication",
		map[string]any{"measurement": "lag", "unit": "s", "warn_above": 30, "fail_above": 300}},
	{"connected standbys", "postgres", "", "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
		map[string]any{"measurement": "standbys", "fail_below": 1}},
	{"applied migrations", "", "django_migrations", "SELECT count(*) FROM django_migrations",
		map[string]any{"measurement": "migrations", "equals": "${EXPECTED_MIGRATIONS}"}},
}

// example returns the documented example called name for db.
func example(t *testing.T, name, db string) sqlExample {
	t.Helper()
	for _, e := range sqlExamples {
		if e.name == name && (e.db == "" || e.db == db) {
			return e
		}
	}
	t.Fatalf("no example %q for %s", name, db)
	return sqlExample{}
}

// Every example the tests run is in the docs, query and keys as tested.
func TestSQL_DocumentedExamplesAreTheTestedOnes(t *testing.T) {
	page, err := os.ReadFile("../../docs/checks/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	space := regexp.MustCompile(`\s+`)
	doc := space.ReplaceAllString(string(page), " ")
	for _, e := range sqlExamples {
		if q := space.ReplaceAllString(e.query, " "); !strings.Contains(doc, q) {
			t.Errorf("example %q (%s): docs/checks/sql.md does not have the query %q", e.name, e.db, q)
		}
		for k, v := range e.keys {
			if kv := fmt.Sprintf("%s: %v", k, v); !strings.Contains(doc, kv) {
				t.Errorf("example %q (%s): docs/checks/sql.md does not have %q", e.name, e.db, kv)
			}
		}
	}
}

func TestSQL_QueueBacklog(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		e := example(t, "queue backlog", db.name)
		jobs := db.table(t, "jobs", "id int, state varchar(20)")
		c := db.check(t, onTable(e.query, e.table, jobs), e.keys, checkstest.Timeout)

		r := c.Passes(t)
		if v := r.Observation(t, "backlog", "jobs"); v != 0 {
			t.Errorf("empty queue: backlog %v", v)
		}
		if r.Note != `backlog "0"` {
			t.Errorf("note = %q", r.Note)
		}
		insert := func(n int, state string) {
			vals := make([]string, n)
			for i := range vals {
				vals[i] = fmt.Sprintf("(%d, '%s')", i, state)
			}
			db.exec(t, "INSERT INTO "+jobs+" VALUES "+strings.Join(vals, ", "))
		}
		insert(500, "done") // not counted
		insert(101, "queued")
		r = c.Fails(t, "warning: backlog 101 jobs is above 100 (warn_above)")
		if v := r.Observation(t, "backlog", "jobs"); v != 101 {
			t.Errorf("backlog observed %v, want 101", v)
		}
		insert(900, "queued")
		c.Fails(t, "unexpected result: backlog 1001 jobs is above 1000 (fail_above)")
	})
}

func TestSQL_NightlyImportIsFresh(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		e := example(t, "nightly import", db.name)
		runs := db.table(t, "import_runs", "id int, finished_at timestamp NULL")
		c := db.check(t, onTable(e.query, e.table, runs), e.keys, checkstest.Timeout)

		// The import never ran: no row, so max() is NULL.
		c.Fails(t, "unexpected result: query returned NULL (wrap the expression in COALESCE(…, 0) where no row means 0)")
		db.exec(t, "INSERT INTO "+runs+" VALUES (1, now() - INTERVAL '27' HOUR)")
		r := c.Fails(t, "unexpected result: age 972")
		if !strings.HasSuffix(r.Message, " s is above 93600 (fail_above)") {
			t.Errorf("message = %q", r.Message)
		}
		db.exec(t, "INSERT INTO "+runs+" VALUES (2, now())")
		r = c.Passes(t)
		if age := r.Observation(t, "age", "s"); age < 0 || age > 60 {
			t.Errorf("age of the newest run = %v s, want a few seconds", age)
		}
	})
}

func TestSQL_ReplicationLagOnAPrimary(t *testing.T) {
	db := machineSQLPostgres(t)
	for _, name := range []string{"replication lag on a standby", "replication lag seen from the primary"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := example(t, name, db.name)
			r := db.check(t, e.query, e.keys, checkstest.Timeout).Passes(t)
			if lag := r.Observation(t, "lag", "s"); lag != 0 {
				t.Errorf("lag on a primary without standbys = %v, want 0", lag)
			}
		})
	}
	t.Run("the bare replay timestamp is NULL on a primary", func(t *testing.T) {
		t.Parallel()
		c := db.check(t, "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())", nil, checkstest.Timeout)
		c.Fails(t, "unexpected result: query returned NULL")
	})
	t.Run("no standby connected", func(t *testing.T) {
		t.Parallel()
		e := example(t, "connected standbys", db.name)
		c := db.check(t, e.query, e.keys, checkstest.Timeout)
		c.Fails(t, "unexpected result: standbys 0 is below 1 (fail_below)")
	})
}

func TestSQL_DjangoMigrationsApplied(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		e := example(t, "applied migrations", db.name)
		// Django's own table: id, app, name, applied.
		migrations := db.table(t, "django_migrations", "id int PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamp NOT NULL")
		db.exec(t, "INSERT INTO "+migrations+" VALUES (1, 'contenttypes', '0001_initial', now()), (2, 'shop', '0001_initial', now())")
		expected := func(string) string { return "3" } // the release ships three migrations
		keys := map[string]any{"measurement": "migrations", "equals": os.Expand(e.keys["equals"].(string), expected)}
		c := db.check(t, onTable(e.query, e.table, migrations), keys, checkstest.Timeout)

		r := c.Fails(t, `unexpected result: migrations is "2", expected "3"`)
		if v := r.Observation(t, "migrations", ""); v != 2 {
			t.Errorf("observation = %v, want 2", v)
		}
		db.exec(t, "INSERT INTO "+migrations+" VALUES (3, 'shop', '0002_order_note', now())")
		c.Passes(t)
	})
}

func TestSQL_Results(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		two := db.table(t, "two_rows", "id int")
		db.exec(t, "INSERT INTO "+two+" VALUES (1), (2)")
		for _, tc := range []struct {
			name, query string
			keys        map[string]any
			want        string // "" passes
			note        string
		}{
			{"a value without expectation passes", "SELECT 'ok'", nil, "", `value "ok"`},
			{"equals text", "SELECT 'ok'", map[string]any{"equals": "ok"}, "", ""},
			{"equals text fails", "SELECT 'degraded'", map[string]any{"equals": "ok"}, `unexpected result: value is "degraded", expected "ok"`, ""},
			{"equals a number from YAML", "SELECT 0", map[string]any{"equals": 0}, "", ""},
			{"a trailing semicolon", "SELECT 1;", map[string]any{"equals": 1}, "", ""},
			{"other columns are ignored", "SELECT 1, 'x'", map[string]any{"equals": 1}, "", ""},
			{"decimal text is kept", "SELECT CAST(1.50 AS DECIMAL(4,2))", map[string]any{"equals": "1.50"}, "", ""},
			{"a number within thresholds", "SELECT 5", map[string]any{"warn_below": 3, "fail_below": 1, "warn_above": 10}, "", "value \"5\""},
			{"below warn_below", "SELECT 2", map[string]any{"warn_below": 3, "fail_below": 1}, "warning: value 2 is below 3 (warn_below)", ""},
			{"below fail_below", "SELECT 0.5", map[string]any{"warn_below": 3, "fail_below": 1}, "unexpected result: value 0.5 is below 1 (fail_below)", ""},
			{"not a number", "SELECT 'many'", map[string]any{"fail_above": 10}, `unexpected result: value is "many", not a number`, ""},
			{"NULL", "SELECT NULL", map[string]any{"equals": "x"}, "unexpected result: query returned NULL (wrap the expression in COALESCE(…, 0) where no row means 0)", ""},
			{"no rows", "SELECT id FROM " + two + " WHERE id > 5", nil, "unexpected result: query returned no rows", ""},
			{"more than one row", "SELECT id FROM " + two, nil, "unexpected result: query returned more than one row; it must return exactly one (add LIMIT 1 or an aggregate such as count(*) or max(…))", ""},
			{"one of several rows", "SELECT id FROM " + two + " ORDER BY id DESC LIMIT 1", map[string]any{"equals": 2}, "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := db.check(t, tc.query, tc.keys, checkstest.Timeout)
				if tc.want == "" {
					r := c.Passes(t)
					if tc.note != "" && r.Note != tc.note {
						t.Errorf("note = %q, want %q", r.Note, tc.note)
					}
					return
				}
				if r := c.Fails(t, tc.want); r.Message != tc.want {
					t.Errorf("message = %q, want %q", r.Message, tc.want)
				}
			})
		}
	})
}

func TestSQL_BooleansReadAsInYAML(t *testing.T) {
	db := machineSQLPostgres(t)
	db.check(t, "SELECT pg_is_in_recovery()", map[string]any{"equals": false}, checkstest.Timeout).Passes(t)
	db.check(t, "SELECT 1 = 1", map[string]any{"equals": "true"}, checkstest.Timeout).Passes(t)
}

func TestSQL_QueryErrorsAreUnexpectedResults(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		want := map[string]string{
			"postgres": `unexpected result: query failed: relation "no_such_table_healthd" does not exist (SQLSTATE 42P01)`,
			"mariadb":  `unexpected result: query failed: Table 'test.no_such_table_healthd' doesn't exist (error 1146)`,
		}[db.name]
		if r := db.check(t, "SELECT count(*) FROM no_such_table_healthd", nil, checkstest.Timeout).Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
}

// The query runs in a read-only transaction, as one statement: a write is
// refused, however it is dressed, and the rows stay.
func TestSQL_WritesAreRefused(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		keep := db.table(t, "keep", "id int")
		db.exec(t, "INSERT INTO "+keep+" VALUES (1), (2), (3)")
		cases := map[string]map[string]string{
			"postgres": {
				"DELETE FROM " + keep: "unexpected result: query failed: cannot execute DELETE in a read-only transaction (SQLSTATE 25006)",
				"WITH d AS (DELETE FROM " + keep + " RETURNING 1) SELECT count(*) FROM d": "unexpected result: query failed: cannot execute SELECT in a read-only transaction (SQLSTATE 25006)",
				"ROLLBACK; DELETE FROM " + keep:                                           "unexpected result: query failed: cannot insert multiple commands into a prepared statement (SQLSTATE 42601)",
				"CREATE TABLE " + keep + "_new (id int)":                                  "unexpected result: query failed: cannot execute CREATE TABLE in a read-only transaction (SQLSTATE 25006)",
			},
			"mariadb": {
				"DELETE FROM " + keep:            "unexpected result: query failed: Cannot execute statement in a READ ONLY transaction (error 1792)",
				"ROLLBACK; DELETE FROM " + keep:  "unexpected result: query failed: You have an error in your SQL syntax",
				"UPDATE " + keep + " SET id = 0": "unexpected result: query failed: Cannot execute statement in a READ ONLY transaction (error 1792)",
			},
		}[db.name]
		for query, want := range cases {
			c := db.check(t, query, nil, checkstest.Timeout)
			c.Fails(t, want)
		}
		if n := db.query(t, "SELECT count(*) FROM "+keep); n != "3" {
			t.Errorf("rows left: %s, want 3", n)
		}
	})
}

func TestSQL_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	for scheme, dsn := range map[string]string{
		"postgres": "postgres://postgres:" + checkstest.Secret + "@%s/postgres?sslmode=disable",
		"mysql":    "mysql://root:" + checkstest.Secret + "@%s/test",
	} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			checkstest.Unreachable(t, 2, func(t *testing.T, addr string) *checkstest.Check {
				return checkstest.New(t, "sql", map[string]any{"dsn": fmt.Sprintf(dsn, addr), "query": "SELECT 1"}, checkstest.Options{Timeout: sqlShortTimeout})
			})
		})
	}
}

// A query slower than the timeout ends at the deadline, and the server
// stops running it (the statement timeout), so a slow query does not pile
// up on the server probe after probe. The connection survives.
func TestSQL_SlowQueryIsStoppedOnTheServer(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		marker := fmt.Sprintf("slow_healthd_%d", time.Now().UnixNano())
		queries := map[string][2]string{
			"postgres": {"SELECT pg_sleep(5) AS " + marker,
				"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%" + marker + "%' AND pid <> pg_backend_pid()"},
			"mariadb": {"SELECT SLEEP(5) AS " + marker,
				"SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%" + marker + "%' AND ID <> CONNECTION_ID()"},
		}[db.name]
		query, running := queries[0], queries[1]
		const timeout = time.Second
		c := db.check(t, query, nil, timeout)
		want := "unavailable: timed out after 1s (" + db.addr + ")"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
		deadline := time.Now().Add(testsvc.HangSlack)
		for db.query(t, running) != "0" {
			if time.Now().After(deadline) {
				t.Fatalf("the server still runs the query %v after the check gave up", testsvc.HangSlack)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// Probes reuse the pool's connections: the server sees the same session.
func TestSQL_ProbesShareAtMostTwoConnections(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		query := map[string]string{"postgres": "SELECT pg_backend_pid()", "mariadb": "SELECT CONNECTION_ID()"}[db.name]
		c := db.check(t, query, nil, checkstest.Timeout)
		sessions := map[float64]bool{}
		for range 30 {
			sessions[c.Passes(t).Observation(t, "value", "")] = true
		}
		if len(sessions) > 2 {
			t.Errorf("30 probes used %d server sessions, want at most 2", len(sessions))
		}
	})
}

func TestSQL_MySQLRecoversWhenTheConnectionComesBack(t *testing.T) {
	testsvc.MachineMariaDB(t)
	proxy := testsvc.NewProxy(t, "127.0.0.1:3306")
	c := checkstest.New(t, "sql", map[string]any{"dsn": "mysql://root@" + proxy.Addr() + "/test", "query": "SELECT 1"}, checkstest.Options{Timeout: 2 * time.Second})
	c.Passes(t)
	proxy.Cut()
	c.Fails(t, "unavailable: ")
	if r := c.Fails(t, "unavailable: connection refused ("+proxy.Addr()+")"); !strings.HasSuffix(r.Message, ")") {
		t.Errorf("message = %q", r.Message)
	}
	proxy.Restore()
	c.Passes(t)
	proxy.Hang()
	c.Fails(t, "unavailable: timed out after 2s ("+proxy.Addr()+")")
	proxy.Restore()
	c.Eventually(t, 3*time.Second)
}

// A server of the test's own, with a password: the wrong one is named
// without showing it, and a restart costs no failed probe once it is back.
func TestSQL_OwnPostgres(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	t.Run("wrong password", func(t *testing.T) {
		c := checkstest.New(t, "sql", map[string]any{"dsn": pg.DSN("wrong-" + testsvc.PostgresPassword), "query": "SELECT 1"}, checkstest.Options{})
		want := "unavailable: password authentication failed"
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	})
	t.Run("recovers from a restart", func(t *testing.T) {
		c := checkstest.New(t, "sql", map[string]any{"dsn": pg.DSN(testsvc.PostgresPassword), "query": "SELECT count(*) FROM pg_database", "fail_below": 1}, checkstest.Options{})
		c.RecoversFromRestart(t, pg.Addr(), pg.Stop, pg.Start)
	})
}

func TestSQL_MySQLWrongPassword(t *testing.T) {
	testsvc.MachineMariaDB(t)
	c := checkstest.New(t, "sql", map[string]any{"dsn": "mysql://root:wrong-" + checkstest.Secret + "@127.0.0.1:3306/test", "query": "SELECT 1"}, checkstest.Options{})
	want := "unavailable: authentication failed: Access denied for user 'root'@'127.0.0.1' (using password: YES)"
	if r := c.Fails(t, want); r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
}
