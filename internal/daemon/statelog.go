package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/healthd/healthd/internal/runner"
)

// StateLog logs one line per change of a check's state, never one per
// probe: "check failing" (level error for a critical check, warn
// otherwise) with the error, "check warning", and "check recovered" with
// how long the check was not passing. A check's first result is logged only
// when it is not passing: an initial failure matters, an initial pass is
// noise. One StateLog serves the whole process, across reloads, so an
// outage that spans a reload is timed from its start.
type StateLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	since  map[string]time.Time // when each check stopped passing
}

// NewStateLog returns a runner.Observer that logs state changes to logger.
func NewStateLog(logger *slog.Logger) *StateLog {
	return &StateLog{logger: logger, since: map[string]time.Time{}}
}

// Observe logs cur when it is a change of state (runner.Changed).
func (s *StateLog) Observe(c *runner.Check, prev, cur *runner.Result) {
	if !runner.Changed(prev, cur) {
		return
	}
	at := cur.Finished()
	from := "unknown"
	if prev != nil {
		from = prev.Status.String()
	}
	s.mu.Lock()
	since, wasDown := s.since[c.Name]
	if cur.Status == runner.Passing {
		delete(s.since, c.Name)
	} else if !wasDown {
		s.since[c.Name] = at
	}
	s.mu.Unlock()

	attrs := []any{"check", c.Name, "from", from, "to", cur.Status.String()}
	switch cur.Status {
	case runner.Passing:
		if wasDown {
			attrs = append(attrs, "down_for", at.Sub(since).Round(time.Millisecond).String())
		}
		s.logger.Info("check recovered", attrs...)
	case runner.Warning:
		s.logger.Warn("check warning", append(attrs, "message", cur.Message)...)
	default:
		level := slog.LevelError
		if !c.Critical {
			level = slog.LevelWarn
		}
		s.logger.Log(context.Background(), level, "check failing", append(attrs, "error", cur.Message, "critical", c.Critical)...)
	}
}
