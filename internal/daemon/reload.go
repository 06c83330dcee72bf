package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/notify"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

// Reloader owns the serving state of a running daemon: it installs the
// first config and replaces it on SIGHUP, when the file changes (watch.go)
// and on POST /-/reload. A reload builds everything new (config with its
// clients, runner, server state, webhooks) before touching the running
// state; only when all of it succeeded is the new state swapped in, the new
// runner started, and the old runner stopped (once no probe uses it) and
// its clients closed. A config that does not load leaves the running one
// serving, and every error is logged.
type Reloader struct {
	path     string
	opts     Options
	srv      *server.Server
	logger   *slog.Logger
	level    *slog.LevelVar
	stateLog *StateLog
	host     string

	mu      sync.Mutex // one reload at a time
	hash    [32]byte   // of the file content last tried
	live    *gate      // observers of the current runner
	metrics *metrics.Metrics
	notify  *notify.Set
	stopped bool
	closing sync.WaitGroup // old webhooks finishing their queues
}

// gate passes a runner's results on to its observers until it is closed:
// an old runner's last results, during the swap, are neither logged nor
// notified (the new runner's are).
type gate struct {
	on  atomic.Bool
	obs []runner.Observer
}

func (g *gate) Observe(c *runner.Check, prev, cur *runner.Result) {
	if g.on.Load() {
		for _, o := range g.obs {
			o.Observe(c, prev, cur)
		}
	}
}

// notifyDrain bounds how long old webhooks may take to deliver what is
// queued when their config is replaced or healthd stops.
const notifyDrain = 5 * time.Second

func newReloader(opts Options, srv *server.Server, logger *slog.Logger, level *slog.LevelVar) *Reloader {
	host, _ := os.Hostname()
	path := opts.ConfigPath
	if opts.FromEnv {
		path = config.EnvFile
	}
	return &Reloader{path: path, opts: opts, srv: srv, logger: logger, level: level,
		stateLog: NewStateLog(logger), host: host}
}

// install builds the runner, state and webhooks for cfg and swaps them in,
// carrying over what Inherit carries from the state being replaced. On error
// nothing changed and cfg is closed.
func (rl *Reloader) install(cfg *config.Config) error {
	prev := rl.srv.State()
	r, err := runner.New(cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors, Logger: rl.logger})
	if err != nil {
		return err
	}
	if prev != nil {
		r.Inherit(prev.Runner)
	}
	st, err := rl.srv.NewState(cfg, r)
	if err != nil {
		r.Close()
		return err
	}
	set := notify.New(cfg.Notify, notify.Options{Host: rl.host, Secrets: cfg.Secrets(), Logger: rl.logger})
	g := &gate{obs: []runner.Observer{rl.stateLog, set}}
	g.on.Store(true)
	r.AddObserver(g)
	if rl.metrics != nil {
		rl.metrics.Attach(r)
	}

	if rl.live != nil {
		rl.live.on.Store(false)
	}
	rl.srv.Swap(st)
	r.Start()
	oldSet := rl.notify
	rl.live, rl.notify = g, set
	if prev != nil {
		rl.retire(prev, oldSet)
	}
	return nil
}

// retire stops a swapped-out state once no probe uses it (bounded by its
// slowest check), closes its clients, and lets its webhooks deliver what is
// queued in the background.
func (rl *Reloader) retire(st *server.State, set *notify.Set) {
	bound := time.Second
	for _, c := range st.Config.Checks {
		bound = max(bound, c.Timeout+time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	if err := st.WaitIdle(ctx); err != nil {
		rl.logger.Warn("reload: probes still use the old checks; stopping them anyway", "waited", bound.String())
	}
	cancel()
	if err := st.Runner.Close(); err != nil {
		rl.logger.Warn("reload: closing the old checks' clients", "err", err)
	}
	if set != nil {
		rl.closing.Add(1)
		go func() {
			defer rl.closing.Done()
			ctx, cancel := context.WithTimeout(context.Background(), notifyDrain)
			defer cancel()
			set.Close(ctx)
		}()
	}
}

// Reload reads the config file given at start and, when it is valid,
// replaces the running config with it. It always tries, even when the file
// did not change (SIGHUP, POST /-/reload).
func (rl *Reloader) Reload() error {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	data, sum, rerr := rl.read()
	return rl.reloadLocked(data, sum, rerr)
}

// ReloadIfChanged reloads only when the file's content differs from the
// content last tried (loaded or rejected), so editor and ConfigMap
// churn that leaves the content alone costs nothing, and a rejected file
// is not retried until it changes.
func (rl *Reloader) ReloadIfChanged() (bool, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	data, sum, rerr := rl.read()
	if sum == rl.hash {
		return false, nil
	}
	return true, rl.reloadLocked(data, sum, rerr)
}

// read returns the file's content and its hash; an unreadable file hashes
// as its error, so the same failure is reported once. It reads at most
// config.MaxFileSize: a huge file must not exhaust the serving daemon.
func (rl *Reloader) read() ([]byte, [32]byte, error) {
	if rl.opts.FromEnv {
		d, err := config.FromEnv(os.LookupEnv)
		if err != nil {
			return nil, sha256.Sum256([]byte("unusable: " + err.Error())), err
		}
		return d.YAML, sha256.Sum256(d.YAML), nil
	}
	data, err := config.ReadFile(rl.path)
	if err != nil {
		return nil, sha256.Sum256([]byte("unreadable: " + err.Error())), err
	}
	return data, sha256.Sum256(data), nil
}

func (rl *Reloader) reloadLocked(data []byte, sum [32]byte, rerr error) error {
	if rl.stopped {
		return errors.New("reload: healthd is stopping")
	}
	rl.hash = sum
	err := rl.apply(data, rerr)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				rl.logger.Error("reload: config error", "err", e.Error())
			}
		} else {
			rl.logger.Error("reload: config error", "err", err)
		}
		rl.logger.Error("reload failed: the running config is kept", "config", rl.path)
	}
	if rl.metrics != nil {
		rl.metrics.ReloadResult(err == nil, time.Now())
	}
	if rl.opts.OnReload != nil {
		rl.opts.OnReload(err == nil, err)
	}
	return err
}

func (rl *Reloader) apply(data []byte, rerr error) error {
	if rerr != nil && rl.opts.FromEnv {
		return rerr // the variables' errors
	}
	if rerr != nil {
		return config.Errors{{File: rl.path, Msg: fmt.Sprintf("cannot read config: %v", rerr)}}
	}
	var cfg *config.Config
	var err error
	if rl.opts.FromEnv {
		cfg, err = loadFromEnv(rl.opts, nil)
	} else {
		cfg, err = config.Parse(rl.path, data, config.Options{Registry: rl.opts.Registry, Overrides: rl.opts.Overrides, Logger: rl.logger})
	}
	if err != nil {
		return err
	}
	old := rl.srv.State().Config.Server
	rl.needsRestart(old, &cfg.Server)
	if err := rl.install(cfg); err != nil {
		return fmt.Errorf("%s: %w", rl.path, err)
	}
	rl.level.Set(cfg.Server.LogLevel)
	rl.logger.Info("config reloaded", "config", rl.path, "checks", len(cfg.Checks), "groups", cfg.Groups(), "notify", len(cfg.Notify))
	return nil
}

// needsRestart warns about settings a reload cannot apply, and keeps their
// running values in the new config so that it describes what is served.
func (rl *Reloader) needsRestart(old config.Server, cur *config.Server) {
	if cur.Listen != old.Listen {
		rl.logger.Warn("reload: server.listen changed; restart healthd to apply it", "listening", old.Listen, "configured", cur.Listen)
		cur.Listen = old.Listen
	}
	if cur.GRPCListen != old.GRPCListen {
		rl.logger.Warn("reload: server.grpc_listen changed; restart healthd to apply it", "listening", old.GRPCListen, "configured", cur.GRPCListen)
		cur.GRPCListen = old.GRPCListen
	}
	if cur.TLSCertFile != old.TLSCertFile || cur.TLSKeyFile != old.TLSKeyFile {
		rl.logger.Warn("reload: server.tls changed; restart healthd to apply it")
		cur.TLSCertFile, cur.TLSKeyFile = old.TLSCertFile, old.TLSKeyFile
	}
	if cur.LogFormat != old.LogFormat {
		rl.logger.Warn("reload: server.log_format changed; restart healthd to apply it", "format", old.LogFormat, "configured", cur.LogFormat)
		cur.LogFormat = old.LogFormat
	}
}

// stop ends reloading and shuts the serving state down: the runner, the
// checks' clients, and the webhooks (each given notifyDrain to deliver
// what is queued).
func (rl *Reloader) stop() {
	rl.mu.Lock()
	if rl.stopped {
		rl.mu.Unlock()
		return
	}
	rl.stopped = true
	set := rl.notify
	rl.mu.Unlock()
	if st := rl.srv.State(); st != nil {
		if err := st.Runner.Close(); err != nil {
			rl.logger.Warn("closing check clients", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyDrain)
	defer cancel()
	if set != nil {
		set.Close(ctx)
	}
	rl.closing.Wait()
}

// handleSignals reloads on every SIGHUP (or value of sig, when set) until
// ctx ends; the returned channel is closed when it has stopped.
func (rl *Reloader) handleSignals(ctx context.Context, sig <-chan os.Signal) <-chan struct{} {
	if sig == nil {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGHUP)
		sig = c
		go func() { <-ctx.Done(); signal.Stop(c) }()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sig:
				rl.logger.Info("reloading the config", "signal", s.String())
				_ = rl.Reload() // logged there
			}
		}
	}()
	return done
}
