package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SQL runs a query that returns one row, in a read-only transaction, and
// judges the first column: equal to a text, or within numeric thresholds.
// The value is an observation. The dsn's scheme picks the database:
// PostgreSQL (pgx, on the postgres check's pool rules) or MySQL/MariaDB
// (go-sql-driver/mysql through database/sql).
type SQL struct {
	db     sqlDB
	query  string
	name   string // the value's name in messages and its measurement
	expect valueExpectation
}

// sqlDB is one database's way of running the check's query.
type sqlDB interface {
	// firstValue runs query in a read-only transaction bounded by ctx and
	// returns the text form of the first column of its only row. Its
	// errors are check errors, worded.
	firstValue(ctx context.Context, query string) (text string, null bool, err error)
	Close() error
}

type sqlConfig struct {
	DSN              string `key:"dsn" required:"true" doc:"postgres:// (or postgresql://) or mysql:// URL; the scheme picks the database"`
	Query            string `key:"query" required:"true" doc:"one statement returning one row; the first column is the value (other columns are ignored); runs in a read-only transaction"`
	valueExpectation        // equals, warn_above… measurement, unit

	pg *postgresConfig // a postgres:// DSN, parsed by Validate
	my *sqlMyDSN       // a mysql:// DSN, parsed by Validate
}

func newSQLConfig(Settings) Config { return &sqlConfig{} }

func (c *sqlConfig) Validate() error {
	var p Problems
	c.pg, c.my = nil, nil
	if c.DSN != "" {
		scheme, _, _ := strings.Cut(c.DSN, "://")
		switch strings.ToLower(scheme) {
		case "postgres", "postgresql":
			pg := &postgresConfig{DSN: c.DSN}
			if err := pg.Validate(); err != nil {
				p.Add("dsn", "is not a valid PostgreSQL URL (postgres://user:password@host:5432/dbname)")
			} else {
				c.pg = pg
			}
		case "mysql":
			my, err := parseSQLMyDSN(c.DSN)
			if err != nil {
				p.Add("dsn", "%v", err)
			} else {
				c.my = my
			}
		default:
			p.Add("dsn", "must start with postgres://, postgresql:// or mysql://")
		}
	}
	if c.Query != "" && strings.TrimSpace(c.Query) == "" {
		p.Add("query", "must not be empty")
	}
	c.valueExpectation.validate(&p, "")
	return p.Err()
}

// Secrets names the password the driver will use: pgx's (which may come
// from PGPASSWORD or .pgpass) or the mysql:// URL's, besides the generic
// scan of the DSN.
func (c *sqlConfig) Secrets() []string {
	switch {
	case c.pg != nil:
		return c.pg.Secrets()
	case c.my != nil && c.my.cfg.Passwd != "":
		return append(SecretsIn("dsn", c.DSN), c.my.cfg.Passwd)
	}
	return SecretsIn("dsn", c.DSN)
}

// Build takes the check's pool from env.Clients (see the postgres check and
// newSQLMy), making it when no check holds it; it connects lazily.
func (c *sqlConfig) Build(env Env) (Checker, error) {
	s := &SQL{
		query:  strings.TrimSpace(c.Query),
		name:   firstNonEmpty(c.Measurement, "value"),
		expect: c.valueExpectation,
	}
	switch {
	case c.pg != nil:
		ck, err := c.pg.Build(env)
		if err != nil {
			return nil, fmt.Errorf("sql: %w", err)
		}
		s.db = &sqlPostgres{pg: ck.(*Postgres)}
	case c.my != nil:
		db, err := newSQLMy(c.DSN, c.my, env)
		if err != nil {
			return nil, err
		}
		s.db = db
	default:
		return nil, errors.New("sql: the config was not validated")
	}
	return s, nil
}

// Close releases the check's pool.
func (s *SQL) Close() error { return s.db.Close() }

// Check runs the query once and judges its value.
func (s *SQL) Check(ctx context.Context) error {
	text, null, err := s.db.firstValue(ctx, s.query)
	if err != nil {
		return err
	}
	if null {
		return Unexpected("query returned NULL (wrap the expression in COALESCE(…, 0) where no row means 0)")
	}
	if err := s.expect.judge(ctx, s.name, "", numberValue(text)); err != nil {
		return err
	}
	Note(ctx, "%s %s", s.name, quoteValue(text))
	return nil
}

// sqlStatementTimeout is how long the server may run the statement: nine
// tenths of the time left before ctx's deadline (the check's timeout when
// ctx has none), so the server cancels it, and the connection survives,
// before the client gives up on it. Never 0, which would mean no limit.
func sqlStatementTimeout(ctx context.Context, timeout time.Duration) time.Duration {
	left := timeout
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	return max(left-left/10, time.Millisecond)
}

// sqlMaxAnswer bounds what one probe's answer may cost: the check reads at
// most this much of it (its rows, and on MySQL what goes with them), and a
// query that returns a table, or a value the size of a file, fails
// instead of costing the daemon its memory. The value is judged and shown,
// never stored: 1 MiB is far more than any sensible one.
const sqlMaxAnswer = 1 << 20

// errAnswerTooLarge is the failure of an answer over sqlMaxAnswer.
var errAnswerTooLarge = Unexpected("the answer is larger than 1 MiB; the query must return one short value (a count, an age, a flag)")

// errMoreThanOneRow is the failure of a query that returns several rows:
// the check does not guess which one was meant.
var errMoreThanOneRow = Unexpected("query returned more than one row; it must return exactly one (add LIMIT 1 or an aggregate such as count(*) or max(…))")

// sqlPostgres runs the query on a postgres check's pool: the same pool
// rules (at most 2 connections, pinged before use, statement_timeout and
// connect_timeout from the check's timeout), the same error words.
type sqlPostgres struct{ pg *Postgres }

func (p *sqlPostgres) Close() error { return p.pg.Close() }

func (p *sqlPostgres) firstValue(ctx context.Context, query string) (string, bool, error) {
	pg := p.pg
	conn, err := pg.pool.Acquire(ctx)
	if err != nil {
		return "", false, pg.fail(ctx, err, false)
	}
	defer conn.Release()
	// One round trip: the read-only transaction and its own statement
	// timeout, which a session setting cannot make shorter than the check's.
	begin := fmt.Sprintf("BEGIN READ ONLY; SET LOCAL statement_timeout = %d", sqlStatementTimeout(ctx, pg.timeout).Milliseconds())
	if _, err := conn.Exec(ctx, begin); err != nil {
		return "", false, pg.fail(ctx, err, false)
	}
	// A connection returned inside a transaction (a failed ROLLBACK) is
	// closed by the pool rather than reused.
	defer conn.Exec(ctx, "ROLLBACK") //nolint:errcheck
	text, null, err := postgresFirstValue(ctx, conn, query)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return "", false, err
		}
		return "", false, pg.fail(ctx, err, true)
	}
	return text, null, nil
}

// pgxMaxBodyLen is the limit pgx's Frontend has on one message from the
// server unless told otherwise (the server's own, PQ_LARGE_MESSAGE_LIMIT):
// the pool's connections go back to it after the query. Frontend has no
// getter for it.
const pgxMaxBodyLen = 0x3fffffff - 1

// postgresFirstValue runs query with the extended protocol, which takes
// exactly one statement: "ROLLBACK; DELETE …" cannot leave the read-only
// transaction. Results come back in text form, as psql shows them, but
// booleans, which read true and false as in YAML.
//
// It reads at most two rows and sqlMaxAnswer of them. pgx checks each
// message's length on its header, before it allocates room for the body,
// so a row over what is left of the cap fails unread. A second row, or
// one too large, ends the read: the socket is closed under pgx, which
// would otherwise read the rest of the answer to its end, and pgx then
// sends the server a cancel request and the pool drops the connection.
func postgresFirstValue(ctx context.Context, conn *pgxpool.Conn, query string) (string, bool, error) {
	pc := conn.Conn().PgConn()
	fe := pc.Frontend()
	fe.SetMaxBodyLen(sqlMaxAnswer)
	defer fe.SetMaxBodyLen(pgxMaxBodyLen)
	rows, err := conn.Query(ctx, query, pgx.QueryExecModeExec)
	if err != nil {
		return "", false, postgresAnswerErr(pc, err)
	}
	defer rows.Close()
	if !rows.Next() {
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", false, postgresAnswerErr(pc, err)
		}
		return "", false, Unexpected("query returned no rows")
	}
	raw, fields := rows.RawValues(), rows.FieldDescriptions()
	if len(raw) == 0 || len(fields) == 0 {
		return "", false, Unexpected("query returned a row without columns")
	}
	null := raw[0] == nil
	text := string(raw[0])
	if fields[0].Format != pgx.TextFormatCode {
		vals, err := rows.Values()
		if err != nil {
			return "", false, err
		}
		text = fmt.Sprint(vals[0])
	} else if fields[0].DataTypeOID == pgtype.BoolOID {
		text = map[string]string{"t": "true", "f": "false"}[text]
	}
	// What follows may have what is left of the cap (a DataRow's body is
	// its column count, then each value with its length), and a little
	// room for the messages that close the answer.
	used := 2
	for _, v := range raw {
		used += 4 + len(v)
	}
	fe.SetMaxBodyLen(max(sqlMaxAnswer-used, 0) + 256)
	if rows.Next() {
		postgresAbandon(pc)
		return "", false, errMoreThanOneRow
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", false, postgresAnswerErr(pc, err)
	}
	return text, null, nil
}

// postgresAnswerErr is errAnswerTooLarge for a message over the cap, whose
// connection it abandons; other errors are returned as they are.
func postgresAnswerErr(pc *pgconn.PgConn, err error) error {
	var tooLarge *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &tooLarge) {
		postgresAbandon(pc)
		return errAnswerTooLarge
	}
	return err
}

// postgresAbandon closes the connection's socket, so that pgx reads no more
// of the answer: its close of a connection in the middle of an answer (a
// cancel request, then a drain of up to 15 s) then finds nothing to read.
func postgresAbandon(pc *pgconn.PgConn) {
	pc.Conn().Close() //nolint:errcheck // the connection is being thrown away
}
