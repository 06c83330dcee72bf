package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
)

// sqlRuns is how many runs of the sql check timeSQL times.
const sqlRuns = 1000

type sqlTiming struct{ text string }

// timeSQL times the sql check in-process against the machine's PostgreSQL:
// sqlRuns runs of `SELECT 1`, one after another, after a first run that
// opens the pool's connection; each run is the check's whole probe (a
// pooled connection pinged, BEGIN READ ONLY with its statement timeout, the
// query, ROLLBACK). The postgres check's plain SELECT 1 on the same server
// is timed beside it, for what the read-only transaction adds.
func timeSQL() sqlTiming {
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pgDB)
	yaml := fmt.Sprintf(`checks:
  - {name: sql, type: sql, dsn: %q, query: "SELECT 1", equals: 1, timeout: 5s}
  - {name: postgres, type: postgres, dsn: %q, timeout: 5s}
`, dsn, dsn)
	cfg, err := config.Parse("sql.yaml", []byte(yaml), config.Options{})
	if err != nil {
		return sqlTiming{"not measured: config: " + err.Error()}
	}
	r, err := runner.New(cfg, runner.Options{})
	if err != nil {
		return sqlTiming{"not measured: build: " + err.Error()}
	}
	defer r.Close()
	var parts []string
	for _, c := range r.Checks() {
		var took []time.Duration
		var lastErr error
		for range sqlRuns + 1 {
			start := time.Now()
			err := withTimeout(c.Timeout, func(ctx context.Context) error { return c.Checker().Check(ctx) })
			took = append(took, time.Since(start))
			if err != nil {
				lastErr = err
			}
		}
		first := took[0]
		took = took[1:] // the first run opens the connection
		slices.Sort(took)
		s := fmt.Sprintf("%s check: median %s, p99 %s, max %s (first run, which connects: %s)",
			c.Name, ms(took[len(took)/2]), ms(took[len(took)*99/100]), ms(took[len(took)-1]), ms(first))
		if lastErr != nil {
			s += "; a run failed: " + lastErr.Error()
		}
		parts = append(parts, s)
	}
	return sqlTiming{fmt.Sprintf("%d runs of `SELECT 1` each, one after another, in-process, against PostgreSQL 127.0.0.1:5432 (database %s): %s; %s",
		sqlRuns, pgDB, parts[0], parts[1])}
}
