package main

import (
	"fmt"
	"io"
	"os"

	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/daemon"
)

// printConfig prints the config as healthd would run it: from the file or
// the environment, ${VAR}s expanded, flags and HEALTHD_* variables applied,
// secrets redacted. It exits 2 when the config does not load.
func printConfig(o daemon.Options, stdout, stderr io.Writer) int {
	cfg, err := daemon.Load(o, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return daemon.ExitConfig
	}
	var data []byte
	if o.FromEnv {
		d, err := config.FromEnv(os.LookupEnv)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return daemon.ExitConfig
		}
		data = d.YAML
	} else if data, err = config.ReadFile(o.ConfigPath); err != nil {
		fmt.Fprintln(stderr, err)
		return daemon.ExitConfig
	}
	out, err := config.Effective(data, cfg, config.Options{Overrides: o.Overrides})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "# healthd's config as it runs, from %s; secrets are shown as ****.\n", cfg.File)
	stdout.Write(out)
	return 0
}

// initConfig writes the config the environment implies, with every value
// left as ${VAR}: a start for a config file of one's own. It refuses to
// overwrite a file, and exits 2 when a variable is unusable.
func initConfig(output string, stdout, stderr io.Writer) int {
	d, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return daemon.ExitConfig
	}
	if output == "" {
		stdout.Write(d.YAML)
		return 0
	}
	f, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "init: %v\n", err)
		return 1
	}
	if _, err := f.Write(d.YAML); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "init: %v\n", err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s: %d checks (healthd validate --config %s checks it)\n", output, len(d.Sources), output)
	return 0
}
