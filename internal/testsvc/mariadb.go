package testsvc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MachineMySQLDSN is the machine's MariaDB (root with no password over TCP,
// database test), in the driver's DSN form. Tests may use it but must never
// stop or reconfigure it.
const MachineMySQLDSN = "root@tcp(127.0.0.1:3306)/test"

// MachineMySQLAddr is the machine's MariaDB's host:port.
const MachineMySQLAddr = "127.0.0.1:3306"

// MachineMySQL returns MachineMySQLDSN after checking that the server
// answers; the test fails when it does not.
func MachineMySQL(t testing.TB) string {
	NeedsServer(t)
	t.Helper()
	if err := mysqlPing(MachineMySQLDSN, 5*time.Second); err != nil {
		t.Fatalf("testsvc: the machine's MariaDB at %s does not answer (run scripts/test-setup.sh): %v", MachineMySQLAddr, err)
	}
	return MachineMySQLDSN
}

// MariaDBPassword is root's password in instances started by StartMariaDB.
const MariaDBPassword = "s3cr3t-my-XYZ"

// MariaDB is a MariaDB instance of the test's own, on a free loopback port,
// with root's password MariaDBPassword, the binary log on (so that it can
// have replicas) and TLS offered with a certificate for 127.0.0.1 and
// MariaDBServerName, signed by the CA in CAFile. The test may stop, pause, kill and start it; Cleanup stops
// it and removes its directory.
type MariaDB struct {
	t        testing.TB
	dir      string // holds data/, the socket, the error log
	pristine string // a copy of the freshly installed data directory, for replicas
	port     int
	serverID int
	replica  bool
	cmd      *exec.Cmd
	exited   chan struct{}
	Startup  time.Duration // install + first start, for reports
}

// StartMariaDB installs a data directory with mariadb-install-db, starts
// the server and sets root's password. It takes a few seconds (the install
// is most of it): share one instance between the subtests that need it.
func StartMariaDB(t testing.TB) *MariaDB {
	NeedsServer(t)
	t.Helper()
	began := time.Now()
	m := newMariaDB(t, "healthd-my-", 1)
	m.pristine = filepath.Join(m.dir, "pristine")
	out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+m.pristine, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
		"--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-log-file-size=4M",
		"--innodb-buffer-pool-size=16M").CombinedOutput()
	if err != nil {
		t.Fatalf("testsvc: mariadb-install-db (run scripts/test-setup.sh): %v\n%s", err, out)
	}
	m.copyPristine(m.pristine)
	m.writeCerts()
	m.start(false)
	// root@localhost (the socket), root@127.0.0.1 and root@::1 exist with
	// no password; the binary log carries this to replicas.
	m.socketExec("CREATE DATABASE IF NOT EXISTS healthd")
	m.socketExec(fmt.Sprintf("ALTER USER 'root'@'localhost' IDENTIFIED BY '%[1]s', 'root'@'127.0.0.1' IDENTIFIED BY '%[1]s'", MariaDBPassword))
	m.waitReady()
	m.Startup = time.Since(began)
	return m
}

func newMariaDB(t testing.TB, pattern string, serverID int) *MariaDB {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern) // short: the socket path has a 108-byte limit
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	m := &MariaDB{t: t, dir: dir, port: FreePort(t), serverID: serverID}
	t.Cleanup(func() {
		m.Stop()
		os.RemoveAll(dir)
	})
	return m
}

// copyPristine makes the instance's data directory a copy of a freshly
// installed one (a fraction of a second, where an install takes seconds).
func (m *MariaDB) copyPristine(from string) {
	m.t.Helper()
	if out, err := exec.Command("cp", "-a", from, filepath.Join(m.dir, "data")).CombinedOutput(); err != nil {
		m.t.Fatalf("testsvc: copy the MariaDB data directory: %v\n%s", err, out)
	}
}

// StartReplica starts a second instance on a free port, read-only, that
// replicates from m (from the start of m's binary log, so it gets m's users
// and password too). Cleanup stops it.
func (m *MariaDB) StartReplica(t testing.TB) *MariaDB {
	t.Helper()
	began := time.Now()
	r := newMariaDB(t, "healthd-my-replica-", m.serverID+1)
	r.replica = true
	r.copyPristine(m.pristine)
	r.writeCerts()
	r.start(false)
	var file string
	m.withDB("query", "SHOW BINARY LOGS", func(ctx context.Context, db *sql.DB) error {
		var size any
		return db.QueryRowContext(ctx, "SHOW BINARY LOGS").Scan(&file, &size)
	})
	r.socketExec(fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='%s', MASTER_LOG_FILE='%s', MASTER_LOG_POS=4, MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=no",
		m.port, MariaDBPassword, file))
	r.socketExec("START SLAVE")
	r.waitReady() // the password arrives by replication
	r.Startup = time.Since(began)
	return r
}

// Port is the instance's TCP port; Addr its host:port.
func (m *MariaDB) Port() int    { return m.port }
func (m *MariaDB) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// DSN returns the driver's DSN for database healthd as root with password.
func (m *MariaDB) DSN(password string) string {
	return fmt.Sprintf("root:%s@tcp(%s)/healthd", password, m.Addr())
}

// URL returns a mysql:// URL (DATABASE_URL's form) for database healthd as
// root with password.
func (m *MariaDB) URL(password string) string {
	return fmt.Sprintf("mysql://root:%s@%s/healthd", password, m.Addr())
}

func (m *MariaDB) socket() string { return filepath.Join(m.dir, "sock") }

// MariaDBServerName is a DNS name in the certificate of StartMariaDB's
// instances, besides the IP address 127.0.0.1.
const MariaDBServerName = "db.healthd.test"

// CAFile is the PEM file of the CA that signed the server's certificate.
func (m *MariaDB) CAFile() string { return filepath.Join(m.dir, "ca.pem") }

// writeCerts writes a CA, and a server certificate and key it signed, to
// the instance's directory.
func (m *MariaDB) writeCerts() {
	m.t.Helper()
	fail := func(err error) { m.t.Fatalf("testsvc: mariadb certificates: %v", err) }
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "healthd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		fail(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: MariaDBServerName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{MariaDBServerName}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &key.PublicKey, caKey)
	if err != nil {
		fail(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		fail(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca.pem":         {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem":     {Type: "CERTIFICATE", Bytes: srvDER},
		"server-key.pem": {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(m.dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			fail(err)
		}
	}
}

// Start starts the server (again) and waits until it accepts the password.
func (m *MariaDB) Start() {
	m.t.Helper()
	m.start(true)
}

func (m *MariaDB) start(wait bool) {
	m.t.Helper()
	if m.cmd != nil {
		m.t.Fatalf("testsvc: mariadb already running")
	}
	args := []string{"--no-defaults", "--user=root", "--datadir=" + filepath.Join(m.dir, "data"),
		"--port=" + strconv.Itoa(m.port), "--bind-address=127.0.0.1", "--socket=" + m.socket(),
		"--pid-file=" + filepath.Join(m.dir, "mariadbd.pid"), "--log-error=" + filepath.Join(m.dir, "error.log"),
		"--skip-name-resolve", "--server-id=" + strconv.Itoa(m.serverID),
		"--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-log-file-size=4M",
		"--innodb-buffer-pool-size=16M", "--performance-schema=0", "--max-connections=60",
		"--ssl-ca=" + m.CAFile(), "--ssl-cert=" + filepath.Join(m.dir, "server.pem"), "--ssl-key=" + filepath.Join(m.dir, "server-key.pem")}
	if m.replica {
		args = append(args, "--read-only=1", "--relay-log="+filepath.Join(m.dir, "data", "relay"))
	} else {
		args = append(args, "--log-bin="+filepath.Join(m.dir, "data", "binlog"), "--binlog-format=ROW")
	}
	cmd := exec.Command("mariadbd", args...)
	cmd.Dir = m.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("testsvc: start mariadbd: %v", err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() { cmd.Wait(); close(m.exited) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if wait {
			err = mysqlPing(m.DSN(MariaDBPassword), time.Second)
		} else { // a fresh install: root on the socket, no password
			err = mysqlPing("root@unix("+m.socket()+")/", time.Second)
		}
		if err == nil {
			return
		}
		select {
		case <-m.exited:
			log, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
			m.cmd = nil
			m.t.Fatalf("testsvc: mariadbd exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("testsvc: mariadbd on %s not ready after 30s: %v", m.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady waits until the server accepts root's password over TCP.
func (m *MariaDB) waitReady() {
	m.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := mysqlPing(m.DSN(MariaDBPassword), time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
			m.t.Fatalf("testsvc: mariadbd on %s does not accept the password after 30s: %v\n%s", m.Addr(), err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down and waits until it has exited and its port
// is closed. A paused server is resumed first.
func (m *MariaDB) Stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGCONT)
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(15 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// Kill kills the server with SIGKILL (a crash: no shutdown, sockets reset
// by the kernel) and waits until it has exited.
func (m *MariaDB) Kill() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// Pause stops the server's process with SIGSTOP, and returns once every
// thread has stopped (a thread busy in the kernel stops only when its call
// returns): its sockets stay open and the kernel still accepts
// connections, but nothing answers. Resume continues it.
func (m *MariaDB) Pause() {
	m.t.Helper()
	m.signal(syscall.SIGSTOP)
	deadline := time.Now().Add(10 * time.Second)
	for !m.allThreadsStopped() {
		if time.Now().After(deadline) {
			m.t.Fatalf("testsvc: mariadbd did not stop within 10s of SIGSTOP")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (m *MariaDB) Resume() { m.signal(syscall.SIGCONT) }

// allThreadsStopped reports whether every thread of the server is in state
// T (stopped).
func (m *MariaDB) allThreadsStopped() bool { return allThreadsStopped(m.cmd.Process.Pid) }

// allThreadsStopped reports whether every thread of process pid is in
// state T (stopped), from /proc/<pid>/task/*/stat: SIGSTOP reaches the
// threads one by one.
func allThreadsStopped(pid int) bool {
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if len(stats) == 0 {
		return false
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// pid (comm) state …: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

func (m *MariaDB) signal(sig syscall.Signal) {
	m.t.Helper()
	if m.cmd == nil {
		m.t.Fatalf("testsvc: mariadb is not running")
	}
	if err := m.cmd.Process.Signal(sig); err != nil {
		m.t.Fatalf("testsvc: signal mariadbd: %v", err)
	}
}

// Exec runs statements as root on the instance.
func (m *MariaDB) Exec(stmt string) {
	m.t.Helper()
	m.withDB("exec", stmt, func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, stmt)
		return err
	})
}

// QueryRow runs a query returning one row as root and scans it into dst.
func (m *MariaDB) QueryRow(query string, dst ...any) {
	m.t.Helper()
	m.withDB("query", query, func(ctx context.Context, db *sql.DB) error {
		return db.QueryRowContext(ctx, query).Scan(dst...)
	})
}

func (m *MariaDB) withDB(what, stmt string, f func(context.Context, *sql.DB) error) {
	m.t.Helper()
	m.withDSN(m.DSN(MariaDBPassword), what, stmt, f)
}

// socketExec runs a statement as root over the unix socket with no
// password: only right after the install, before the password is set.
func (m *MariaDB) socketExec(stmt string) {
	m.t.Helper()
	m.withDSN("root@unix("+m.socket()+")/", "exec", stmt, func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, stmt)
		return err
	})
}

func (m *MariaDB) withDSN(dsn, what, stmt string, f func(context.Context, *sql.DB) error) {
	m.t.Helper()
	db, err := mysqlOpen(dsn)
	if err != nil {
		m.t.Fatalf("testsvc: mariadb: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f(ctx, db); err != nil {
		m.t.Fatalf("testsvc: mariadb %s %q: %v", what, stmt, err)
	}
}

// MySQLCounter returns the server's global status counter name (Com_select,
// Questions…) at dsn, for tests that count what a check asked.
func MySQLCounter(t testing.TB, dsn, name string) int64 {
	NeedsServer(t)
	t.Helper()
	db, err := mysqlOpen(dsn)
	if err != nil {
		t.Fatalf("testsvc: mysql: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n string
	var v int64
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE ?", name).Scan(&n, &v); err != nil {
		t.Fatalf("testsvc: SHOW GLOBAL STATUS LIKE %q: %v", name, err)
	}
	return v
}

// MySQLSessions counts the sessions on the server at dsn, other than its
// own, whose current database is database: a test gives the check under
// test a database of its own.
func MySQLSessions(t testing.TB, dsn, database string) int {
	NeedsServer(t)
	t.Helper()
	db, err := mysqlOpen(dsn)
	if err != nil {
		t.Fatalf("testsvc: mysql: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", database).Scan(&n); err != nil {
		t.Fatalf("testsvc: count sessions: %v", err)
	}
	return n
}

func mysqlOpen(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 5 * time.Second
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

func mysqlPing(dsn string, timeout time.Duration) error {
	db, err := mysqlOpen(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return db.PingContext(ctx)
}
