package checks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// closer counts its Close calls.
type closer struct {
	id     int
	closes atomic.Int32
}

func (c *closer) Close() error {
	c.closes.Add(1)
	return nil
}

func TestClients_ConcurrentSharersOpenOnceAndCloseOnce(t *testing.T) {
	cs := new(checks.Clients)
	var opens atomic.Int32
	open := func() (*closer, error) {
		opens.Add(1)
		time.Sleep(time.Millisecond) // let the other sharers arrive while it opens
		return &closer{}, nil
	}
	const n = 100
	got := make([]*closer, n)
	releases := make([]func() error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, release, err := checks.Share(cs, "test", []string{"dsn", "5s"}, open)
			if err != nil {
				t.Errorf("Share: %v", err)
				return
			}
			got[i], releases[i] = c, release
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if opens.Load() != 1 || cs.Len() != 1 {
		t.Fatalf("%d sharers: %d opens, %d clients; want 1 and 1", n, opens.Load(), cs.Len())
	}
	shared := got[0]
	for i, c := range got {
		if c != shared {
			t.Fatalf("sharer %d got another client", i)
		}
	}
	// Every sharer but one lets go, each twice: the client stays open.
	for _, release := range releases[1:] {
		wg.Go(func() {
			release()
			release()
		})
	}
	wg.Wait()
	if c := shared.closes.Load(); c != 0 || cs.Len() != 1 {
		t.Fatalf("after %d of %d releases: closed %d times, %d clients; want open, 1", n-1, n, c, cs.Len())
	}
	if err := releases[0](); err != nil {
		t.Fatal(err)
	}
	releases[0]()
	if c := shared.closes.Load(); c != 1 || cs.Len() != 0 {
		t.Fatalf("after the last release: closed %d times, %d clients; want 1, 0", c, cs.Len())
	}
	// The next sharer opens a new one.
	c, release, err := checks.Share(cs, "test", []string{"dsn", "5s"}, open)
	if err != nil || c == shared || opens.Load() != 2 {
		t.Fatalf("Share after the last release: same client %v, %d opens, err %v; want a new one", c == shared, opens.Load(), err)
	}
	release()
}

func TestClients_KeysThatDifferGetTheirOwnClient(t *testing.T) {
	parent := t
	cs := new(checks.Clients)
	next := 0
	open := func() (*closer, error) {
		next++
		return &closer{id: next}, nil
	}
	for _, tc := range []struct {
		name  string
		kind  string
		key   []string
		share bool // shares the first case's client
	}{
		{name: "first", kind: "postgres", key: []string{"postgres://u:pw@h/db", "5s"}},
		{name: "same kind and key", kind: "postgres", key: []string{"postgres://u:pw@h/db", "5s"}, share: true},
		{name: "other password", kind: "postgres", key: []string{"postgres://u:pw2@h/db", "5s"}},
		{name: "other database", kind: "postgres", key: []string{"postgres://u:pw@h/db2", "5s"}},
		{name: "other timeout", kind: "postgres", key: []string{"postgres://u:pw@h/db", "6s"}},
		{name: "other kind", kind: "sql-mysql", key: []string{"postgres://u:pw@h/db", "5s"}},
		{name: "parts split elsewhere", kind: "postgres", key: []string{"postgres://u:pw@h/db5", "s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := next + 1 // a new one
			if tc.share {
				want = 1
			}
			c, release, err := checks.Share(cs, tc.kind, tc.key, open)
			if err != nil {
				t.Fatal(err)
			}
			parent.Cleanup(func() { release() }) // held until every case has run
			if c.id != want {
				t.Errorf("got client %d, want %d", c.id, want)
			}
		})
	}
}

func TestClients_FailedOpenIsTriedAgain(t *testing.T) {
	cs := new(checks.Clients)
	fail := errors.New("no such server")
	_, release, err := checks.Share(cs, "test", []string{"k"}, func() (*closer, error) { return nil, fail })
	if !errors.Is(err, fail) || release != nil || cs.Len() != 0 {
		t.Fatalf("failed open: err %v, release %v, %d clients; want the error, no release, 0", err, release != nil, cs.Len())
	}
	c, release, err := checks.Share(cs, "test", []string{"k"}, func() (*closer, error) { return &closer{id: 7}, nil })
	if err != nil || c.id != 7 {
		t.Fatalf("second Share: %v, %v; want a new client", c, err)
	}
	release()
}

func TestClients_NilSharesNothing(t *testing.T) {
	var cs *checks.Clients
	open := func() (*closer, error) { return &closer{}, nil }
	a, releaseA, _ := checks.Share(cs, "test", []string{"k"}, open)
	b, releaseB, _ := checks.Share(cs, "test", []string{"k"}, open)
	if a == b {
		t.Fatal("a nil Clients shared a client")
	}
	releaseA()
	releaseA()
	if a.closes.Load() != 1 || b.closes.Load() != 0 {
		t.Errorf("release closed a %d times and b %d times; want 1, 0", a.closes.Load(), b.closes.Load())
	}
	releaseB()
}

// sharedPoolCase is a check type whose checks on one server and credentials
// share a pool, and how to count the pool's connections on the server.
type sharedPoolCase struct {
	typ  string
	keys map[string]any
	// conns counts the connections of the checks' client on the server.
	conns func(t *testing.T) int
	// variants are keys that differ from keys only in a password or a
	// database: each gets a pool of its own.
	variants []map[string]any
}

// sharedPoolCases are the types whose checks share pools, each named
// uniquely on the machine's servers (application_name, client name) or
// reached through a proxy of the test's own, so that their connections
// can be counted.
func sharedPoolCases(t *testing.T) map[string]sharedPoolCase {
	pgDSN := testsvc.MachinePostgres(t)
	testsvc.MachineRedis(t)
	testsvc.MachineMariaDB(t)
	unique := fmt.Sprintf("healthd-share-%d", time.Now().UnixNano())
	pgApp, pgURL := unique+"-pg", func(userinfo, db, app string) string {
		return fmt.Sprintf("postgres://%s@127.0.0.1:5432/%s?sslmode=disable&application_name=%s", userinfo, db, app)
	}
	sqlApp := unique + "-sql"
	pgConns := func(app string) func(t *testing.T) int {
		return func(t *testing.T) int { return testsvc.PostgresBackends(t, pgDSN, app) }
	}
	redisURL := func(userinfo, db, name string) string {
		return fmt.Sprintf("redis://%s127.0.0.1:6379/%s?client_name=%s", userinfo, db, name)
	}
	redisName, celeryName := unique+"-redis", unique+"-celery"
	myProxy, sqlMyProxy := testsvc.NewProxy(t, "127.0.0.1:3306"), testsvc.NewProxy(t, "127.0.0.1:3306")
	return map[string]sharedPoolCase{
		"postgres": {
			typ: "postgres", keys: map[string]any{"dsn": pgURL("postgres", "postgres", pgApp)}, conns: pgConns(pgApp),
			variants: []map[string]any{
				{"dsn": pgURL("postgres:"+checkstest.Secret+"-a", "postgres", pgApp)}, // trust auth: any password logs in
				{"dsn": pgURL("postgres:"+checkstest.Secret+"-b", "postgres", pgApp)},
				{"dsn": pgURL("postgres", "template1", pgApp)},
			},
		},
		"sql on postgres": {
			typ: "sql", keys: map[string]any{"dsn": pgURL("postgres", "postgres", sqlApp), "query": "SELECT 1"}, conns: pgConns(sqlApp),
			variants: []map[string]any{
				{"dsn": pgURL("postgres", "template1", sqlApp), "query": "SELECT 1"},
			},
		},
		"mysql": {
			typ: "mysql", keys: map[string]any{"dsn": "mysql://root@" + myProxy.Addr() + "/test"}, conns: func(*testing.T) int { return myProxy.Open() },
			variants: []map[string]any{
				{"dsn": "mysql://root:" + checkstest.Secret + "@" + myProxy.Addr() + "/test"},
				{"dsn": "mysql://root@" + myProxy.Addr() + "/mysql"},
			},
		},
		"sql on mysql": {
			typ: "sql", keys: map[string]any{"dsn": "mysql://root@" + sqlMyProxy.Addr() + "/test", "query": "SELECT 1"}, conns: func(*testing.T) int { return sqlMyProxy.Open() },
			variants: []map[string]any{
				{"dsn": "mysql://root:" + checkstest.Secret + "@" + sqlMyProxy.Addr() + "/test", "query": "SELECT 1"},
				{"dsn": "mysql://root@" + sqlMyProxy.Addr() + "/mysql", "query": "SELECT 1"},
			},
		},
		"redis": {
			typ: "redis", keys: map[string]any{"url": redisURL("", "0", redisName)}, conns: machineRedisClients(redisName),
			variants: []map[string]any{
				{"url": redisURL(":"+checkstest.Secret+"@", "0", redisName)},
				{"url": redisURL("", "1", redisName)},
			},
		},
		"celery on redis": {
			typ: "celery", keys: map[string]any{"broker": redisURL("", "0", celeryName), "min_workers": 0}, conns: machineRedisClients(celeryName),
			variants: []map[string]any{
				{"broker": redisURL("", "1", celeryName), "min_workers": 0},
			},
		},
	}
}

// machineRedisClients counts the machine's Redis connections named name.
func machineRedisClients(name string) func(t *testing.T) int {
	return func(t *testing.T) int {
		t.Helper()
		c := redis.NewClient(&redis.Options{Addr: testsvc.MachineRedisAddr, MaxRetries: -1, DisableIdentity: true})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		list, err := c.ClientList(ctx).Result()
		if err != nil {
			t.Fatalf("CLIENT LIST: %v", err)
		}
		return strings.Count(list, " name="+name+" ")
	}
}

// Fifty checks on one server and credentials, probing at once, hold at
// most the two connections of one pool; the pool outlives every check but
// the last, and closes with it.
func TestClients_ChecksOnOneServerShareOnePool(t *testing.T) {
	for name, tc := range sharedPoolCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cs := new(checks.Clients)
			const n = 50
			cks := make([]*checkstest.Check, n)
			for i := range cks {
				cks[i] = checkstest.New(t, tc.typ, tc.keys, checkstest.Options{Clients: cs})
			}
			if cs.Len() != 1 {
				t.Fatalf("%d checks on one server hold %d clients, want 1", n, cs.Len())
			}
			var wg sync.WaitGroup
			for _, c := range cks {
				wg.Go(func() {
					for range 3 {
						if r := c.Run(); r.Err != nil {
							t.Errorf("probe failed: %s", r.Message)
						}
					}
				})
			}
			wg.Wait()
			if got := tc.conns(t); got < 1 || got > 2 {
				t.Errorf("%d checks after 3 concurrent probes each: %d connections on the server, want 1 or 2", n, got)
			}

			for _, c := range cks[:n-1] {
				c.Close()
			}
			if cs.Len() != 1 {
				t.Fatalf("with one check left: %d clients, want 1", cs.Len())
			}
			last := cks[n-1]
			last.Passes(t)
			if got := tc.conns(t); got < 1 || got > 2 {
				t.Errorf("with one check left: %d connections, want 1 or 2", got)
			}
			last.Close()
			if cs.Len() != 0 {
				t.Errorf("after the last Close: %d clients, want 0", cs.Len())
			}
			deadline := time.Now().Add(testsvc.HangSlack)
			for tc.conns(t) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections still open %v after the last check closed", tc.conns(t), testsvc.HangSlack)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// Keys that differ only in a password or a database make pools of their
// own: a check never runs on another check's credentials.
func TestClients_OtherPasswordOrDatabaseGetsItsOwnPool(t *testing.T) {
	for name, tc := range sharedPoolCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cs := new(checks.Clients)
			first := checkstest.New(t, tc.typ, tc.keys, checkstest.Options{Clients: cs})
			first.Passes(t)
			for _, keys := range tc.variants {
				r := checkstest.New(t, tc.typ, keys, checkstest.Options{Clients: cs}).Run()
				checkstest.NoSecret(t, "message", r.Message)
			}
			if want := 1 + len(tc.variants); cs.Len() != want {
				t.Errorf("%d checks that differ in password or database hold %d clients, want %d", want, cs.Len(), want)
			}
			if tc.typ == "postgres" { // trust auth: every variant logs in, on a connection of its own
				if got, want := tc.conns(t), 1+len(tc.variants); got != want {
					t.Errorf("%d connections on the server, want %d (one per pool)", got, want)
				}
			}
		})
	}
}

// The sql check on a postgres:// DSN runs on the postgres check's pool:
// a postgres check and a sql check on one DSN hold one pool.
func TestClients_SQLOnPostgresSharesThePostgresChecksPool(t *testing.T) {
	pgDSN := testsvc.MachinePostgres(t)
	app := fmt.Sprintf("healthd-share-%d-pgsql", time.Now().UnixNano())
	dsn := pgDSN + "&application_name=" + app
	cs := new(checks.Clients)
	pg := checkstest.New(t, "postgres", map[string]any{"dsn": dsn}, checkstest.Options{Clients: cs})
	sq := checkstest.New(t, "sql", map[string]any{"dsn": dsn, "query": "SELECT pg_backend_pid()"}, checkstest.Options{Clients: cs})
	if cs.Len() != 1 {
		t.Fatalf("a postgres and a sql check on one DSN hold %d clients, want 1", cs.Len())
	}
	pg.Passes(t)
	sq.Passes(t)
	if got := testsvc.PostgresBackends(t, pgDSN, app); got != 1 {
		t.Errorf("after one probe each, one after the other: %d connections, want 1", got)
	}
}

// Memcached checks on the same servers share a client: probed one after
// the other, 20 checks keep the one connection of one check. (gomemcache
// bounds only idle connections, so concurrent probes may dial more for a
// moment.)
func TestClients_MemcachedChecksShareAClient(t *testing.T) {
	srv := testsvc.StartMemcached(t)
	cs := new(checks.Clients)
	cks := make([]*checkstest.Check, 20)
	for i := range cks {
		cks[i] = checkstest.New(t, "memcached", map[string]any{"servers": []any{srv.Addr()}}, checkstest.Options{Clients: cs})
	}
	if cs.Len() != 1 {
		t.Fatalf("%d memcached checks on one server hold %d clients, want 1", len(cks), cs.Len())
	}
	idle := srv.CurrConnections() // the listener's
	for range 3 {
		for _, c := range cks {
			c.Passes(t)
		}
	}
	if got := srv.CurrConnections() - idle; got != 1 {
		t.Errorf("after 3 rounds of probes, one check at a time: %d connections, want 1", got)
	}
	for _, c := range cks {
		c.Close()
	}
	deadline := time.Now().Add(testsvc.HangSlack)
	for srv.CurrConnections() != idle {
		if time.Now().After(deadline) {
			t.Fatalf("curr_connections %d %v after the last Close, want %d", srv.CurrConnections(), testsvc.HangSlack, idle)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
