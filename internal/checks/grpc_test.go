package checks_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func grpcCheck(t *testing.T, keys map[string]any) *checkstest.Check {
	return checkstest.New(t, "grpc", keys, checkstest.Options{})
}

func TestGRPC_ServingStatusSwitchedAtRunTime(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartGRPC(t, nil)
	srv.Health.SetServingStatus("orders.v1.Orders", healthpb.HealthCheckResponse_SERVING)
	whole := grpcCheck(t, map[string]any{"address": srv.Addr()})
	orders := grpcCheck(t, map[string]any{"address": srv.Addr(), "service": "orders.v1.Orders"})

	r := whole.Passes(t)
	if want := `^server is SERVING \(` + regexp.QuoteMeta(srv.Addr()) + `, \d+\.\d ms\)$`; !regexp.MustCompile(want).MatchString(r.Note) {
		t.Errorf("note = %q, want %s", r.Note, want)
	}
	r.Observation(t, "callTime", "ms")
	orders.Passes(t)

	srv.Health.SetServingStatus("orders.v1.Orders", healthpb.HealthCheckResponse_NOT_SERVING)
	orders.Fails(t, "unavailable: service orders.v1.Orders is NOT_SERVING ("+srv.Addr()+")")
	whole.Passes(t)

	srv.Health.SetServingStatus("orders.v1.Orders", healthpb.HealthCheckResponse_UNKNOWN)
	orders.Fails(t, "unavailable: service orders.v1.Orders is UNKNOWN ("+srv.Addr()+")")

	srv.Health.SetServingStatus("orders.v1.Orders", healthpb.HealthCheckResponse_SERVING)
	orders.Passes(t)

	// Shutdown sets every service NOT_SERVING, as a draining server does.
	srv.Health.Shutdown()
	whole.Fails(t, "unavailable: server is NOT_SERVING ("+srv.Addr()+")")
	srv.Health.Resume()
	whole.Passes(t)
}

func TestGRPC_UnknownServiceIsAConfigMistake(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartGRPC(t, nil)
	c := grpcCheck(t, map[string]any{"address": srv.Addr(), "service": "orders.v1.Order"})
	c.Fails(t, `unexpected result: service "orders.v1.Order" is unknown to the server: check the service key (`+srv.Addr()+")")
}

func TestGRPC_TLS(t *testing.T) {
	t.Parallel()
	ca := testsvc.NewCA(t)
	srv := testsvc.StartGRPC(t, ca.Issue([]string{"127.0.0.1", "api.internal"}, time.Now().Add(30*day)))
	grpcCheck(t, map[string]any{"address": srv.Addr(), "tls": true, "ca_file": ca.File}).Passes(t)
	grpcCheck(t, map[string]any{"address": srv.Addr(), "tls": true, "ca_file": ca.File, "server_name": "api.internal"}).Passes(t)
	grpcCheck(t, map[string]any{"address": srv.Addr(), "tls": true, "insecure_skip_verify": true}).Passes(t)
	r := grpcCheck(t, map[string]any{"address": srv.Addr(), "tls": true}).Fails(t, "unavailable: TLS certificate not accepted: ")
	t.Logf("system roots: %s", r.Message)
	r = grpcCheck(t, map[string]any{"address": srv.Addr(), "tls": true, "ca_file": ca.File, "server_name": "other.internal"}).Fails(t, "unavailable: TLS certificate not accepted: ")
	t.Logf("wrong name: %s", r.Message)
	// A plain-text server asked for TLS.
	plain := testsvc.StartGRPC(t, nil)
	grpcCheck(t, map[string]any{"address": plain.Addr(), "tls": true, "insecure_skip_verify": true}).Fails(t, "unavailable: TLS handshake failed: server does not speak TLS ("+plain.Addr()+")")
}

func TestGRPC_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	checkstest.Unreachable(t, 3, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "grpc", map[string]any{"address": addr}, checkstest.Options{Timeout: 300 * time.Millisecond})
	})
}

func TestGRPC_RecoversFromRestart(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartGRPC(t, nil)
	c := grpcCheck(t, map[string]any{"address": srv.Addr()})
	c.RecoversFromRestart(t, srv.Addr(), srv.Stop, srv.Start)
}

func TestGRPC_RestartBetweenProbesIsNotAFailure(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartGRPC(t, nil)
	c := grpcCheck(t, map[string]any{"address": srv.Addr()})
	c.RestartBetweenProbes(t, srv.Stop, srv.Start)
}

func TestGRPC_ConfigValidation(t *testing.T) {
	checkstest.ConfigTable(t, "grpc", []checkstest.ConfigCase{
		{Name: "minimal", Keys: map[string]any{"address": "api.internal:50051"}},
		{Name: "tls", Keys: map[string]any{"address": "api.internal:443", "tls": true, "server_name": "api.example.com"}},
		{Name: "missing", Keys: map[string]any{}, Want: `key "address": is required`},
		{Name: "tls keys without tls", Keys: map[string]any{"address": "a:1", "server_name": "x", "insecure_skip_verify": true},
			Want: "key \"insecure_skip_verify\": has no effect without tls: true\nkey \"server_name\": has no effect without tls: true"},
		{Name: "skip verify with a CA", Keys: map[string]any{"address": "a:1", "tls": true, "insecure_skip_verify": true, "ca_file": "/x.pem"},
			Want: `key "insecure_skip_verify": cannot be used with ca_file, which would not be checked`},
	})
}
