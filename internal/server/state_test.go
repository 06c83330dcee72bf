package server_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/server"
)

// POST /-/reload swaps the state and then waits until the old one is idle
// (the daemon's retire): the reload request itself must not count as a
// user of the state it replaces, or the reload would wait for itself.
func TestReload_RequestDoesNotHoldTheStateItReplaces(t *testing.T) {
	var srv *server.Server
	var old, fresh *server.State
	var waited error
	srv = server.New(server.Options{Reload: func() error {
		srv.Swap(fresh)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		waited = old.WaitIdle(ctx)
		return nil
	}})
	old = newState(t, srv, "checks: [{name: old, type: fake}]")
	fresh = newState(t, srv, "checks: [{name: fresh, type: fake}]")
	srv.Swap(old)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	if resp, body := do(t, "POST", ts.URL+"/-/reload"); resp.StatusCode != 200 {
		t.Fatalf("reload: %d %q", resp.StatusCode, body)
	}
	if waited != nil {
		t.Errorf("the old state did not become idle while the reload request ran: %v", waited)
	}
	if _, body := get(t, ts.URL+"/ht/?format=json"); body != `{"fresh": "working"}` {
		t.Errorf("after the reload: %q", body)
	}
}

// A State is built from a config and served by a Server; it must not
// reach back into the Server (its current state, its routing): the Server
// hands each request its state once.
func TestState_HoldsNoServer(t *testing.T) {
	serverType := reflect.TypeOf((*server.Server)(nil))
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(t2 reflect.Type, path string) {
		if t2 == serverType {
			t.Errorf("State reaches the Server through %s", path)
			return
		}
		if seen[t2] {
			return
		}
		seen[t2] = true
		switch t2.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
			walk(t2.Elem(), path)
		case reflect.Map:
			walk(t2.Key(), path)
			walk(t2.Elem(), path)
		case reflect.Struct:
			for i := range t2.NumField() {
				f := t2.Field(i)
				walk(f.Type, path+"."+f.Name)
			}
		}
	}
	walk(reflect.TypeOf(server.State{}), "State")
}
