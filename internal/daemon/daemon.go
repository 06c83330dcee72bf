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

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/internal/server"
)

// Options configure Serve.
type Options struct {
	ConfigPath string
	Overrides  *viper.Viper     // flags and HEALTHD_* variables
	Registry   *checks.Registry // nil: checks.Builtin()
	Version    string
	Stderr     io.Writer         // log output
	Ready      func(addr string) // called once the listener is open (tests)
}

// ConfigError marks a failure to load the config: exit status 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// NewLogger builds the process logger from the server settings.
func NewLogger(w io.Writer, s config.Server) *slog.Logger {
	ho := &slog.HandlerOptions{Level: s.LogLevel}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Load reads the config with opts' registry and overrides.
func Load(opts Options, logger *slog.Logger) (*config.Config, error) {
	cfg, err := config.Load(opts.ConfigPath, config.Options{Registry: opts.Registry, Overrides: opts.Overrides, Logger: logger})
	if err != nil {
		return nil, &ConfigError{err}
	}
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
	cfg, err := Load(opts, boot)
	if err != nil {
		return err
	}
	logger := NewLogger(opts.Stderr, cfg.Server)

	// One registry per process: it outlives reloads, which Attach a new runner.
	m := metrics.New(metrics.Options{Version: opts.Version})
	r := runner.New(cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors, Logger: logger})
	m.Attach(r)
	m.ReloadResult(true, time.Now())
	srv := server.New(server.Options{Version: opts.Version, Logger: logger, Metrics: m})
	st, err := srv.NewState(cfg, r)
	if err != nil {
		cfg.Close()
		return &ConfigError{err}
	}
	srv.Swap(st)
	r.Start()
	defer func() {
		cur := srv.State()
		cur.Runner.Stop()
		if err := cur.Config.Close(); err != nil {
			logger.Warn("closing check clients", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout(cfg),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	tlsOn := cfg.Server.TLSCertFile != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
		if err != nil {
			ln.Close()
			return &ConfigError{fmt.Errorf("%s: server.tls: %w", cfg.File, err)}
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	logger.Info("healthd started", "version", opts.Version, "listen", ln.Addr().String(), "path", cfg.Server.Path,
		"config", cfg.File, "checks", len(cfg.Checks), "groups", cfg.Groups(), "tls", tlsOn)
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

// writeTimeout leaves room for the slowest check plus rendering, so a slow
// probe still gets its answer rather than a reset connection.
func writeTimeout(cfg *config.Config) time.Duration {
	longest := time.Duration(0)
	for _, c := range cfg.Checks {
		longest = max(longest, c.Timeout)
	}
	return longest + 10*time.Second
}
