package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL checks a MySQL or MariaDB server with SELECT 1 (or a custom
// read-only query) over a small pool, shared by the checks of a runner with
// the same DSN, TLS settings and timeout, and optionally that the server is
// a writable primary or a read-only replica whose replication runs and
// keeps up.
type MySQL struct {
	db      *sql.DB
	release func() error // gives back the shared pool
	addr    string       // host:port or socket path, for messages
	secrets []string     // scrubbed from any text that reaches a message
	timeout time.Duration
	expect  string // "", "primary" or "replica"
	lagWarn time.Duration
	lagFail time.Duration
	query   string
	// slaveStatus is set once the server refused SHOW REPLICA STATUS as a
	// syntax error (MySQL before 8.0.22, MariaDB before 10.5.1): later
	// probes ask SHOW SLAVE STATUS straight away.
	slaveStatus atomic.Bool
}

// mysqlMaxConns bounds a pool: one connection for the probe, one spare for
// an overlapping probe. Every probe reuses them; the checks that share the
// pool take turns on them.
const mysqlMaxConns = 2

type mysqlConfig struct {
	DSN     string        `key:"dsn" required:"true" doc:"the driver's DSN (user:password@tcp(host:3306)/dbname?param=value) or a mysql:// URL as DATABASE_URL holds it (mysql://user:password@host:3306/dbname)"`
	TLS     mysqlTLS      `key:"tls" doc:"TLS to the server; without it, what the DSN says (tls=… parameter; none by default)"`
	Expect  string        `key:"expect" enum:"any,primary,replica" doc:"primary: fail unless the server is writable (@@read_only off); replica: fail unless it is read-only and its replication threads run; any: either"`
	LagWarn time.Duration `key:"lag_warn" default:"off" doc:"on a replica, warn when Seconds_Behind_Master exceeds this (observation lag, in seconds); no effect on a server that replicates from none"`
	LagFail time.Duration `key:"lag_fail" default:"off" doc:"on a replica, fail when Seconds_Behind_Master exceeds this"`
	Query   *string       `key:"query" default:"SELECT 1" doc:"a custom query that must return at least one row; it runs in a read-only transaction that is rolled back"`

	parsed *mysql.Config // DSN, parsed by Validate
	urlTLS mysqlTLS      // a mysql:// URL's ssl-mode and ssl-ca
}

type mysqlTLS struct {
	Mode       string `key:"mode" enum:"disable,preferred,required,verify-ca,verify-full" doc:"disable; preferred (TLS when the server offers it, unverified); required (TLS, unverified; verify-ca when ca_file is set); verify-ca (certificate signed by ca_file or a system CA); verify-full (verify-ca and the host name)"`
	CAFile     string `key:"ca_file" doc:"PEM file of the CA certificates to trust instead of the system's"`
	ServerName string `key:"server_name" doc:"the name verify-full expects in the certificate (and sends as SNI); the DSN's host by default"`
}

func newMySQLConfig(Settings) Config { return &mysqlConfig{Expect: "any"} }

func (c *mysqlConfig) Validate() error {
	var p Problems
	if c.Query != nil && strings.TrimSpace(*c.Query) == "" {
		p.Add("query", "must not be empty")
	}
	if c.LagWarn < 0 {
		p.Add("lag_warn", "must not be negative")
	}
	if c.LagFail < 0 {
		p.Add("lag_fail", "must not be negative")
	}
	if c.LagWarn > 0 && c.LagFail > 0 && c.LagWarn >= c.LagFail {
		p.Add("lag_warn", "must be less than lag_fail (%s)", c.LagFail)
	}
	switch c.TLS.Mode {
	case "", "disable", "preferred":
		if c.TLS.CAFile != "" {
			p.Add("tls.ca_file", "needs tls.mode required, verify-ca or verify-full")
		}
		if c.TLS.ServerName != "" {
			p.Add("tls.server_name", "needs tls.mode verify-full")
		}
	case "required", "verify-ca":
		if c.TLS.ServerName != "" {
			p.Add("tls.server_name", "needs tls.mode verify-full")
		}
	}
	c.parsed = nil
	if c.DSN != "" {
		cfg, urlTLS, err := parseMySQLDSN(c.DSN)
		if err != nil {
			// The driver's message may quote parts of the DSN; never show it.
			p.Add("dsn", "is not a valid MySQL DSN (user:password@tcp(host:3306)/dbname or mysql://user:password@host:3306/dbname): %s", err)
		}
		c.parsed, c.urlTLS = cfg, urlTLS
	}
	return p.Err()
}

// mysqlDSNError is a DSN problem worded without any part of the DSN.
type mysqlDSNError string

func (e mysqlDSNError) Error() string { return string(e) }

// parseMySQLDSN parses the driver's DSN or a mysql:// (mariadb://) URL into
// the driver's config. It opens nothing. Its errors never quote the DSN.
func parseMySQLDSN(dsn string) (*mysql.Config, mysqlTLS, error) {
	dsn = djangoURL(dsn, "mysql", "mysql") // mysql2://… from a DATABASE_URL
	scheme, _, isURL := strings.Cut(dsn, "://")
	if isURL {
		switch strings.ToLower(scheme) {
		case "mysql", "mariadb":
			return parseMySQLURL(dsn)
		}
		return nil, mysqlTLS{}, mysqlDSNError("the URL scheme must be mysql:// or mariadb://")
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, mysqlTLS{}, mysqlDriverDSNError(err)
	}
	return cfg, mysqlTLS{}, nil
}

// mysqlDriverDSNError words the driver's DSN errors, which can quote a
// parameter's value or the database name, without them.
func mysqlDriverDSNError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing the slash"):
		return mysqlDSNError("no slash before the database name")
	case strings.Contains(msg, "network address not terminated"):
		return mysqlDSNError("the address has no closing parenthesis")
	case strings.Contains(msg, "forget to escape"):
		return mysqlDSNError("a parameter value is not escaped")
	case strings.Contains(msg, "unknown config name"):
		return mysqlDSNError("use the tls key rather than a registered tls=<name> config")
	case strings.Contains(msg, "invalid dbname"):
		return mysqlDSNError("the database name is not escaped properly")
	}
	return mysqlDSNError("a parameter has an invalid value")
}

// parseMySQLURL reads mysql://user:password@host:port/dbname?params, the
// form of dj-database-url's DATABASE_URL. Parameters are the driver's,
// besides ssl-mode and ssl-ca (as in MySQL's own clients and the URLs cloud
// providers hand out), which become the tls key's mode and ca_file.
func parseMySQLURL(dsn string) (*mysql.Config, mysqlTLS, error) {
	var t mysqlTLS
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, t, mysqlDSNError("the URL does not parse")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	} else if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, t, mysqlDSNError("the port is not a number from 1 to 65535")
	}
	q := u.Query()
	for k, vs := range q {
		switch strings.ReplaceAll(strings.ToLower(k), "_", "-") {
		case "ssl-mode", "sslmode":
			t.Mode = strings.ReplaceAll(strings.ToLower(vs[0]), "_", "-")
			delete(q, k)
		case "ssl-ca", "sslca":
			t.CAFile = vs[0]
			delete(q, k)
		}
	}
	switch t.Mode {
	case "":
	case "disabled", "disable":
		t.Mode = "disable"
	case "verify-identity":
		t.Mode = "verify-full"
	case "preferred", "required", "verify-ca", "verify-full":
	default:
		return nil, t, mysqlDSNError("ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY")
	}
	if t.CAFile != "" && (t.Mode == "" || t.Mode == "preferred") {
		t.Mode = "verify-ca"
	}
	if t.CAFile != "" && t.Mode == "disable" {
		return nil, t, mysqlDSNError("ssl-ca needs an ssl-mode other than DISABLED")
	}
	db := strings.TrimPrefix(u.Path, "/")
	cfg, err := mysql.ParseDSN("tcp(" + net.JoinHostPort(host, port) + ")/" + url.PathEscape(db) + "?" + q.Encode())
	if err != nil {
		return nil, t, mysqlDriverDSNError(err)
	}
	// Set after parsing: the password never goes through the driver's
	// text parser, so it may hold any character.
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	return cfg, t, nil
}

// Secrets adds the password the driver reads from the DSN to the generic
// scan of the DSN (which does not recognise the driver's own form).
func (c *mysqlConfig) Secrets() []string {
	out := SecretsIn("dsn", c.DSN)
	if c.parsed != nil && c.parsed.Passwd != "" {
		out = append(out, c.parsed.Passwd)
	}
	return out
}

// Build takes the pool of the check's DSN, TLS settings and timeout from
// env.Clients, making it when no check holds it; the pool connects lazily.
func (c *mysqlConfig) Build(env Env) (Checker, error) {
	timeout := env.Timeout
	secrets := c.Secrets()
	t := c.TLS
	if t.Mode == "" { // the tls key wins over a URL's ssl-mode
		t = c.urlTLS
	}
	key := []string{c.DSN, t.Mode, t.CAFile, t.ServerName, timeout.String()}
	db, release, err := Share(env.Clients, "mysql", key, func() (*sql.DB, error) {
		return newMySQLPool(c.parsed, t, timeout, secrets)
	})
	if err != nil {
		return nil, err
	}
	expect := c.Expect
	if expect == "any" {
		expect = ""
	}
	query := ""
	if c.Query != nil {
		query = strings.TrimSpace(*c.Query)
	}
	return &MySQL{
		db:      db,
		release: release,
		addr:    c.parsed.Addr,
		secrets: secrets,
		timeout: timeout,
		expect:  expect,
		lagWarn: c.LagWarn,
		lagFail: c.LagFail,
		query:   query,
	}, nil
}

// newMySQLPool makes the pool for parsed with TLS t, its socket deadlines
// sized from timeout; it connects lazily.
func newMySQLPool(parsed *mysql.Config, t mysqlTLS, timeout time.Duration, secrets []string) (*sql.DB, error) {
	cfg := parsed.Clone()
	if t.Mode != "" {
		tc, fallback, err := mysqlTLSConfig(t, cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("mysql: tls: %s", Redact(err.Error(), secrets))
		}
		cfg.TLS, cfg.TLSConfig, cfg.AllowFallbackToPlaintext = tc, "", fallback
	}
	// Every wait is bounded by the check's deadline on ctx (the driver
	// closes the connection when ctx ends). The socket's own deadlines are
	// a backstop for what runs without a ctx (the COM_QUIT of Close, the
	// liveness check of a pooled connection): twice the timeout, so that
	// ctx ends first and the failure reads as the timeout it is (the
	// driver words a read deadline as "invalid connection").
	if cfg.Timeout <= 0 || cfg.Timeout > timeout {
		cfg.Timeout = timeout
	}
	if cfg.ReadTimeout <= 0 || cfg.ReadTimeout > 2*timeout {
		cfg.ReadTimeout = 2 * timeout
	}
	if cfg.WriteTimeout <= 0 || cfg.WriteTimeout > 2*timeout {
		cfg.WriteTimeout = 2 * timeout
	}
	// A stale pooled connection (server restarted, proxy timed out) is
	// found before it is used and replaced within the same probe.
	cfg.CheckConnLiveness = true
	// The driver logs the cause of a broken connection on every probe;
	// the check's message says it instead.
	cfg.Logger = &mysql.NopLogger{}
	if cfg.ConnectionAttributes == "" {
		cfg.ConnectionAttributes = "program_name:healthd"
	}

	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %s", Redact(err.Error(), secrets))
	}
	db := sql.OpenDB(connector) // connects lazily
	db.SetMaxOpenConns(mysqlMaxConns)
	db.SetMaxIdleConns(mysqlMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return db, nil
}

// mysqlTLSConfig makes the TLS config of a mode; fallback is whether the
// driver may go on without TLS when the server offers none.
func mysqlTLSConfig(t mysqlTLS, addr string) (*tls.Config, bool, error) {
	if t.Mode == "disable" {
		return nil, false, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	var roots *x509.CertPool
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, false, fmt.Errorf("ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, false, fmt.Errorf("ca_file %s holds no PEM certificate", t.CAFile)
		}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	mode := t.Mode
	if mode == "required" && t.CAFile != "" {
		mode = "verify-ca" // as MySQL's clients do
	}
	switch mode {
	case "preferred", "required":
		tc.InsecureSkipVerify = true
		return tc, mode == "preferred", nil
	case "verify-ca":
		// Verify the chain, not the name: Go has no such mode, so the
		// check verifies the chain itself.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
			}
			return nil
		}
		return tc, false, nil
	default: // verify-full
		tc.RootCAs = roots
		tc.ServerName = host
		if t.ServerName != "" {
			tc.ServerName = t.ServerName
		}
		return tc, false, nil
	}
}

// Close releases the check's pool, which closes when no other check holds
// it. Connections in use close when their probe ends, which its deadline
// bounds.
func (c *MySQL) Close() error {
	c.release() //nolint:errcheck // as before sharing: closing idle connections has nothing to report
	return nil
}

// Check runs one probe on a pooled connection, and once more on another
// when the server had closed the one it took. Queries run read-only, so
// trying again is safe.
func (c *MySQL) Check(ctx context.Context) error {
	return againIfClosed(ctx, func() error { return c.probe(ctx) })
}

func (c *MySQL) probe(ctx context.Context) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return c.fail(ctx, err, false)
	}
	defer conn.Close() // back to the pool

	if c.query != "" {
		if err := c.runQuery(ctx, conn); err != nil {
			return err
		}
	} else {
		var one int
		if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return c.fail(ctx, err, false)
		}
		if one != 1 {
			return Unexpected("SELECT 1 returned %d", one)
		}
	}
	if c.expect == "" && c.lagWarn == 0 && c.lagFail == 0 {
		return nil
	}
	return c.checkRole(ctx, conn)
}

// runQuery runs the custom query in a read-only transaction that is rolled
// back, and requires at least one row.
func (c *MySQL) runQuery(ctx context.Context, conn *sql.Conn) error {
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return c.fail(ctx, err, false)
	}
	defer tx.Rollback() //nolint:errcheck // a failed rollback breaks the connection; the pool drops it
	rows, err := tx.QueryContext(ctx, c.query)
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

// checkRole checks @@read_only against expect, and a replica's
// replication threads and lag.
func (c *MySQL) checkRole(ctx context.Context, conn *sql.Conn) error {
	if c.expect != "" {
		var ro string
		if err := conn.QueryRowContext(ctx, "SELECT @@read_only").Scan(&ro); err != nil {
			return c.fail(ctx, err, false)
		}
		readOnly := ro != "0" && !strings.EqualFold(ro, "OFF")
		switch {
		case c.expect == "primary" && readOnly:
			return Unavailable("server is read-only (@@read_only is ON), not a writable primary (%s)", c.addr)
		case c.expect == "replica" && !readOnly:
			return Unavailable("server is writable (@@read_only is OFF), not a read-only replica (%s)", c.addr)
		}
	}
	if c.expect != "replica" && c.lagWarn == 0 && c.lagFail == 0 {
		return nil
	}
	st, err := c.replicaStatus(ctx, conn)
	if err != nil {
		return err
	}
	if st == nil {
		if c.expect == "replica" {
			return Unavailable("server is not a replica: SHOW REPLICA STATUS is empty (%s)", c.addr)
		}
		return nil // lag options have no effect on a server that replicates from none
	}
	source := net.JoinHostPort(st.get("Master_Host", "Source_Host"), st.get("Master_Port", "Source_Port"))
	io, sqlThread := st.get("Slave_IO_Running", "Replica_IO_Running"), st.get("Slave_SQL_Running", "Replica_SQL_Running")
	if !strings.EqualFold(sqlThread, "Yes") {
		msg := "replication stopped: the SQL thread is not running"
		if e := st.get("Last_SQL_Error"); e != "" {
			msg += ": " + Redact(e, c.secrets)
		}
		return Unavailable("%s (%s, replicating from %s)", msg, c.addr, source)
	}
	if !strings.EqualFold(io, "Yes") {
		msg := "replication stopped: the IO thread is not running"
		if strings.EqualFold(io, "Connecting") {
			msg = "replication stopped: the IO thread cannot connect to the primary"
		}
		if e := st.get("Last_IO_Error"); e != "" {
			msg += ": " + Redact(e, c.secrets)
		}
		return Unavailable("%s (%s, replicating from %s)", msg, c.addr, source)
	}
	behind := st.get("Seconds_Behind_Master", "Seconds_Behind_Source")
	if behind == "" {
		if c.lagWarn > 0 || c.lagFail > 0 {
			return Warn("replication lag unknown: Seconds_Behind_Master is NULL (%s)", c.addr)
		}
		Note(ctx, "replica of %s, replication running", source)
		return nil
	}
	secs, err := strconv.ParseFloat(behind, 64)
	if err != nil {
		return Unexpected("Seconds_Behind_Master is %q, not a number", behind)
	}
	Observe(ctx, "lag", secs, "s")
	lag := fmtSeconds(secs)
	switch {
	case c.lagFail > 0 && secs > c.lagFail.Seconds():
		return Unavailable("replication lag %s exceeds %s (%s)", lag, c.lagFail, c.addr)
	case c.lagWarn > 0 && secs > c.lagWarn.Seconds():
		return Warn("replication lag %s exceeds %s", lag, c.lagWarn)
	}
	Note(ctx, "replica of %s, replication lag %s", source, lag)
	return nil
}

// mysqlStatus is one row of SHOW REPLICA STATUS by column name; NULL is "".
type mysqlStatus map[string]string

// get returns the first of names that the row has: MySQL 8.0.22 renamed
// the columns (Replica_*, *_Source), MariaDB kept the old names.
func (s mysqlStatus) get(names ...string) string {
	for _, n := range names {
		if v, ok := s[n]; ok {
			return v
		}
	}
	return ""
}

// replicaStatus reads the default replication connection's status: nil
// when the server replicates from none.
func (c *MySQL) replicaStatus(ctx context.Context, conn *sql.Conn) (mysqlStatus, error) {
	stmt := "SHOW REPLICA STATUS"
	if c.slaveStatus.Load() {
		stmt = "SHOW SLAVE STATUS"
	}
	rows, err := conn.QueryContext(ctx, stmt)
	var me *mysql.MySQLError
	if err != nil && errors.As(err, &me) && me.Number == 1064 && stmt == "SHOW REPLICA STATUS" {
		c.slaveStatus.Store(true)
		stmt = "SHOW SLAVE STATUS"
		rows, err = conn.QueryContext(ctx, stmt)
	}
	if err != nil {
		if errors.As(err, &me) && (me.Number == 1227 || me.Number == 1045) {
			return nil, &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
				"%s denied: the user needs the REPLICATION CLIENT privilege (SLAVE MONITOR on MariaDB 10.5 and later) (%s)", stmt, c.addr)}
		}
		return nil, c.fail(ctx, err, false)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, c.fail(ctx, err, false)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, c.fail(ctx, err, false)
		}
		return nil, nil
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, c.fail(ctx, err, false)
	}
	st := make(mysqlStatus, len(cols))
	for i, col := range cols {
		st[col] = vals[i].String
	}
	return st, nil
}

// fail turns a driver error into a check error in plain words. query is
// true for errors of the custom query, which the server answered wrongly.
func (c *MySQL) fail(ctx context.Context, err error, query bool) error {
	return mysqlFailure(ctx, err, mysqlFault{query: query, timeout: c.timeout, addr: c.addr, secrets: c.secrets})
}

// mysqlFault is what mysqlFailure needs to word an error: whether it came
// from a user's query, whether the server was told to stop the statement at
// the deadline, and the check's timeout, address and secrets.
type mysqlFault struct {
	query, limited bool
	timeout        time.Duration
	addr           string
	secrets        []string
}

// mysqlFailure words a go-sql-driver error for the mysql and sql checks:
// network failures in the shared words naming host:port, the server's own
// message otherwise, never a secret.
func mysqlFailure(ctx context.Context, err error, f mysqlFault) error {
	if ctx.Err() != nil {
		return timeoutFailure(ctx, err, f.timeout, f.addr)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		msg := Redact(me.Message, f.secrets)
		switch {
		case me.Number == 1045: // ER_ACCESS_DENIED_ERROR: wrong user or password
			return &Error{Kind: KindUnavailable, Msg: "authentication failed: " + msg, Err: err}
		case me.Number == 1969, me.Number == 3024, // max_statement_time (MariaDB), max_execution_time (MySQL)
			f.limited && me.Number == 1317: // interrupted, by that limit
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("timed out after %s (%s)", f.timeout, f.addr), Err: err}
		}
		if f.query && !mysqlServerFault(me.Number) {
			return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf("query failed: %s (error %d)", msg, me.Number), Err: err}
		}
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", msg, f.addr), Err: err}
	}
	if nf := netFailure(ctx, err, f.timeout, f.addr); nf != nil {
		return nf
	}
	switch {
	case errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn):
		// The driver logs the cause and returns only this; a connection
		// it gives up on mid-answer is one the server closed.
		return &Error{Kind: KindUnavailable, Msg: reasonClosed + " (" + f.addr + ")", Err: err}
	case errors.Is(err, mysql.ErrNoTLS):
		return &Error{Kind: KindUnavailable, Msg: "TLS required but the server does not offer it (" + f.addr + ")", Err: err}
	case errors.Is(err, sql.ErrNoRows):
		return &Error{Kind: KindUnexpected, Msg: "query returned no rows", Err: err}
	}
	if f.query {
		return &Error{Kind: KindUnexpected, Msg: "query failed: " + Redact(err.Error(), f.secrets), Err: err}
	}
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s (%s)", Redact(err.Error(), f.secrets), f.addr), Err: err}
}

// mysqlServerFault reports whether a server error number is about the
// server or the connection rather than the query: too many connections, no
// access to or no such database, shutdown in progress, killed, out of
// resources.
func mysqlServerFault(n uint16) bool {
	switch n {
	case 1040, 1044, 1049, 1053, 1077, 1129, 1130, 1152, 1153, 1158, 1159, 1160, 1161, 1317, 1927, 2006, 2013:
		return true
	}
	return false
}
