package server

import (
	"context"
	"net/http"
	"time"
)

// acquire returns the state to serve a request from, counted as in use
// until the caller decrements its inflight, or nil before the first Swap.
// The count is taken before the state is checked, so once WaitIdle has
// seen zero no request can start on st any more; a request that loses
// that race to a Swap takes the new state instead, before it is routed.
func (s *Server) acquire() *State {
	for {
		st := s.state.Load()
		if st == nil {
			return nil
		}
		st.inflight.Add(1)
		if s.state.Load() == st {
			return st
		}
		st.inflight.Add(-1)
	}
}

// WaitIdle waits, after st has been swapped out, until no request still
// uses it (or ctx ends), so that stopping its runner fails no probe in
// flight.
func (st *State) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for st.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

const reloadPath = "/-/reload"

// routePath is the path a request is routed by, as chi takes it.
func routePath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.Path
}

// serveReload answers POST /-/reload: it reloads the config file and says
// whether that worked (with every error when not). When server.auth.tokens
// is set, a valid bearer token is required.
func (s *Server) serveReload(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	if st == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		plain(w, http.StatusMethodNotAllowed, "method not allowed: use POST to reload the config")
		return
	}
	if !st.authorize(w, r) {
		plain(w, http.StatusUnauthorized, "unauthorized: POST /-/reload needs a valid bearer token")
		return
	}
	if err := s.proc.opts.Reload(); err != nil {
		plain(w, http.StatusInternalServerError, "reload failed; the running config is kept:\n"+err.Error())
		return
	}
	plain(w, http.StatusOK, "reloaded")
}
