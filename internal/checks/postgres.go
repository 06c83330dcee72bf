package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres checks a PostgreSQL server with SELECT 1 (or a custom read-only
// query) over a small pool, shared by the checks of a runner with the same
// DSN and timeout, and optionally that the server is writable and that a
// standby is not lagging.
type Postgres struct {
	pool      *pgxpool.Pool
	release   func() error // gives back the shared pool
	addr      string       // host:port of the first host, for messages
	secrets   []string     // scrubbed from any text that reaches a message
	timeout   time.Duration
	readWrite bool
	maxLag    time.Duration // 0: not checked
	query     string
}

// postgresMaxConns bounds a pool: one connection for the probe, one spare
// for an overlapping probe. Every probe reuses them, and the checks that
// share the pool (same DSN, same timeout) take turns on them: a probe waits
// for a free connection within its deadline.
const postgresMaxConns = 2

type postgresConfig struct {
	DSN       string        `key:"dsn" required:"true" doc:"libpq connection string: a postgres:// URL or key=value pairs (PG* variables and .pgpass apply)"`
	ReadWrite bool          `key:"read_write" doc:"also fail when the server is a standby (pg_is_in_recovery) or the session is read-only (transaction_read_only)"`
	MaxLag    time.Duration `key:"max_replication_lag" default:"off" doc:"on a standby, warn when replay lags more than this (observation lag, in seconds); no effect on a primary"`
	Query     *string       `key:"query" default:"SELECT 1" doc:"a custom query that must return at least one row; it runs in a read-only transaction that is rolled back"`

	parsed *pgxpool.Config // DSN, parsed by Validate
}

func newPostgresConfig(Settings) Config { return &postgresConfig{} }

func (c *postgresConfig) Validate() error {
	var p Problems
	if c.Query != nil && strings.TrimSpace(*c.Query) == "" {
		p.Add("query", "must not be empty")
	}
	c.parsed = nil
	c.DSN = djangoURL(c.DSN, "postgres", "postgres") // postgis://… from a DATABASE_URL
	if c.DSN != "" {
		// Parsing reads PG* variables and the password and service files;
		// it opens no connection.
		cfg, err := pgxpool.ParseConfig(c.DSN)
		if err != nil {
			// pgx's message may quote the DSN; never show it.
			p.Add("dsn", "is not a valid PostgreSQL connection string (postgres://user:password@host:5432/dbname or key=value pairs)")
		}
		c.parsed = cfg
	}
	return p.Err()
}

// Secrets adds the password pgx found (in the DSN, PGPASSWORD or .pgpass)
// to the generic scan of the DSN.
func (c *postgresConfig) Secrets() []string {
	out := SecretsIn("dsn", c.DSN)
	if c.parsed != nil && c.parsed.ConnConfig.Password != "" {
		out = append(out, c.parsed.ConnConfig.Password)
	}
	return out
}

// Build takes the pool of the check's DSN and timeout from env.Clients,
// making it when no check holds it; the pool connects lazily.
func (c *postgresConfig) Build(env Env) (Checker, error) {
	timeout := env.Timeout
	query := ""
	if c.Query != nil {
		query = strings.TrimSpace(*c.Query)
	}
	cc := c.parsed.ConnConfig
	// The DSN and what the environment added to it when Validate parsed it
	// are the same for every check of one config; the timeout sizes the
	// connect and statement timeouts.
	pool, release, err := Share(env.Clients, "postgres", []string{c.DSN, timeout.String()}, func() (*postgresPool, error) {
		return newPostgresPool(c.parsed, timeout)
	})
	if err != nil {
		return nil, err
	}
	return &Postgres{
		pool:      pool.pool,
		release:   release,
		addr:      postgresAddr(cc),
		secrets:   []string{cc.Password},
		timeout:   timeout,
		readWrite: c.ReadWrite,
		maxLag:    c.MaxLag,
		query:     query,
	}, nil
}

// postgresPool is a pool that the checks on one DSN and timeout share.
type postgresPool struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// newPostgresPool makes the pool for parsed, with its timeouts sized from
// timeout; it connects lazily.
func newPostgresPool(parsed *pgxpool.Config, timeout time.Duration) (*postgresPool, error) {
	cfg := parsed.Copy()
	cc := cfg.ConnConfig
	if cc.ConnectTimeout <= 0 || cc.ConnectTimeout > timeout {
		cc.ConnectTimeout = timeout
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "healthd"
	}
	if _, set := cc.RuntimeParams["statement_timeout"]; !set && !strings.Contains(cc.RuntimeParams["options"], "statement_timeout") {
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
	}
	// One round trip per statement, no prepared statements: works through
	// PgBouncer in transaction mode and leaves nothing behind on the server.
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	// Neither mode used here (simple protocol; the sql check's exec mode)
	// reads pgx's statement or description cache, whose 512-entry maps
	// took 54 KB per connection.
	cc.StatementCacheCapacity, cc.DescriptionCacheCapacity = 0, 0
	cfg.MaxConns = postgresMaxConns
	cfg.MinConns = 0
	cfg.MinIdleConns = 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.MaxConnLifetime = time.Hour
	// Ping a pooled connection before every probe: a connection the server
	// dropped (restart, failover, proxy timeout) is then replaced within the
	// same probe instead of failing it with "connection closed".
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }

	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects lazily
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %s", Redact(err.Error(), []string{cc.Password}))
	}
	return &postgresPool{pool: pool, timeout: timeout}, nil
}

// postgresSecrets returns the passwords pgx reads from a DSN (URL or
// key=value), for redaction; none when pgx rejects it.
func postgresSecrets(dsn string) []string {
	if cc, err := pgconn.ParseConfig(dsn); err == nil {
		return []string{cc.Password}
	}
	return nil
}

func postgresAddr(cc *pgx.ConnConfig) string {
	if strings.HasPrefix(cc.Host, "/") { // unix socket directory
		return fmt.Sprintf("%s/.s.PGSQL.%d", cc.Host, cc.Port)
	}
	return net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
}

// Close releases the check's pool, which closes when no other check holds
// it.
func (c *Postgres) Close() error { return c.release() }

// Close closes the pool. It waits at most the timeout: a connection that
// timed out against a hung server is cleaned up by pgx in the background (a
// cancel request and a drain, which pgx bounds at 15 s), and a reload must
// not wait for that.
func (p *postgresPool) Close() error {
	done := make(chan struct{})
	go func() {
		p.pool.Close()
		close(done)
	}()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	return nil
}

// Check runs one probe on a pooled connection.
func (c *Postgres) Check(ctx context.Context) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return c.fail(ctx, err, false)
	}
	defer conn.Release()

	if c.query != "" {
		if err := c.runQuery(ctx, conn.Conn()); err != nil {
			return err
		}
	} else {
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			return c.fail(ctx, err, false)
		}
		if one != 1 {
			return Unexpected("SELECT 1 returned %d", one)
		}
	}
	if !c.readWrite && c.maxLag == 0 {
		return nil
	}
	return c.checkRole(ctx, conn.Conn())
}

// runQuery runs the custom query in a read-only transaction that is rolled
// back, and requires at least one row.
func (c *Postgres) runQuery(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return c.fail(ctx, err, false)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a failed rollback closes the connection; the pool drops it
	rows, err := tx.Query(ctx, c.query)
	if err != nil {
		return c.fail(ctx, err, true)
	}
	got := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return c.fail(ctx, err, true)
	}
	if !got {
		return Unexpected("query returned no rows")
	}
	return nil
}

// postgresRoleQuery reads whether the server is a standby, whether the
// session is read-only, and a standby's replay lag in seconds: 0 when it
// has replayed everything it received (an idle primary is not lag), NULL
// when it has replayed no transaction yet.
const postgresRoleQuery = `SELECT pg_is_in_recovery(),
	current_setting('transaction_read_only') = 'on',
	CASE WHEN NOT pg_is_in_recovery() THEN NULL
	     WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
	     ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()))::float8
	END`

func (c *Postgres) checkRole(ctx context.Context, conn *pgx.Conn) error {
	var standby, readOnly bool
	var lag *float64
	if err := conn.QueryRow(ctx, postgresRoleQuery).Scan(&standby, &readOnly, &lag); err != nil {
		return c.fail(ctx, err, false)
	}
	if c.readWrite {
		if standby {
			return Unavailable("server is a standby in recovery, not writable (%s)", c.addr)
		}
		if readOnly {
			return Unavailable("database is read-only: transaction_read_only is on (%s)", c.addr)
		}
	}
	if c.maxLag > 0 && standby {
		if lag == nil {
			return Warn("replication lag unknown: the standby has replayed no transaction yet")
		}
		Observe(ctx, "lag", *lag, "s")
		if *lag > c.maxLag.Seconds() {
			return Warn("replication lag %s exceeds %s", fmtSeconds(*lag), c.maxLag)
		}
		Note(ctx, "standby, replication lag %s", fmtSeconds(*lag))
	}
	return nil
}

func fmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// fail turns a pgx error into a check error in plain words. query is true
// for errors of the custom query, which the server answered wrongly.
func (c *Postgres) fail(ctx context.Context, err error, query bool) error {
	if ctx.Err() != nil {
		return timeoutFailure(ctx, err, c.timeout, c.addr)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg := Redact(pgErr.Message, c.secrets)
		switch {
		case pgErr.Code == "28P01":
			return &Error{Kind: KindUnavailable, Msg: "password authentication failed", Err: err}
		case pgErr.Code == "57014": // query_canceled: statement_timeout
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("timed out after %s (%s)", c.timeout, c.addr), Err: err}
		case strings.HasPrefix(pgErr.Code, "28"): // invalid authorization: no pg_hba entry, unknown role
			return &Error{Kind: KindUnavailable, Msg: "authentication failed: " + msg, Err: err}
		case query && !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57") && !strings.HasPrefix(pgErr.Code, "53"):
			return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf("query failed: %s (SQLSTATE %s)", msg, pgErr.Code), Err: err}
		}
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", msg, c.addr), Err: err}
	}
	if nf := netFailure(ctx, err, c.timeout, c.addr); nf != nil {
		return nf
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("cannot connect (%s)", c.addr), Err: err}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Kind: KindUnexpected, Msg: "query returned no rows", Err: err}
	}
	if strings.Contains(err.Error(), "conn closed") {
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("connection closed (%s)", c.addr), Err: err}
	}
	if query {
		return &Error{Kind: KindUnexpected, Msg: "query failed: " + Redact(err.Error(), c.secrets), Err: err}
	}
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", Redact(err.Error(), c.secrets), c.addr), Err: err}
}
