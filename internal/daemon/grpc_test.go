package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/healthd/healthd/internal/testsvc"
)

// grpcDaemon serves a database check (readiness) whose result a file
// decides and a passing disk check (liveness), over HTTP and on
// server.grpc_listen, with a bearer token; it returns the gRPC address and
// the result file.
func grpcDaemon(t *testing.T) (string, string) {
	t.Helper()
	result := filepath.Join(t.TempDir(), "result")
	if err := os.WriteFile(result, []byte("pass"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))
	startDaemon(t, writeConfig(t, fmt.Sprintf(`server: {listen: '127.0.0.1:0', grpc_listen: '%s', auth: {tokens: [grpc-s3cr3t-token]}}
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: db, type: fake, groups: [readiness], result_file: %q}
  - {name: disk, type: fake, groups: [liveness]}
`, addr, result)), nil)
	return addr, result
}

func grpcClient(t *testing.T, addr string) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func setResult(t *testing.T, file, result string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(result), 0o600); err != nil {
		t.Fatal(err)
	}
}

// With server.grpc_listen, healthd serves grpc.health.v1: service "" is
// every check, a group name that group, an unknown group NOT_FOUND; the
// status follows the checks as /ht/'s status code does.
func TestGRPC_HealthServiceFollowsTheChecks(t *testing.T) {
	addr, result := grpcDaemon(t)
	c := grpcClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testsvc.AnswerTimeout)
	defer cancel()
	check := func(service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		r, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		return r.GetStatus(), err
	}
	for _, svc := range []string{"", "readiness", "liveness"} {
		if st, err := check(svc); err != nil || st != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("service %q: %v %v, want SERVING", svc, st, err)
		}
	}
	if _, err := check("nope"); status.Code(err) != codes.NotFound {
		t.Errorf("unknown group: %v, want NotFound", err)
	}

	setResult(t, result, "fail database down")
	for svc, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		"": healthpb.HealthCheckResponse_NOT_SERVING, "readiness": healthpb.HealthCheckResponse_NOT_SERVING,
		"liveness": healthpb.HealthCheckResponse_SERVING,
	} {
		if st, err := check(svc); err != nil || st != want {
			t.Errorf("with db failing, service %q: %v %v, want %v", svc, st, err, want)
		}
	}

	// Watch sends the status, then its changes.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	stream, err := c.Watch(wctx, &healthpb.HealthCheckRequest{Service: "readiness"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("first Watch answer: %v %v, want NOT_SERVING", r.GetStatus(), err)
	}
	setResult(t, result, "pass")
	if r, err := stream.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch after the check recovered: %v %v, want SERVING", r.GetStatus(), err)
	}
}

// The tokens of server.auth apply as on HTTP: the status is every caller's
// (as /ht/'s status code is), the details (known groups, the list of
// services) only a caller with a token's.
func TestGRPC_TokensApplyAsOnHTTP(t *testing.T) {
	addr, _ := grpcDaemon(t)
	c := grpcClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testsvc.AnswerTimeout)
	defer cancel()
	withToken := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer grpc-s3cr3t-token")

	if r, err := c.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("without a token: %v %v, want SERVING", r.GetStatus(), err)
	}
	_, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if status.Code(err) != codes.NotFound || strings.Contains(err.Error(), "readiness") {
		t.Errorf("unknown group without a token: %v, want NotFound naming no group", err)
	}
	_, err = c.Check(withToken, &healthpb.HealthCheckRequest{Service: "nope"})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "known groups: liveness, readiness") {
		t.Errorf("unknown group with the token: %v, want NotFound listing the groups", err)
	}
	if _, err := c.List(ctx, &healthpb.HealthListRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("List without a token: %v, want Unauthenticated", err)
	}
	l, err := c.List(withToken, &healthpb.HealthListRequest{})
	if err != nil || len(l.GetStatuses()) != 3 {
		t.Errorf("List with the token: %v %v, want \"\", liveness and readiness", l.GetStatuses(), err)
	}
}

// grpc-health-probe, the client Kubernetes users run, exits 0 against a
// passing daemon and non-zero against a failing one or an unknown group.
func TestGRPC_GRPCHealthProbe(t *testing.T) {
	probe := testsvc.CacheBinary(t, "grpc-health-probe", "scripts/setup/grpc-health-probe.sh")
	addr, result := grpcDaemon(t)
	run := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), testsvc.AnswerTimeout+testsvc.HangSlack)
		defer cancel()
		out, err := exec.CommandContext(ctx, probe, append([]string{"-addr", addr, "-connect-timeout", "5s", "-rpc-timeout", "10s"}, args...)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("grpc-health-probe: %v", err)
		}
		return 0, string(out)
	}
	if code, out := run(); code != 0 {
		t.Errorf("passing daemon: exit %d: %s", code, out)
	}
	if code, out := run("-service", "readiness", "-rpc-header", "authorization: Bearer grpc-s3cr3t-token"); code != 0 {
		t.Errorf("passing group with the token: exit %d: %s", code, out)
	}
	if code, out := run("-service", "nope"); code == 0 {
		t.Errorf("unknown group: exit 0: %s", out)
	}
	setResult(t, result, "fail database down")
	if code, out := run(); code != 4 { // grpc-health-probe's "service unhealthy"
		t.Errorf("failing daemon: exit %d, want 4: %s", code, out)
	}
	if code, out := run("-service", "liveness"); code != 0 {
		t.Errorf("liveness while readiness fails: exit %d: %s", code, out)
	}
}
