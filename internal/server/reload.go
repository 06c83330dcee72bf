package server

import (
	"context"
	"net/http"
	"time"
)

// enter counts a probe as using st and returns st, or, when a reload has
// swapped st out already, the state to serve it from instead. The count is
// taken before the state is checked, so once WaitIdle has seen zero no
// probe can start on st any more.
func (st *State) enter() *State {
	st.inflight.Add(1)
	if cur := st.srv.state.Load(); cur != nil && cur != st {
		st.inflight.Add(-1)
		return cur
	}
	return st
}

// WaitIdle waits, after st has been swapped out, until no probe still uses
// it (or ctx ends), so that stopping its runner fails no probe in flight.
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

// serveReload answers POST /-/reload: it reloads the config file and says
// whether that worked (with every error when not). When server.auth.tokens
// is set, a valid bearer token is required.
func (st *State) serveReload(w http.ResponseWriter, r *http.Request) {
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
	if err := st.srv.opts.Reload(); err != nil {
		plain(w, http.StatusInternalServerError, "reload failed; the running config is kept:\n"+err.Error())
		return
	}
	plain(w, http.StatusOK, "reloaded")
}
