package checks

// The sql check's MySQL and MariaDB side: a mysql:// URL turned into the
// driver's configuration, and the query run through database/sql.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// sqlMyDSN is a mysql:// URL, parsed into the driver's configuration.
type sqlMyDSN struct {
	cfg  *mysql.Config
	addr string // host:port or socket path, for messages
}

const sqlMyURLForm = "mysql://user:password@host:3306/dbname"

// parseSQLMyDSN converts mysql://user:password@host:port/dbname?params to
// the driver's configuration. Parameters are the driver's (tls,
// charset, collation, loc, …; unknown ones are session variables set on
// connect); socket=/path connects to a unix socket instead of host:port.
// multiStatements is refused: one statement cannot leave the read-only
// transaction. Errors never quote the URL.
func parseSQLMyDSN(raw string) (*sqlMyDSN, error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "mysql") {
		return nil, fmt.Errorf("is not a valid MySQL URL (%s)", sqlMyURLForm)
	}
	q := u.Query()
	socket := q.Get("socket")
	q.Del("socket")
	for k := range q {
		if strings.EqualFold(k, "multiStatements") {
			return nil, errors.New("must not set multiStatements: the query is one statement, so that it cannot leave the read-only transaction")
		}
		if strings.EqualFold(k, "compress") {
			return nil, errors.New("must not set compress: the check bounds an answer by the bytes that reach it, and a compressed answer is many times larger than its bytes")
		}
	}
	d := &sqlMyDSN{}
	var where string
	switch {
	case socket != "":
		where, d.addr = "unix("+socket+")", socket
	case u.Hostname() == "":
		return nil, fmt.Errorf("must name a host (%s) or a socket (mysql://user@/dbname?socket=/run/mysqld/mysqld.sock)", sqlMyURLForm)
	default:
		port := u.Port()
		if port == "" {
			port = "3306"
		}
		d.addr = net.JoinHostPort(u.Hostname(), port)
		where = "tcp(" + d.addr + ")"
	}
	// The driver's own DSN without the credentials, which are set as
	// fields: its parser splits user info at the last '@' and the first
	// ':', and a password may hold either.
	cfg, err := mysql.ParseDSN(where + "/" + url.PathEscape(strings.TrimPrefix(u.Path, "/")) + "?" + q.Encode())
	if err != nil {
		// The driver's message may quote a value: name the parameter instead.
		for k, vs := range q {
			for _, v := range vs {
				if _, perr := mysql.ParseDSN("/?" + url.Values{k: {v}}.Encode()); perr != nil {
					return nil, fmt.Errorf("is not a valid MySQL URL: parameter %q has a value go-sql-driver/mysql does not accept", k)
				}
			}
		}
		return nil, fmt.Errorf("is not a valid MySQL URL (%s)", sqlMyURLForm)
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.MultiStatements = false
	if cfg.ConnectionAttributes == "" {
		cfg.ConnectionAttributes = "program_name:healthd" // as postgres's application_name
	}
	d.cfg = cfg
	return d, nil
}

// sqlMyMaxConns bounds a pool as the postgres check's is.
const sqlMyMaxConns = 2

// sqlMy runs the query on a database/sql pool, shared by the sql checks of
// a runner with the same mysql:// URL and timeout.
type sqlMy struct {
	db      *sql.DB
	wires   *sqlMyConnector // the wire under each of db's connections
	release func() error    // gives back the shared pool
	addr    string
	secrets []string
	timeout time.Duration
	flavour atomic.Int32 // sqlMyUnknown until the first probe has asked the server
}

const (
	sqlMyUnknown int32 = iota
	sqlMyMariaDB
	sqlMyMySQL
)

// newSQLMy takes the pool of dsn (the URL d was parsed from) and the
// check's timeout from env.Clients, making it when no check holds it.
func newSQLMy(dsn string, d *sqlMyDSN, env Env) (*sqlMy, error) {
	secrets := []string{d.cfg.Passwd}
	// The driver's complaints go to the log of the check that made the
	// pool: they are about connections, which its sharers have too.
	db, release, err := Share(env.Clients, "sql-mysql", []string{dsn, env.Timeout.String()}, func() (*sqlMyPool, error) {
		return newSQLMyPool(d, env.Timeout, sqlMyLogger{env.Logger, secrets})
	})
	if err != nil {
		return nil, err
	}
	return &sqlMy{db: db.db, wires: db.wires, release: release, addr: d.addr, secrets: secrets, timeout: env.Timeout}, nil
}

// sqlMyPool is a pool that the sql checks on one mysql:// URL and timeout
// share.
type sqlMyPool struct {
	db      *sql.DB
	wires   *sqlMyConnector
	timeout time.Duration
}

func newSQLMyPool(d *sqlMyDSN, timeout time.Duration, logger sqlMyLogger) (*sqlMyPool, error) {
	cfg := d.cfg.Clone()
	if cfg.Timeout <= 0 || cfg.Timeout > timeout {
		cfg.Timeout = timeout // dial; ctx bounds the rest
	}
	cfg.Logger = logger
	wires := &sqlMyConnector{wires: map[driver.Conn]*sqlMyWire{}}
	cfg.DialFunc = wires.dial
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("sql: mysql: %s", Redact(err.Error(), logger.secrets))
	}
	wires.Connector = conn
	db := sql.OpenDB(wires) // connects lazily
	db.SetMaxOpenConns(sqlMyMaxConns)
	db.SetMaxIdleConns(sqlMyMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return &sqlMyPool{db: db, wires: wires, timeout: timeout}, nil
}

// sqlMyLogger sends the driver's complaints (a connection found dead) to
// the daemon's log at debug level instead of the process's stderr.
type sqlMyLogger struct {
	l       *slog.Logger
	secrets []string
}

func (s sqlMyLogger) Print(v ...any) {
	if s.l != nil {
		s.l.Debug("mysql driver", "msg", Redact(strings.TrimSpace(fmt.Sprint(v...)), s.secrets))
	}
}

// Close releases the check's pool, which closes when no other check holds
// it.
func (m *sqlMy) Close() error { return m.release() }

// Close closes the pool, waiting at most the timeout.
func (p *sqlMyPool) Close() error {
	done := make(chan struct{})
	go func() {
		p.db.Close()
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

func (m *sqlMy) firstValue(ctx context.Context, query string) (string, bool, error) {
	var text string
	var null bool
	err := againIfClosed(ctx, func() (err error) {
		text, null, err = m.tryFirstValue(ctx, query)
		return err
	})
	return text, null, err
}

// tryFirstValue runs the query on a connection of its own from the pool,
// whose wire it holds: at most sqlMaxAnswer of an answer reaches the
// driver (see sqlMyWire), and a second row ends the read, the connection
// dropped rather than drained.
func (m *sqlMy) tryFirstValue(ctx context.Context, query string) (string, bool, error) {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return "", false, m.fail(ctx, err, false)
	}
	defer conn.Close()
	var wire *sqlMyWire
	conn.Raw(func(dc any) error { wire = m.wires.wire(dc); return nil }) //nolint:errcheck // f cannot fail
	text, null, err := m.queryFirstValue(ctx, conn, wire, query)
	if err != nil && wire != nil && wire.tooLarge.Load() {
		return "", false, errAnswerTooLarge
	}
	return text, null, err
}

func (m *sqlMy) queryFirstValue(ctx context.Context, conn *sql.Conn, wire *sqlMyWire, query string) (string, bool, error) {
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // START TRANSACTION READ ONLY
	if err != nil {
		return "", false, m.fail(ctx, err, false)
	}
	defer tx.Rollback() //nolint:errcheck // nothing was written; a failed rollback closes the connection
	if m.flavour.Load() == sqlMyUnknown {
		var version string
		if err := tx.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			return "", false, m.fail(ctx, err, false)
		}
		if strings.Contains(strings.ToLower(version), "mariadb") {
			m.flavour.Store(sqlMyMariaDB)
		} else {
			m.flavour.Store(sqlMyMySQL)
		}
	}
	// The server's own statement timeout, so a slow query is stopped on the
	// server too: MariaDB's max_statement_time for this statement only, or
	// MySQL's max_execution_time (SELECT only) for the session.
	limit := sqlStatementTimeout(ctx, m.timeout)
	if m.flavour.Load() == sqlMyMariaDB {
		query = fmt.Sprintf("SET STATEMENT max_statement_time=%.3f FOR %s", max(limit.Seconds(), 0.001), query)
	} else if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET SESSION max_execution_time=%d", max(limit.Milliseconds(), 1))); err != nil {
		return "", false, m.fail(ctx, err, false)
	}
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return "", false, m.fail(ctx, err, true)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", false, m.fail(ctx, err, true)
	}
	if len(cols) == 0 {
		return "", false, Unexpected("query returned no columns")
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", false, m.fail(ctx, err, true)
		}
		return "", false, Unexpected("query returned no rows")
	}
	var first sql.NullString // the text form: database/sql formats numbers and times
	dest := []any{&first}
	for range cols[1:] {
		dest = append(dest, new(sql.RawBytes))
	}
	if err := rows.Scan(dest...); err != nil {
		return "", false, m.fail(ctx, err, true)
	}
	if rows.Next() {
		if wire != nil {
			wire.cut()
		}
		return "", false, errMoreThanOneRow
	}
	if err := rows.Err(); err != nil {
		return "", false, m.fail(ctx, err, true)
	}
	return first.String, !first.Valid, nil
}

// fail words a driver error as the mysql check does; the server was told
// to stop the statement at the deadline, so its "interrupted" is the
// timeout.
func (m *sqlMy) fail(ctx context.Context, err error, query bool) error {
	return mysqlFailure(ctx, err, mysqlFault{query: query, limited: true, timeout: m.timeout, addr: m.addr, secrets: m.secrets})
}
