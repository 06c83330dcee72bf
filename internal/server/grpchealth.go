package server

import (
	"context"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/healthd/healthd/internal/runner"
)

// GRPCHealth returns the standard gRPC health service (grpc.health.v1.Health)
// over s's checks, for Kubernetes' gRPC probes and service meshes: service
// "" is every check (as /ht/), a group name is that group (as /ht/<group>/).
// Each call answers from the state being served, so reloads apply, and runs
// checks as a probe of /ht/ does (the same caching and single flight).
func (s *Server) GRPCHealth() healthpb.HealthServer { return &grpcHealth{s: s} }

type grpcHealth struct {
	healthpb.UnimplementedHealthServer
	s *Server
}

// watchEvery is how often Watch re-evaluates; results younger than a
// check's cache_ttl are reused, so this costs no extra check runs.
const watchEvery = time.Second

func (g *grpcHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st := g.s.acquire()
	if st == nil {
		return nil, status.Error(codes.Unavailable, "healthd is starting")
	}
	defer st.inflight.Add(-1)
	sel, ok := st.selection(req.GetService())
	if !ok {
		return nil, status.Error(codes.NotFound, st.unknownGroup(req.GetService(), st.grpcAuthorized(ctx)))
	}
	return &healthpb.HealthCheckResponse{Status: st.servingStatus(ctx, sel)}, nil
}

// Watch sends the service's status, then every change of it, until the
// client goes away. An unknown service is SERVICE_UNKNOWN (and watched: a
// reload may add the group), as the protocol asks.
func (g *grpcHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx := stream.Context()
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		cur := healthpb.HealthCheckResponse_NOT_SERVING
		if st := g.s.acquire(); st != nil {
			if sel, ok := st.selection(req.GetService()); ok {
				cur = st.servingStatus(ctx, sel)
			} else {
				cur = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
			}
			st.inflight.Add(-1)
		}
		if cur != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: cur}); err != nil {
				return err
			}
			last = cur
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (g *grpcHealth) List(ctx context.Context, _ *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	st := g.s.acquire()
	if st == nil {
		return nil, status.Error(codes.Unavailable, "healthd is starting")
	}
	defer st.inflight.Add(-1)
	if !st.grpcAuthorized(ctx) && len(st.tokens) > 0 {
		// The group names are details, as on the dashboard.
		return nil, status.Error(codes.Unauthenticated, "a bearer token is needed to list the services")
	}
	names := []string{""}
	for g := range st.groups {
		names = append(names, g)
	}
	sort.Strings(names)
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{}}
	for _, n := range names {
		sel, _ := st.selection(n)
		out.Statuses[n] = &healthpb.HealthCheckResponse{Status: st.servingStatus(ctx, sel)}
	}
	return out, nil
}

// selection is the checks service names: "" all, else a group.
func (st *State) selection(service string) ([]*runner.Check, bool) {
	if service == "" {
		return st.Runner.Checks(), true
	}
	sel, ok := st.groups[service]
	return sel, ok
}

// servingStatus is SERVING exactly when /ht/ for sel would answer 200.
func (st *State) servingStatus(ctx context.Context, sel []*runner.Check) healthpb.HealthCheckResponse_ServingStatus {
	snaps := st.Runner.Run(ctx, sel)
	if runner.Summarize(snaps).OK && !st.proc.draining.Load() {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

// grpcAuthorized reports whether the call carries `authorization: Bearer
// <token>` with one of the tokens, as an HTTP request would (auth.go):
// always true when none are configured. As on HTTP, a caller without one
// still gets the status; it only sees fewer details.
func (st *State) grpcAuthorized(ctx context.Context) bool {
	if len(st.tokens) == 0 {
		return true
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if ok, _ := st.tokens.checkValue(v); ok {
			return true
		}
	}
	return false
}
