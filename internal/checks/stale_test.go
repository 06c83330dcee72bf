package checks_test

import (
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// A check that keeps connections between probes must not fail a probe
// because the server closed one of them while it sat idle and the close had
// not reached the client yet (a restart between probes, a proxy or NAT
// dropping idle sessions): the proxy's Stale mode lets the client's next
// request through the liveness tests drivers make before reuse and closes
// the connection only then. The very next probe passes.
func TestPooledChecks_StaleConnectionCostsNoProbe(t *testing.T) {
	type target struct {
		upstream func(t testing.TB) string
		keys     func(addr string) map[string]any
	}
	cases := map[string]struct {
		typ string
		target
	}{
		"postgres": {"postgres", target{func(t testing.TB) string { testsvc.MachinePostgres(t); return "127.0.0.1:5432" },
			func(a string) map[string]any {
				return map[string]any{"dsn": "postgres://postgres@" + a + "/postgres?sslmode=disable"}
			}}},
		"sql on postgres": {"sql", target{func(t testing.TB) string { testsvc.MachinePostgres(t); return "127.0.0.1:5432" },
			func(a string) map[string]any {
				return map[string]any{"dsn": "postgres://postgres@" + a + "/postgres?sslmode=disable", "query": "SELECT 1"}
			}}},
		"mysql": {"mysql", target{machineMySQLAddr,
			func(a string) map[string]any { return map[string]any{"dsn": "mysql://root@" + a + "/test"} }}},
		"sql on mysql": {"sql", target{machineMySQLAddr,
			func(a string) map[string]any {
				return map[string]any{"dsn": "mysql://root@" + a + "/test", "query": "SELECT 1"}
			}}},
		"redis": {"redis", target{func(t testing.TB) string { return testsvc.MachineRedis(t) },
			func(a string) map[string]any { return map[string]any{"url": "redis://" + a} }}},
		"rabbitmq": {"rabbitmq", target{func(t testing.TB) string { return testsvc.RabbitMQ(t) },
			func(a string) map[string]any { return map[string]any{"url": "amqp://guest:guest@" + a + "/"} }}},
		"nats": {"nats", target{func(t testing.TB) string { return testsvc.MachineNATS(t) },
			func(a string) map[string]any { return map[string]any{"url": "nats://" + a} }}},
		"mqtt": {"mqtt", target{func(t testing.TB) string { return testsvc.MachineMosquitto(t) },
			func(a string) map[string]any { return map[string]any{"url": "mqtt://" + a} }}},
		"memcached": {"memcached", target{func(t testing.TB) string { return testsvc.StartMemcached(t).Addr() },
			func(a string) map[string]any { return map[string]any{"servers": []any{a}} }}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proxy := testsvc.NewProxy(t, tc.upstream(t))
			c := checkstest.New(t, tc.typ, tc.keys(proxy.Addr()), checkstest.Options{})
			c.Passes(t)
			c.Passes(t)
			proxy.Stale()
			if r := c.Run(); r.Err != nil {
				t.Fatalf("first probe after the server closed the pooled connection: %s", r.Message)
			}
		})
	}
}

func machineMySQLAddr(t testing.TB) string {
	testsvc.MachineMySQL(t)
	return testsvc.MachineMySQLAddr
}
