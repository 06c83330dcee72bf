package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/runner"
)

// checkOptions configure `healthd check`: a one-shot run.
type checkOptions struct {
	daemon.Options
	Group  string
	Format string // text or json
	// URL, when set, asks a running healthd over HTTP instead of running the
	// checks in this process (for a Docker HEALTHCHECK against the daemon).
	URL     string
	Timeout time.Duration
	Stdout  io.Writer
}

// runCheck runs the checks once in-process and prints a line per check. It
// returns the exit status: 0 when every critical check passes, 1 when one
// fails, 2 for a config error.
func runCheck(ctx context.Context, o checkOptions) int {
	if o.URL != "" {
		return checkURL(ctx, o)
	}
	boot := slog.New(slog.NewTextHandler(o.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := daemon.Load(o.Options, boot)
	if err != nil {
		fmt.Fprintln(o.Stderr, err)
		return daemon.ExitConfig
	}
	r, err := runner.New(cfg, runner.Options{WarningsAsErrors: cfg.HealthCheck.WarningsAsErrors, Logger: boot})
	if err != nil {
		fmt.Fprintln(o.Stderr, err)
		return daemon.ExitConfig
	}
	defer r.Close()
	sel := r.Checks()
	if o.Group != "" {
		sel = nil
		for _, c := range r.Checks() {
			for _, g := range c.Groups {
				if g == o.Group {
					sel = append(sel, c)
				}
			}
		}
		if len(sel) == 0 {
			fmt.Fprintf(o.Stderr, "%s: unknown group %q; known groups: %s\n", cfg.File, o.Group, strings.Join(cfg.Groups(), ", "))
			return daemon.ExitConfig
		}
	}
	snaps := r.Run(ctx, sel)
	overall := runner.Summarize(snaps)
	if o.Format == "json" {
		type line struct {
			Name       string  `json:"name"`
			Status     string  `json:"status"`
			Critical   bool    `json:"critical"`
			DurationMS float64 `json:"duration_ms"`
			Message    string  `json:"message,omitempty"`
		}
		out := struct {
			Status string `json:"status"`
			Checks []line `json:"checks"`
		}{Status: overall.Status.String()}
		for _, s := range snaps {
			out.Checks = append(out.Checks, line{s.Check.Name, s.Result.Status.String(), s.Check.Critical,
				float64(s.Result.Duration.Microseconds()) / 1000, s.Result.Message})
		}
		enc := json.NewEncoder(o.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		tw := tabwriter.NewWriter(o.Stdout, 0, 4, 2, ' ', 0)
		for _, s := range snaps {
			msg := s.Result.Message
			if msg == "" {
				msg = "working"
			}
			name := s.Check.Name
			if !s.Check.Critical {
				name += " (non-critical)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, s.Result.Status, s.Result.Duration.Round(time.Microsecond), oneLine(msg))
		}
		tw.Flush()
	}
	if !overall.OK {
		return daemon.ExitFailed
	}
	return daemon.ExitOK
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " / ") }

// checkURL GETs a running healthd's endpoint: exit 0 on 2xx, 1 otherwise
// (Docker reserves 2, so a network error is 1 too).
func checkURL(ctx context.Context, o checkOptions) int {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	if err != nil {
		fmt.Fprintf(o.Stderr, "bad --url: %v\n", err)
		return daemon.ExitConfig
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(o.Stderr, "unhealthy: %v\n", err)
		return daemon.ExitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m map[string]string
	if json.Unmarshal(body, &m) == nil && len(m) > 0 {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(o.Stdout, "%s\t%s\n", k, oneLine(m[k]))
		}
	} else {
		fmt.Fprintf(o.Stdout, "%s\n", strings.TrimSpace(string(body)))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return daemon.ExitOK
	}
	fmt.Fprintf(o.Stderr, "unhealthy: HTTP %d\n", resp.StatusCode)
	return daemon.ExitFailed
}
