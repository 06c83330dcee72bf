package daemon

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/config"
)

// TestHTTPServer_EveryPhaseIsBounded pins the server's limits: no phase of a
// connection may last forever, and the write timeout leaves room for the
// slowest check.
func TestHTTPServer_EveryPhaseIsBounded(t *testing.T) {
	cfg := &config.Config{Checks: []*config.Check{{Timeout: 2 * time.Second}, {Timeout: 30 * time.Second}}}
	hs := newHTTPServer(cfg, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	for _, c := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"ReadHeaderTimeout", hs.ReadHeaderTimeout, 5 * time.Second},
		{"ReadTimeout", hs.ReadTimeout, 10 * time.Second},
		{"WriteTimeout (slowest check + 10s)", hs.WriteTimeout, 40 * time.Second},
		{"IdleTimeout", hs.IdleTimeout, 120 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	if hs.MaxHeaderBytes != 32<<10 {
		t.Errorf("MaxHeaderBytes = %d, want 32 KiB", hs.MaxHeaderBytes)
	}
}
