// Package server serves the checks over HTTP: /ht/, its groups and single
// checks as HTML, JSON, health+json, text or OpenMetrics (chosen by ?format=
// or the Accept header), /metrics, and /ping.
package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/runner"
)

// Options are fixed for the life of the process.
type Options struct {
	Version string
	Logger  *slog.Logger
	// Reload, when set, is called by POST /-/reload (see reload.go).
	Reload func() error
	// Metrics, when set, is served at /metrics and feeds the counters and
	// histograms of /ht/'s OpenMetrics format. It outlives reloads.
	Metrics *metrics.Metrics
}

// Server is an http.Handler whose routes and checks can be swapped atomically
// on reload: each request takes the current State once, before it is
// routed, and finishes on it (see acquire).
type Server struct {
	proc  *process
	state atomic.Pointer[State]
}

// process is what a Server and all its States share and a reload does not
// change: the options and the drain flag.
type process struct {
	opts Options
	host string
	// draining is set once by Drain. It belongs to the process, not to a
	// State: a reload racing the shutdown must not turn readiness green.
	draining atomic.Bool
}

// State is everything a config load produces for serving.
type State struct {
	Config *config.Config
	Runner *runner.Runner

	router   http.Handler
	page     *dashboard // the dashboard, for callers that may see the checks
	minimal  *dashboard // the overall status only, for callers without a token (auth.go)
	groups   map[string][]*runner.Check
	tokens   tokens
	proc     *process
	inflight atomic.Int64 // requests served from this state; see acquire and WaitIdle
	bodies   bodyCache    // bodycache.go
	writers  writers      // payload.go
	snaps    snapPool
	accepts  acceptCache
	// histories holds each check's history as health+json writes it
	// (healthjson.go); the map is filled once, in NewState.
	histories map[*runner.Check]*atomic.Pointer[historyJSON]
}

// New returns a server with no state; call Swap before serving.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	return &Server{proc: &process{opts: opts, host: host}}
}

// NewState prepares the routes and templates for cfg and r. It fails (and
// the caller keeps its current state) when a custom template does not parse.
func (s *Server) NewState(cfg *config.Config, r *runner.Runner) (*State, error) {
	st := &State{Config: cfg, Runner: r, proc: s.proc, groups: map[string][]*runner.Check{}, tokens: newTokens(cfg.Server.AuthTokens),
		histories: make(map[*runner.Check]*atomic.Pointer[historyJSON], len(r.Checks()))}
	for _, c := range r.Checks() {
		st.histories[c] = new(atomic.Pointer[historyJSON])
		for _, g := range c.Groups {
			st.groups[g] = append(st.groups[g], c)
		}
	}
	page, err := loadTemplate(cfg.Server.Template)
	if err != nil {
		return nil, err
	}
	st.page = page
	if st.minimal, err = loadMinimal(); err != nil {
		return nil, err
	}
	st.router = st.routes()
	return st, nil
}

// Swap installs st and returns the previous state (nil the first time).
func (s *Server) Swap(st *State) *State { return s.state.Swap(st) }

// State returns the state being served.
func (s *Server) State() *State { return s.state.Load() }

// Drain makes every /ht/ answer the failure status from now on, saying
// that healthd is shutting down (readiness turns red while the process
// finishes in-flight requests and exits). States swapped in later drain too.
func (s *Server) Drain() { s.proc.draining.Store(true) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.proc.opts.Reload != nil && routePath(r) == reloadPath {
		// Not counted as using the state: the reload it starts waits
		// until the state it replaces is idle.
		s.serveReload(w, r)
		return
	}
	st := s.acquire()
	if st == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	defer st.inflight.Add(-1)
	st.router.ServeHTTP(w, r)
}

func (st *State) routes() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusNotFound, fmt.Sprintf("not found: %s serves %s, %s{group}/, %scheck/{name}/, /metrics and /ping", r.URL.Path, st.Config.Server.Path, st.Config.Server.Path, st.Config.Server.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed: use GET or HEAD")
	})
	base := st.Config.Server.Path
	get := func(pattern string, h http.HandlerFunc) {
		r.Get(pattern, h)
		r.Head(pattern, h)
	}
	get("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		plain(w, http.StatusOK, "pong")
	})
	if m := st.proc.opts.Metrics; m != nil {
		get("/metrics", st.requireToken(m.Handler()).ServeHTTP)
	}
	all := func(w http.ResponseWriter, r *http.Request) {
		st.serveChecks(w, r, st.Runner.Checks(), "", defaultScope)
	}
	get(base, all)
	if base != "/" {
		get(strings.TrimSuffix(base, "/"), all)
	}
	group := func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "group")
		sel, ok := st.groups[name]
		if !ok {
			plain(w, http.StatusNotFound, st.unknownGroup(name, st.authorize(w, r)))
			return
		}
		st.serveChecks(w, r, sel, name, name)
	}
	get(base+"{group}", group)
	get(base+"{group}/", group)
	get(base+"check/{name}", st.serveCheck)
	get(base+"check/{name}/", st.serveCheck)
	return r
}

func (st *State) unknownGroup(name string, full bool) string {
	if !full {
		return fmt.Sprintf("unknown group %q", truncate(name, 64))
	}
	if len(st.groups) == 0 {
		return fmt.Sprintf("unknown group %q: no groups are configured", name)
	}
	names := make([]string, 0, len(st.groups))
	for g := range st.groups {
		names = append(names, g)
	}
	sort.Strings(names)
	return fmt.Sprintf("unknown group %q; known groups: %s", name, strings.Join(names, ", "))
}

// serveChecks runs sel, narrowed by ?check= and ?skip=, and writes the
// answer in the negotiated format; a caller without a valid token (when
// tokens are configured) gets the same status code and the overall status
// only. scope names sel in the text format.
func (st *State) serveChecks(w http.ResponseWriter, r *http.Request, sel []*runner.Check, group, scope string) {
	h := w.Header()
	h["Cache-Control"] = hdrNoStore
	h["Vary"] = hdrAccept
	full := st.authorize(w, r)
	q, err := query(r)
	if err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	format, status, msg := st.pickFormat(r, q)
	if status != 0 {
		plain(w, status, msg)
		return
	}
	sel, msg = st.filter(q, sel, full)
	if msg != "" {
		plain(w, http.StatusBadRequest, msg)
		return
	}
	sp := st.snaps.get()
	defer st.snaps.put(sp)
	snaps := st.Runner.RunInto(r.Context(), sel, *sp)
	*sp = snaps
	v := view{snaps: snaps, overall: runner.Summarize(snaps), group: group, scope: scope, draining: st.proc.draining.Load(), full: full}
	v.ok = v.overall.OK && !v.draining
	if !full { // not even the name in the URL is echoed
		v.group, v.scope = "", defaultScope
	}
	code := http.StatusOK
	if !v.ok {
		code = st.Config.Server.FailureStatus
	}
	body, err := st.bodies.body(format, v, func() (payload, error) { return st.render(format, v) })
	if err != nil {
		st.proc.opts.Logger.Error("render failed", "format", string(format.name), "err", err)
		plain(w, http.StatusInternalServerError, "render failed")
		return
	}
	st.setFormatHeaders(h, format, full)
	if n := body.size(); n >= 2048 {
		// net/http sets the length of a smaller body itself; a larger
		// one would go out chunked.
		h["Content-Length"] = []string{strconv.Itoa(n)}
	}
	w.WriteHeader(code)
	body.writeTo(w, &st.writers)
}

// pickFormat returns the format, or a status and message for a request that
// cannot be served (400 for a bad format or header, 406 for none acceptable).
func (st *State) pickFormat(r *http.Request, q url.Values) (*format, int, string) {
	if q.Has("format") {
		name := q.Get("format")
		f := formatNamed(Format(name))
		if f == nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("unknown format %q; use one of: %s", truncate(name, 40), formatNames())
		}
		return f, 0, ""
	}
	name, ok, malformed := st.accepts.negotiate(strings.Join(r.Header.Values("Accept"), ","))
	switch {
	case malformed:
		return nil, http.StatusBadRequest, "malformed Accept header"
	case !ok:
		return nil, http.StatusNotAcceptable, "Not Acceptable: supported content types: " + supportedTypes()
	}
	return formatNamed(name), 0, ""
}

// snapPool lends serveChecks the slice its results go in. A body never
// keeps the slice (the cache keeps the results' Seqs), so it is reused as
// soon as the answer is written.
type snapPool struct{ pool sync.Pool }

func (p *snapPool) get() *[]runner.Snapshot {
	if s, ok := p.pool.Get().(*[]runner.Snapshot); ok {
		return s
	}
	return new([]runner.Snapshot)
}

func (p *snapPool) put(s *[]runner.Snapshot) {
	clear(*s) // the results and checks are not kept alive by the pool
	p.pool.Put(s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
