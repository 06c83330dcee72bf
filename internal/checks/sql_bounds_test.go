package checks_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// sqlAnswerTooLarge is the start of the failure of an answer over the cap.
const sqlAnswerTooLarge = "unexpected result: the answer is larger than 1 MiB"

// via returns db's DSN pointed at addr (a proxy in front of db) instead.
func (db sqlDB) via(addr string) string { return strings.Replace(db.dsn, db.addr, addr, 1) }

// stillRunning waits until the server runs no query holding marker any
// more, and fails the test if it still does after testsvc.HangSlack.
func (db sqlDB) stillRunning(t *testing.T, marker string) {
	t.Helper()
	running := map[string]string{
		"postgres": "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%" + marker + "%' AND pid <> pg_backend_pid()",
		"mariadb":  "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%" + marker + "%' AND ID <> CONNECTION_ID()",
	}[db.name]
	deadline := time.Now().Add(testsvc.HangSlack)
	for db.query(t, running) != "0" {
		if time.Now().After(deadline) {
			t.Fatalf("the server still runs the query %v after the check gave up", testsvc.HangSlack)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// manyRows is a query of three million rows of about 12 (MariaDB) to 18
// (PostgreSQL) bytes each on the wire: 36 MB and 54 MB of answer.
func manyRows(db sqlDB, marker string) string {
	return map[string]string{
		"postgres": "SELECT generate_series(1, 3000000) AS " + marker,
		"mariadb":  "SELECT seq AS " + marker + " FROM seq_1_to_3000000",
	}[db.name]
}

// The check reads at most two rows: a query that returns three million
// fails when the second arrives, and the rest is not read. The connection
// is dropped instead of drained (PostgreSQL is also sent a cancel request),
// the server stops the query, and the pool, shared with another check,
// hands out good connections afterwards.
func TestSQL_ManyRowsAreNotReadToTheEnd(t *testing.T) {
	machineSQLDBs(t, func(t *testing.T, db sqlDB) {
		// What may pass the proxy once the client stops reading: the
		// socket buffers between them (loopback: a few MiB), not the
		// answer (36 MB or more).
		const mostForwarded = 12 << 20
		proxy := testsvc.NewProxy(t, db.addr)
		clients := &checks.Clients{}
		marker := fmt.Sprintf("many_healthd_%d", time.Now().UnixNano())
		many := checkstest.New(t, "sql", map[string]any{"dsn": db.via(proxy.Addr()), "query": manyRows(db, marker)},
			checkstest.Options{Clients: clients})
		one := checkstest.New(t, "sql", map[string]any{"dsn": db.via(proxy.Addr()), "query": "SELECT 1", "equals": 1},
			checkstest.Options{Clients: clients})
		for range 3 {
			before := proxy.Downstream()
			r := many.Fails(t, "unexpected result: query returned more than one row; it must return exactly one")
			got := proxy.Downstream() - before
			t.Logf("more than one row in %s; %d KiB of the answer passed the proxy", r.Took.Round(time.Millisecond), got>>10)
			if got > mostForwarded {
				t.Errorf("%d MiB of the answer passed the proxy; the check must stop reading after the second row", got>>20)
			}
			one.Passes(t)
		}
		db.stillRunning(t, marker)
	})
}

// An answer larger than 1 MiB fails without being read: the driver is
// stopped at the message (PostgreSQL) or packet (MySQL) header that
// announces it, before it allocates room for it. Not parallel: it counts
// the process's allocations.
func TestSQL_AnOversizedAnswerFailsAndCostsLittle(t *testing.T) {
	// Well below what the old code allocated for these answers (190 MiB
	// for PostgreSQL's, 45 MiB for MariaDB's), well above one capped
	// answer and its copies.
	const mostAllocated = 6 << 20
	for _, mk := range []func(*testing.T) sqlDB{machineSQLPostgres, machineSQLMariaDB} {
		db := mk(t)
		t.Run(db.name, func(t *testing.T) {
			clients := &checks.Clients{}
			// MariaDB answers NULL for a value over max_allowed_packet (16
			// MiB here), so its largest value is just under that.
			huge := map[string]int{"postgres": 200_000_000, "mariadb": 16_000_000}[db.name]
			for _, tc := range []struct {
				name string
				size int
				want string // "" passes
			}{
				{"just under the cap", 1_000_000, ""},
				{"twice the cap", 2 << 20, sqlAnswerTooLarge},
				{"huge", huge, sqlAnswerTooLarge},
			} {
				t.Run(tc.name, func(t *testing.T) {
					marker := fmt.Sprintf("big_healthd_%d", time.Now().UnixNano())
					query := fmt.Sprintf("SELECT repeat('x', %d) AS %s", tc.size, marker)
					c := checkstest.New(t, "sql", map[string]any{"dsn": db.dsn, "query": query},
						checkstest.Options{Clients: clients, Timeout: 5 * time.Second})
					c.Run() // warms the pool, whatever the answer
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					r := c.Run()
					runtime.ReadMemStats(&after)
					alloc := after.TotalAlloc - before.TotalAlloc
					t.Logf("%d bytes: %q in %s, %d KiB allocated", tc.size, r.Message, r.Took.Round(time.Millisecond), alloc>>10)
					if tc.want == "" && r.Err != nil {
						t.Errorf("failed: %s", r.Message)
					}
					if tc.want != "" && !strings.HasPrefix(r.Message, tc.want) {
						t.Errorf("message = %q, want %q…", r.Message, tc.want)
					}
					if alloc > mostAllocated {
						t.Errorf("one run allocated %d KiB, want at most %d KiB", alloc>>10, mostAllocated>>10)
					}
					db.stillRunning(t, marker)
				})
			}
			// The pool is fine after the failures.
			checkstest.New(t, "sql", map[string]any{"dsn": db.dsn, "query": "SELECT 1", "equals": 1}, checkstest.Options{Clients: clients}).Passes(t)
		})
	}
}

// Over TLS the packet headers are encrypted, so the cap counts the bytes
// as they come: the answer still fails at 1 MiB, and a second row still
// ends the read, on a server of the test's own that offers TLS.
func TestSQL_MySQLOverTLSIsBoundedToo(t *testing.T) {
	t.Parallel()
	my := testsvc.StartMariaDB(t)
	clients := &checks.Clients{}
	dsn := my.URL(testsvc.MariaDBPassword) + "?tls=skip-verify"
	check := func(query string) *checkstest.Check {
		return checkstest.New(t, "sql", map[string]any{"dsn": dsn, "query": query}, checkstest.Options{Clients: clients})
	}
	// 1 only when the session is encrypted.
	if v := check("SELECT count(*) FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER' AND VARIABLE_VALUE <> ''").
		Passes(t).Observation(t, "value", ""); v != 1 {
		t.Fatalf("the session is not encrypted (SSL_CIPHER rows: %v)", v)
	}
	check("SELECT repeat('x', 1000000)").Passes(t)
	for _, size := range []int{2 << 20, 16_000_000} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := check(fmt.Sprintf("SELECT repeat('x', %d)", size)).Fails(t, sqlAnswerTooLarge)
		runtime.ReadMemStats(&after)
		// Logged, not asserted: the test runs in parallel with others, and
		// the driver may have allocated for one packet before the cap.
		t.Logf("%d bytes over TLS: %q in %s, about %d KiB allocated", size, r.Message, r.Took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>10)
	}
	proxy := testsvc.NewProxy(t, my.Addr())
	many := checkstest.New(t, "sql", map[string]any{"dsn": strings.Replace(dsn, my.Addr(), proxy.Addr(), 1), "query": "SELECT seq FROM seq_1_to_3000000"},
		checkstest.Options{Clients: clients})
	many.Fails(t, "unexpected result: query returned more than one row")
	if got := proxy.Downstream(); got > 12<<20 {
		t.Errorf("%d MiB of the answer passed the proxy; the check must stop reading after the second row", got>>20)
	}
	check("SELECT 1").Passes(t) // the pool is fine
}

// TestSQL_NothingLeftRunningAfterItsFaults runs sql checks that fail in
// every way (refused, a server that accepts and never answers, a query the
// statement timeout stops, an answer over the cap, too many rows) many
// times on both databases, and counts the process's goroutines and open
// descriptors: back to where they were after the first round, and, once
// the checks are closed, to where they were before they were built. Not
// parallel: the counts are this test's alone.
func TestSQL_NothingLeftRunningAfterItsFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 s measurement: run without -short")
	}
	const (
		timeout = 300 * time.Millisecond
		rounds  = 20
		// What the process may hold for a moment while the counts are
		// taken; a leak of one goroutine or socket per run shows as
		// dozens.
		tolerance = 2
	)
	dbs := []sqlDB{machineSQLPostgres(t), machineSQLMariaDB(t)}
	refused := testsvc.RefusedAddr(t)
	var hanging []*testsvc.Proxy
	for _, db := range dbs {
		p := testsvc.NewProxy(t, db.addr)
		p.Hang()
		hanging = append(hanging, p)
	}
	g0, f0 := testsvc.Settle(t, 0, 0, 0, 0, 0, nil)

	clients := &checks.Clients{}
	var all []*checkstest.Check
	for i, db := range dbs {
		slow := map[string]string{"postgres": "SELECT pg_sleep(5)", "mariadb": "SELECT SLEEP(5)"}[db.name]
		for _, kv := range [][2]string{
			{db.via(refused), "SELECT 1"},
			{db.via(hanging[i].Addr()), "SELECT 1"},
			{db.dsn, slow},
			{db.dsn, "SELECT repeat('x', 4000000)"},
			{db.dsn, manyRows(db, "leak_healthd")},
		} {
			c, err := checkstest.Build("sql", map[string]any{"dsn": kv[0], "query": kv[1]}, checkstest.Options{Clients: clients, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, c)
		}
	}
	runs, failing := 0, 0
	var mu sync.Mutex
	round := func() {
		var wg sync.WaitGroup
		for _, c := range all {
			wg.Go(func() {
				r := c.Run()
				mu.Lock()
				defer mu.Unlock()
				runs++
				if r.Err != nil {
					failing++
				}
			})
		}
		wg.Wait()
	}
	round() // pools are open, each check has met its fault once
	// Let the first round's sockets close, then take the reference.
	g1, f1 := testsvc.Settle(t, g0, f0, tolerance, tolerance, 4*timeout, nil)
	runs, failing = 0, 0
	start := time.Now()
	for range rounds {
		round()
	}
	took := time.Since(start)
	g2, f2 := testsvc.Settle(t, g1, f1, tolerance, tolerance, testsvc.HangSlack, nil)
	t.Logf("%d failing runs of %d in %s", failing, runs, took.Round(time.Millisecond))
	t.Logf("goroutines %d before, %d after the first round, %d after %d runs", g0, g1, g2, runs)
	t.Logf("open fds   %d before, %d after the first round, %d after %d runs", f0, f1, f2, runs)
	if failing != runs {
		t.Errorf("%d of %d runs failed, want every one to fail", failing, runs)
	}
	if g2 > g1+tolerance || f2 > f1+tolerance {
		t.Errorf("leak: goroutines %d -> %d, fds %d -> %d after %d failing runs", g1, g2, f1, f2, runs)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	for _, c := range all {
		c.Close()
	}
	g3, f3 := testsvc.Settle(t, g0, f0, tolerance, tolerance, testsvc.HangSlack, nil)
	t.Logf("after Close: %d goroutines, %d fds", g3, f3)
	if g3 > g0+tolerance || f3 > f0+tolerance {
		t.Errorf("leak after Close: goroutines %d -> %d, fds %d -> %d", g0, g3, f0, f3)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
}
