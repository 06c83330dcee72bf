// Package daemon holds healthd's process lifecycle: load the config, start
// the runner and the HTTP server, and shut down gracefully. The CLI in
// cmd/healthd only parses flags and calls in here, so the lifecycle is
// tested in-process.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/viper"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/server"
)

// Options configure Serve.
type Options struct {
	ConfigPath string
	// FromEnv builds the config from the environment (config.FromEnv)
	// instead of reading ConfigPath: the zero-config sidecar.
	FromEnv   bool
	Overrides *viper.Viper     // flags and HEALTHD_* variables
	Registry  *checks.Registry // nil: checks.Builtin()
	Version   string
	Stderr    io.Writer         // log output
	Ready     func(addr string) // called once the listener is open (tests)
	// OnReload is told the outcome of every reload (SIGHUP, file change,
	// POST /-/reload), e.g. for a metric; it must not block.
	OnReload func(ok bool, err error)
	// NoWatch disables reloading when the config file changes (SIGHUP and
	// POST /-/reload still reload).
	NoWatch bool
	// Signals, when set, replaces SIGHUP as the reload trigger (tests).
	Signals <-chan os.Signal
}

// Exit statuses of the healthd command: 0 healthy (or a clean shutdown), 1
// failing or another error, 2 a config error.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitConfig = 2
)

// ConfigError marks a failure to load the config: exit status 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// newLogger logs at level, which a reload may change.
func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Load reads the config with opts' registry and overrides: the file, or
// with FromEnv the config the environment implies (logging, when logger is
// set, which variable built which check).
func Load(opts Options, logger *slog.Logger) (*config.Config, error) {
	if opts.FromEnv {
		cfg, err := loadFromEnv(opts, logger)
		if err != nil {
			return nil, &ConfigError{err}
		}
		return cfg, nil
	}
	cfg, err := config.Load(opts.ConfigPath, config.Options{Registry: opts.Registry, Overrides: opts.Overrides, Logger: logger})
	if err != nil {
		return nil, &ConfigError{err}
	}
	logEnvSources(logger, cfg)
	return cfg, nil
}

// logEnvSources logs which variable built which check, for the checks that
// came from the environment (with no config file, or checks_from_env: true
// in one): the name of the variable, never its value, which may hold a
// password.
func logEnvSources(logger *slog.Logger, cfg *config.Config) {
	if logger == nil {
		return
	}
	for _, s := range cfg.EnvSources {
		from := s.Var
		if from == "" {
			from = "(always)"
		}
		logger.Info("check from the environment", "check", s.Check, "type", s.Type, "variable", from)
	}
	for _, n := range cfg.EnvNotes {
		logger.Info("no check from the environment", "variable", n.Var, "why", n.Why)
	}
}

// loadFromEnv derives the config from the environment and loads it; its
// errors name the variables, never their values.
func loadFromEnv(opts Options, logger *slog.Logger) (*config.Config, error) {
	d, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(config.EnvFile, d.YAML, config.Options{Registry: opts.Registry, Overrides: opts.Overrides, Logger: logger})
	if err != nil {
		return nil, d.Explain(err)
	}
	cfg.EnvSources, cfg.EnvNotes = d.Sources, d.Notes
	logEnvSources(logger, cfg)
	return cfg, nil
}

// Serve runs healthd until ctx is done, then shuts down gracefully: /ht/
// answers the failure status for the drain delay, in-flight requests finish
// within the shutdown timeout, and every check's clients are closed.
func Serve(ctx context.Context, opts Options) error {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	boot := slog.New(slog.NewTextHandler(opts.Stderr, nil))
	// The hash is taken before loading: were the file to change in
	// between, the watcher would see a new hash and reload.
	_, sum, _ := (&Reloader{path: opts.ConfigPath, opts: opts}).read()
	cfg, err := Load(opts, boot)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(cfg.Server.LogLevel)
	logger := newLogger(opts.Stderr, cfg.Server.LogFormat, level)

	// One registry per process: it outlives reloads, each of which attaches
	// its new runner.
	m := metrics.New(metrics.Options{Version: opts.Version})
	var rl *Reloader
	srv := server.New(server.Options{Version: opts.Version, Logger: logger, Metrics: m, Reload: func() error { return rl.Reload() }})
	rl = newReloader(opts, srv, logger, level)
	rl.metrics = m
	rl.hash = sum
	if err := rl.install(cfg); err != nil {
		return &ConfigError{fmt.Errorf("%s: %w", cfg.File, err)} // as a reload reports it
	}
	m.ReloadResult(true, time.Now())
	defer rl.stop()

	// Reloads stop before the state is shut down (deferred above, so run
	// after this).
	rctx, stopReloads := context.WithCancel(ctx)
	signalsDone := rl.handleSignals(rctx, opts.Signals)
	var watchDone <-chan struct{}
	if !opts.NoWatch && !opts.FromEnv { // the environment of a process does not change
		if watchDone, err = rl.Watch(rctx, watchDebounce); err != nil {
			logger.Warn("not reloading on config file changes (SIGHUP still reloads)", "err", err)
		}
	}
	defer func() {
		stopReloads()
		<-signalsDone
		if watchDone != nil {
			<-watchDone
		}
	}()

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	hs := newHTTPServer(cfg, srv, logger)
	tlsOn := cfg.Server.TLSCertFile != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
		if err != nil {
			ln.Close()
			return &ConfigError{fmt.Errorf("%s: server.tls: %w", cfg.File, err)}
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	gs, grpcAddr, err := startGRPC(cfg, srv, hs.TLSConfig, logger)
	if err != nil {
		ln.Close()
		return err
	}
	if gs != nil {
		// After the HTTP server's shutdown below: the drain makes both
		// answer NOT_SERVING first.
		defer stopGRPC(gs, cfg.Server.ShutdownTimeout)
	}
	logger.Info("healthd started", "version", opts.Version, "listen", ln.Addr().String(), "grpc_listen", grpcAddr, "path", cfg.Server.Path,
		"config", cfg.File, "checks", len(cfg.Checks), "groups", cfg.Groups(), "tls", tlsOn, "notify", len(cfg.Notify),
		"watch", watchDone != nil)
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	cur := srv.State().Config.Server
	logger.Info("shutting down", "drain_delay", cur.DrainDelay, "shutdown_timeout", cur.ShutdownTimeout)
	srv.Drain()
	if cur.DrainDelay > 0 {
		time.Sleep(cur.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cur.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("healthd stopped")
	return nil
}

// startGRPC serves the gRPC health service on server.grpc_listen (with the
// HTTP server's TLS, when set), or does nothing when it is empty.
func startGRPC(cfg *config.Config, srv *server.Server, tlsConf *tls.Config, logger *slog.Logger) (*grpc.Server, string, error) {
	if cfg.Server.GRPCListen == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", cfg.Server.GRPCListen)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s (server.grpc_listen): %w", cfg.Server.GRPCListen, err)
	}
	var opts []grpc.ServerOption
	if tlsConf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConf)))
	}
	// A health call is small and answered within the slowest check's
	// timeout; bound what a client can make the server hold.
	opts = append(opts, grpc.MaxRecvMsgSize(4<<10), grpc.MaxConcurrentStreams(256),
		grpc.ConnectionTimeout(5*time.Second))
	gs := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(gs, srv.GRPCHealth())
	go func() {
		if err := gs.Serve(ln); err != nil {
			logger.Error("grpc health server", "err", err)
		}
	}()
	return gs, ln.Addr().String(), nil
}

// stopGRPC lets calls in flight finish for up to timeout, then closes every
// stream (Watch streams never finish on their own).
func stopGRPC(gs *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		gs.Stop()
	}
}

// newHTTPServer bounds every phase of a connection: a client that never
// finishes its headers (slowloris) is dropped after ReadHeaderTimeout, one
// that never reads its answer after WriteTimeout, an idle keep-alive
// connection after IdleTimeout; headers (with the request line) are capped at
// MaxHeaderBytes (431 above it). See docs/reliability.md.
func newHTTPServer(cfg *config.Config, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout(cfg),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// writeTimeout leaves room for the slowest check plus rendering, so a slow
// probe still gets its answer rather than a reset connection.
func writeTimeout(cfg *config.Config) time.Duration {
	longest := time.Duration(0)
	for _, c := range cfg.Checks {
		longest = max(longest, c.Timeout)
	}
	return longest + 10*time.Second
}
