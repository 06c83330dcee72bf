package testsvc

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// MachinePostgresDSN is the machine's PostgreSQL server (trust auth). Tests
// may use it but must never stop it.
const MachinePostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// MachinePostgres returns MachinePostgresDSN after checking that the server
// answers; the test fails when it does not.
func MachinePostgres(t testing.TB) string {
	NeedsServer(t)
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, MachinePostgresDSN)
	if err != nil {
		t.Fatalf("testsvc: the machine's PostgreSQL at 127.0.0.1:5432 does not answer (run scripts/test-setup.sh): %v", err)
	}
	conn.Close(ctx)
	return MachinePostgresDSN
}

// PostgresPassword is the password of the postgres role in instances started
// by StartPostgres.
const PostgresPassword = "s3cr3t-pw-XYZ"

// Postgres is a PostgreSQL instance of the test's own, on a free loopback
// port, with scram-sha-256 password auth for TCP. The test may stop and
// start it; Cleanup stops it and removes its data directory.
type Postgres struct {
	t       testing.TB
	dir     string // data directory (also the unix socket directory)
	bin     string
	port    int
	cred    *syscall.Credential
	cmd     *exec.Cmd
	exited  chan struct{}
	Startup time.Duration // initdb + first start, for reports
}

// StartPostgres runs initdb in a new temporary directory and starts the
// server. When run as root, both run as the postgres OS user. It takes about
// a second; share one instance between the subtests that need it.
func StartPostgres(t testing.TB) *Postgres {
	NeedsServer(t)
	t.Helper()
	began := time.Now()
	bin, err := postgresBinDir()
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	p := &Postgres{t: t, bin: bin, port: FreePort(t)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("testsvc: running as root needs the postgres OS user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	p.makeDir(t, "healthd-pg-")
	pwfile := filepath.Join(p.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(PostgresPassword+"\n"), 0o600); err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	if p.cred != nil {
		os.Chown(pwfile, int(p.cred.Uid), int(p.cred.Gid))
	}
	data := filepath.Join(p.dir, "data")
	out, err := p.command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile,
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		t.Fatalf("testsvc: initdb: %v\n%s", err, out)
	}
	p.Start()
	p.Startup = time.Since(began)
	return p
}

// makeDir gives the instance a fresh directory owned by the user the server
// runs as; cleanup stops the server and removes the directory.
func (p *Postgres) makeDir(t testing.TB, pattern string) {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	p.dir = dir
	t.Cleanup(func() {
		p.Stop()
		os.RemoveAll(dir)
	})
	if p.cred != nil {
		if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatalf("testsvc: chown %s: %v", dir, err)
		}
	}
}

// StartStandby makes a streaming-replication standby of p with
// pg_basebackup and starts it on a free port. Cleanup stops it.
func (p *Postgres) StartStandby(t testing.TB) *Postgres {
	t.Helper()
	began := time.Now()
	s := &Postgres{t: t, bin: p.bin, port: FreePort(t), cred: p.cred}
	s.makeDir(t, "healthd-pg-standby-")
	cmd := s.command(filepath.Join(p.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", strconv.Itoa(p.port),
		"-U", "postgres", "-D", filepath.Join(s.dir, "data"), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	cmd.Env = append(cmd.Env, "PGPASSWORD="+PostgresPassword)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testsvc: pg_basebackup: %v\n%s", err, out)
	}
	s.Start()
	s.Startup = time.Since(began)
	return s
}

// Query runs a query returning one value as the postgres role on the
// instance and scans it into dst.
func (p *Postgres) Query(sql string, dst any) {
	p.t.Helper()
	p.withConn("query", sql, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, sql).Scan(dst)
	})
}

// withConn runs f on a new connection as the postgres role, failing the
// test (with what and sql) on any error.
func (p *Postgres) withConn(what, sql string, f func(context.Context, *pgx.Conn) error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(PostgresPassword))
	if err != nil {
		p.t.Fatalf("testsvc: postgres connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := f(ctx, conn); err != nil {
		p.t.Fatalf("testsvc: postgres %s %q: %v", what, sql, err)
	}
}

func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", fmt.Errorf("no initdb under /usr/lib/postgresql/*/bin (run scripts/test-setup.sh)")
	}
	sort.Slice(dirs, func(i, j int) bool { // highest major version
		vi, _ := strconv.Atoi(strings.Split(dirs[i], "/")[4])
		vj, _ := strconv.Atoi(strings.Split(dirs[j], "/")[4])
		return vi < vj
	})
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Port is the instance's TCP port; Addr its host:port.
func (p *Postgres) Port() int    { return p.port }
func (p *Postgres) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// DSN returns a URL for database postgres as the postgres role with password.
func (p *Postgres) DSN(password string) string {
	return fmt.Sprintf("postgres://postgres:%s@%s/postgres?sslmode=disable", password, p.Addr())
}

// Start starts the server (again) and waits until it accepts the password.
func (p *Postgres) Start() {
	p.t.Helper()
	if p.cmd != nil {
		p.t.Fatalf("testsvc: postgres already running")
	}
	cmd := p.command(filepath.Join(p.bin, "postgres"), "-D", filepath.Join(p.dir, "data"),
		"-p", strconv.Itoa(p.port), "-k", p.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=30", "-c", "shared_buffers=16MB", "-c", "logging_collector=off")
	logf, err := os.OpenFile(filepath.Join(p.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatalf("testsvc: %v", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("testsvc: start postgres: %v", err)
	}
	logf.Close()
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() { cmd.Wait(); close(p.exited) }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.DSN(PostgresPassword))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return
		}
		cancel()
		select {
		case <-p.exited:
			log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
			p.cmd = nil
			p.t.Fatalf("testsvc: postgres exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("testsvc: postgres on %s not ready after 15s: %v", p.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down (fast shutdown: sessions are terminated) and
// waits until it has exited and its port is closed.
func (p *Postgres) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// Exec runs statements as the postgres role on the instance.
func (p *Postgres) Exec(sql string) {
	p.t.Helper()
	p.withConn("exec", sql, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, sql)
		return err
	})
}

// PostgresBackends counts the sessions with the given application_name on
// the server at dsn.
func PostgresBackends(t testing.TB, dsn, application string) int {
	NeedsServer(t)
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("testsvc: postgres connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application).Scan(&n); err != nil {
		t.Fatalf("testsvc: count backends: %v", err)
	}
	return n
}

// PostgresExec runs statements, in order, on the server at dsn; the test
// fails on the first that fails.
func PostgresExec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("testsvc: postgres connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("testsvc: postgres: %s: %v", s, err)
		}
	}
}

// MachinePostgresDatabase creates an empty database of the test's own on
// the machine's PostgreSQL, named prefix and a random suffix, and drops it
// (and its sessions) when the test ends.
func MachinePostgresDatabase(t testing.TB, prefix string) (name, dsn string) {
	t.Helper()
	admin := MachinePostgres(t)
	name = prefix + strings.ToLower(rand.Text()[:12])
	PostgresExec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { PostgresExec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return name, "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
}
