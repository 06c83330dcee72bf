// Command healthd serves health checks for the services an application
// depends on at /ht/, as HTML or JSON. This file only wires flags to the
// daemon package.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/healthd/healthd"
	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/server"
)

const usage = `healthd: health checks for an application's dependencies, served at /ht/

Usage:
  healthd [serve] [--config FILE] [--listen ADDR]   serve /ht/ until SIGINT or SIGTERM
  healthd check [--config FILE] [--group NAME] [--format text|json] [--url URL]
                                                   run the checks once; exit 0 healthy, 1 failing, 2 config error
  healthd validate [--config FILE]                 exit 0 for a valid config, 2 listing every error
  healthd config [--config FILE]                   print the config as healthd runs it, secrets redacted
  healthd init [--output FILE]                     write the config the environment implies
  healthd schema                                   print the JSON Schema of the config file
  healthd version

--config defaults to $HEALTHD_CONFIG, then configs/healthd.yaml. When neither
exists, healthd builds its checks from the environment (DATABASE_URL,
REDIS_URL, CACHE_URL, CELERY_BROKER_URL, AWS_STORAGE_BUCKET_NAME…; see
docs/zero-config.md) unless HEALTHD_FROM_ENV=false.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	fs := pflag.NewFlagSet("healthd "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	cfgPath := fs.String("config", defaultConfig(), "config file")
	overrides := config.NewOverrides()
	// fromEnv reports whether the config comes from the environment: no
	// --config, no $HEALTHD_CONFIG, HEALTHD_FROM_ENV not false, no file at
	// the default path.
	fromEnv := func() (bool, error) {
		if fs.Changed("config") || os.Getenv("HEALTHD_CONFIG") != "" {
			return false, nil
		}
		if on, err := fromEnvSwitch(os.LookupEnv); err != nil || !on {
			return false, err
		}
		_, err := os.Stat(*cfgPath)
		return errors.Is(err, iofs.ErrNotExist), nil
	}
	// options are the daemon's options from the flags and environment; ok
	// is false, the problem written to stderr, when they are unusable.
	options := func() (o daemon.Options, ok bool) {
		on, err := fromEnv()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return o, false
		}
		return daemon.Options{ConfigPath: *cfgPath, FromEnv: on, Overrides: overrides, Version: buildVersion(), Stderr: stderr}, true
	}

	switch cmd {
	case "serve":
		fs.String("listen", "", "listen address, e.g. :8000 (overrides server.listen)")
		overrides.BindPFlag("server.listen", fs.Lookup("listen"))
		if err := fs.Parse(args); err != nil {
			return daemon.ExitConfig
		}
		o, ok := options()
		if !ok {
			return daemon.ExitConfig
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		err := daemon.Serve(ctx, o)
		if err != nil {
			fmt.Fprintln(stderr, err)
			var ce *daemon.ConfigError
			if errors.As(err, &ce) {
				return daemon.ExitConfig
			}
			return 1
		}
		return 0
	case "check":
		group := fs.String("group", "", "run only the checks in this group")
		format := fs.String("format", "text", "output format: text or json")
		url := fs.String("url", "", "ask a running healthd at this URL instead of running the checks here")
		timeout := fs.Duration("timeout", 0, "with --url: how long to wait for the answer (default 5s)")
		if err := fs.Parse(args); err != nil {
			return daemon.ExitConfig
		}
		if *format != "text" && *format != "json" {
			fmt.Fprintf(stderr, "--format must be text or json, not %q\n", *format)
			return daemon.ExitConfig
		}
		o, ok := options()
		if !ok {
			return daemon.ExitConfig
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runCheck(ctx, checkOptions{
			Options: o,
			Group:   *group, Format: *format, URL: *url, Timeout: *timeout, Stdout: stdout,
		})
	case "validate":
		if err := fs.Parse(args); err != nil {
			return daemon.ExitConfig
		}
		o, ok := options()
		if !ok {
			return daemon.ExitConfig
		}
		cfg, err := daemon.Load(o, nil)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return daemon.ExitConfig
		}
		// The pages as serve builds them (a custom template must also pass
		// the Content-Security-Policy rules), without building a check.
		if err := server.CheckTemplate(cfg.Server.Template); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cfg.File, err)
			return daemon.ExitConfig
		}
		fmt.Fprintf(stdout, "%s: valid, %d checks\n", cfg.File, len(cfg.Checks))
		return 0
	case "config":
		fs.String("listen", "", "listen address (overrides server.listen), as for serve")
		overrides.BindPFlag("server.listen", fs.Lookup("listen"))
		if err := fs.Parse(args); err != nil {
			return daemon.ExitConfig
		}
		o, ok := options()
		if !ok {
			return daemon.ExitConfig
		}
		return printConfig(o, stdout, stderr)
	case "init":
		output := fs.StringP("output", "o", "", "write to this file (refused if it exists) instead of standard output")
		if err := fs.Parse(args); err != nil {
			return daemon.ExitConfig
		}
		return initConfig(*output, stdout, stderr)
	case "schema":
		if err := fs.Parse(args); err != nil {
			return daemon.ExitConfig
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(config.Schema(checks.Builtin())); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case "version":
		if c := buildCommit(); c != "" {
			fmt.Fprintf(stdout, "healthd %s (commit %s)\n", buildVersion(), c)
		} else {
			fmt.Fprintln(stdout, "healthd", buildVersion())
		}
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return daemon.ExitConfig
	}
}

func defaultConfig() string {
	if p := os.Getenv("HEALTHD_CONFIG"); p != "" {
		return p
	}
	return "configs/healthd.yaml"
}

// buildVersion is the release healthd was built from: CHANGELOG.md's newest.
func buildVersion() string { return healthd.Version() }

// buildCommit is the git commit the binary was built from, as Go records it,
// with "+dirty" for uncommitted changes; "" when built outside a checkout.
func buildCommit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

// fromEnvSwitch reads HEALTHD_FROM_ENV: unset or true turns the checks from
// the environment on when there is no config file, false turns them off.
// It takes the spellings people write in a container's env (true/1/yes,
// false/0/no, in any case); anything else is an error naming the variable,
// so that a typo does not silently pick one.
func fromEnvSwitch(lookup func(string) (string, bool)) (bool, error) {
	v, ok := lookup("HEALTHD_FROM_ENV")
	if !ok || strings.TrimSpace(v) == "" {
		return true, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("HEALTHD_FROM_ENV must be true or false (1/0, yes/no, on/off), not %q", v)
}
