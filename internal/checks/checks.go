// Package checks holds the Checker interface, the registry of check types and
// one file per built-in type.
package checks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Checker is one health check. Check returns nil when the dependency is
// healthy. It must return when ctx is done; the runner enforces the deadline
// anyway, but a check that ignores it keeps a goroutine (and maybe a socket)
// busy until it returns.
type Checker interface {
	Check(ctx context.Context) error
}

// Kind classifies a failure the way django-health-check words it, so the
// JSON values people grep for ("unavailable: …", "warning: …") stay the same.
type Kind int

const (
	KindUnavailable Kind = iota
	KindUnexpected
	KindWarning
	KindUnknown
)

func (k Kind) String() string {
	switch k {
	case KindUnexpected:
		return "unexpected result"
	case KindWarning:
		return "warning"
	case KindUnknown:
		return "unknown error"
	default:
		return "unavailable"
	}
}

// Error is a check failure with its kind. Its text is "<kind>: <message>".
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the cause, for errors.Is/As; its text is not repeated
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Unavailable reports that the dependency could not be reached or used.
func Unavailable(format string, args ...any) error {
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf(format, args...)}
}

// Unexpected reports that the dependency answered, but wrongly.
func Unexpected(format string, args ...any) error {
	return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf(format, args...)}
}

// Warn reports a concern (a threshold crossed) rather than an outage. It is a
// failure only while WARNINGS_AS_ERRORS is true.
func Warn(format string, args ...any) error {
	return &Error{Kind: KindWarning, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err; a plain error counts as unavailable.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnavailable
}

// Message renders err as the seed does: "<kind>: <message>". Plain errors
// from client libraries are prefixed with "unavailable: ".
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Error() != err.Error() { // wrapped with extra context
			return e.Kind.String() + ": " + err.Error()
		}
		return e.Error()
	}
	return KindUnavailable.String() + ": " + err.Error()
}

// Observation is something a check measured, for health+json's observedValue
// and for metrics: disk percent used, MB available, queue depth…
type Observation struct {
	Measurement string  // "utilization", "available", "lag", "consumers"…
	Value       float64 // in Unit
	Unit        string  // "percent", "MB", "s", "messages", "workers"…
}

// Details collects what a run says besides its error: a note for a passing
// run and its observations. The runner puts one in each run's context.
type Details struct {
	mu           sync.Mutex
	note         string
	observations []Observation
}

type detailsKey struct{}

// WithDetails returns a context that collects a run's details into d.
func WithDetails(ctx context.Context, d *Details) context.Context {
	return context.WithValue(ctx, detailsKey{}, d)
}

// Note sets the message shown for a passing run ("3 workers answered: …").
// It is a no-op outside a runner.
func Note(ctx context.Context, format string, args ...any) {
	if d, ok := ctx.Value(detailsKey{}).(*Details); ok {
		d.mu.Lock()
		d.note = fmt.Sprintf(format, args...)
		d.mu.Unlock()
	}
}

// Observe records a measurement. It is a no-op outside a runner.
func Observe(ctx context.Context, measurement string, value float64, unit string) {
	if d, ok := ctx.Value(detailsKey{}).(*Details); ok {
		d.mu.Lock()
		d.observations = append(d.observations, Observation{measurement, value, unit})
		d.mu.Unlock()
	}
}

// Snapshot returns the note and a copy of the observations.
func (d *Details) Snapshot() (string, []Observation) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.note, append([]Observation(nil), d.observations...)
}

// Settings are the seed's HEALTH_CHECK settings, used as defaults by the
// disk and memory types. A nil threshold is disabled.
type Settings struct {
	DiskUsageMax     *float64 // percent
	MemoryMin        *float64 // MB available
	WarningsAsErrors bool
}

// Config is a check type's keys, declared as struct fields (see keys.go)
// and decoded from the check's YAML section. Loading a config file decodes
// and validates; only building opens clients, so `healthd validate` never
// touches the network.
type Config interface {
	// Validate reports every problem with the decoded keys as *KeyError
	// values (see Problems). It has no side effects: no socket, no name
	// resolution, no file written.
	Validate() error
	// Build returns the check, with its clients (opened lazily or not); a
	// Checker holding clients also implements io.Closer.
	Build(Env) (Checker, error)
}

// Env is what Build gets besides the check's own keys.
type Env struct {
	Name     string
	Timeout  time.Duration // the check's deadline; clients may size their own timeouts from it
	Settings Settings
	Logger   *slog.Logger
	// Clients shares clients between the checks of one runner (see
	// Share); nil gives each check clients of its own.
	Clients *Clients
}

// Secreter is a Config that knows its credentials better than the generic
// scan of its values (Secrets): a driver's own DSN parser, say.
type Secreter interface {
	Secrets() []string
}

// Problems collects a Validate's errors.
type Problems []error

// Add records a problem with key.
func (p *Problems) Add(key, format string, args ...any) {
	*p = append(*p, &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the problems sorted by key and joined, or nil.
func (p Problems) Err() error {
	sort.SliceStable(p, func(i, j int) bool { return keyOf(p[i]) < keyOf(p[j]) })
	return errors.Join(p...)
}

func keyOf(err error) string {
	var ke *KeyError
	if errors.As(err, &ke) {
		return ke.Key
	}
	return ""
}

// Type describes a check type in the registry.
type Type struct {
	Name string
	// ComponentType is health+json's componentType: "datastore", "system" or "component".
	ComponentType string
	// NewConfig returns a Config holding the type's defaults, some of
	// which come from the seed's settings (DISK_USAGE_MAX).
	NewConfig func(Settings) Config
}
