package testsvc

// The machine's MariaDB as a pool, for the sql check's tests (mariadb.go has the
// instances tests start themselves).

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MachineMariaDBURL is the machine's MariaDB server (root, no password,
// database test) as a mysql:// URL. Tests may use it but must never stop or
// reconfigure it.
const MachineMariaDBURL = "mysql://root@127.0.0.1:3306/test"

// MachineMariaDB returns a connection pool to the machine's MariaDB
// (database test) after checking that it answers, for a test's own setup
// (creating and dropping its tables); the test fails when it does not
// answer. The pool is closed when the test ends.
func MachineMariaDB(t testing.TB) *sql.DB {
	NeedsServer(t)
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", "127.0.0.1:3306", "test"
	cfg.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("testsvc: mariadb: %v", err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("testsvc: the machine's MariaDB at 127.0.0.1:3306 does not answer as root (run scripts/test-setup.sh): %v", err)
	}
	return db
}
