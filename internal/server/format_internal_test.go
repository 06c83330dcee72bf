package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/metrics"
	"github.com/healthd/healthd/internal/runner"
)

// contentTypes is each format's Content-Type, by name (the fuzz test's
// "known format").
var contentTypes = func() map[Format]string {
	m := make(map[Format]string, len(formats))
	for _, f := range formats {
		m[f.name] = f.contentType[0]
	}
	return m
}()

// The formats table is the only place a format is described: every row is
// complete and distinct, negotiable by ?format= and by each of its media
// types, rendered for callers with and without a token in its content
// type, and cached exactly when its row says so. A new format is one row,
// and this test covers it.
func TestFormats_EveryRowIsServed(t *testing.T) {
	const yaml = "server: {auth: {tokens: [tok-1]}}\ndefaults: {cache_ttl: 1h}\nchecks: [{name: dbcheck, type: fake}]"
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m := metrics.New(metrics.Options{Version: "test"})
	m.Attach(r)
	r.Run(context.Background(), r.Checks()) // results with a Seq, so bodies can be cached
	s := New(Options{Version: "test", Metrics: m})
	st, err := s.NewState(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(st)
	serve := func(url string, header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}

	names := map[Format]bool{}
	media := map[string]Format{}
	for _, f := range formats {
		if f.name == "" || names[f.name] {
			t.Errorf("format %q: empty or repeated name", f.name)
		}
		names[f.name] = true
		if f.render == nil || f.overall == nil || len(f.media) == 0 || len(f.contentType) != 1 || cap(f.contentType) != 1 {
			t.Errorf("format %q: incomplete row", f.name)
		}
		for _, mt := range f.media {
			if prev, dup := media[mt]; dup {
				t.Errorf("media type %s answered by both %s and %s", mt, prev, f.name)
			}
			media[mt] = f.name
		}
	}

	for _, f := range formats {
		t.Run(string(f.name), func(t *testing.T) {
			before := st.bodies.len()
			w := serve("/ht/?format="+string(f.name), "Authorization", "Bearer tok-1")
			if cached := st.bodies.len() > before; cached != f.cached {
				t.Errorf("cached = %v, the table says %v", cached, f.cached)
			}
			full := w.Body.String()
			if w.Code != 200 || w.Header().Get("Content-Type") != f.contentType[0] || !strings.Contains(full, "dbcheck") {
				t.Errorf("with a token: %d %q %q", w.Code, w.Header().Get("Content-Type"), full)
			}
			if csp := w.Header().Get("Content-Security-Policy"); (csp != "") != (f.page != nil) {
				t.Errorf("Content-Security-Policy %q for a format whose page is set: %v", csp, f.page != nil)
			}

			w = serve("/ht/?format=" + string(f.name))
			if w.Code != 200 || w.Header().Get("Content-Type") != f.contentType[0] || w.Body.Len() == 0 {
				t.Errorf("without a token: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			if strings.Contains(w.Body.String(), "dbcheck") || w.Body.String() == full {
				t.Errorf("without a token, the body shows more than the overall status: %q", w.Body)
			}

			for _, mt := range f.media {
				w := serve("/ht/", "Accept", mt, "Authorization", "Bearer tok-1")
				if w.Code != 200 || w.Header().Get("Content-Type") != f.contentType[0] {
					t.Errorf("Accept: %s: %d %q, want %q", mt, w.Code, w.Header().Get("Content-Type"), f.contentType[0])
				}
				if !strings.Contains(mt, "*") && !strings.Contains(supportedTypes(), mt) {
					t.Errorf("%s is not in the 406's list %q", mt, supportedTypes())
				}
			}
			if !slices.Contains(strings.Split(formatNames(), ", "), string(f.name)) {
				t.Errorf("%s is not in the list of ?format= values %q", f.name, formatNames())
			}
		})
	}
	if w := serve("/ht/"); w.Header().Get("Content-Type") != formats[0].contentType[0] {
		t.Errorf("no Accept header: %q, want the first row's %q", w.Header().Get("Content-Type"), formats[0].contentType[0])
	}
}
