package testsvc

import (
	"crypto/tls"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// GRPC is a grpc-go server of the test's own on a loopback port, serving
// the standard health service (grpc.health.v1) that the test switches with
// Health.SetServingStatus. In-process and loopback only, so it also runs
// under -short. The test may stop it and start it again on the same port.
type GRPC struct {
	t      testing.TB
	addr   string
	leaf   *Leaf
	srv    *grpc.Server
	Health *health.Server
}

// StartGRPC starts the server, with TLS when leaf is not nil. The health
// server says SERVING for "" until the test says otherwise.
func StartGRPC(t testing.TB, leaf *Leaf) *GRPC {
	t.Helper()
	g := &GRPC{t: t, addr: "127.0.0.1:0", leaf: leaf, Health: health.NewServer()}
	t.Cleanup(g.Stop)
	g.Start()
	return g
}

// Addr is the server's host:port.
func (g *GRPC) Addr() string { return g.addr }

// Start serves (again) on the server's port.
func (g *GRPC) Start() {
	g.t.Helper()
	l, err := net.Listen("tcp", g.addr)
	if err != nil {
		g.t.Fatalf("testsvc: grpc listen: %v", err)
	}
	g.addr = l.Addr().String()
	var opts []grpc.ServerOption
	if g.leaf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{g.leaf.TLS}})))
	}
	g.srv = grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(g.srv, g.Health)
	go g.srv.Serve(l)
}

// Stop closes the listener and every connection at once, as a crash would.
func (g *GRPC) Stop() {
	if g.srv != nil {
		g.srv.Stop()
		g.srv = nil
	}
}
