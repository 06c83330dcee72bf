package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
)

// Every ?check= combination is a selection of its own; however many a
// client asks for, the cache keeps at most bodyCacheSize of them, and the
// Accept cache at most acceptCacheSize headers.
func TestBodyCache_IsBounded(t *testing.T) {
	var yaml strings.Builder
	yaml.WriteString("defaults: {cache_ttl: 1h}\nchecks:\n")
	for i := range 12 {
		fmt.Fprintf(&yaml, "  - {name: c%d, type: fake}\n", i)
	}
	cfg, err := config.Parse("test.yaml", []byte(yaml.String()), config.Options{Registry: checkstest.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Run(context.Background(), r.Checks())
	s := New(Options{})
	st, err := s.NewState(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(st)
	for mask := 1; mask < 1<<12; mask += 7 {
		var names []string
		for i := range 12 {
			if mask&(1<<i) != 0 {
				names = append(names, fmt.Sprintf("c%d", i))
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/ht/?check="+strings.Join(names, ","), nil)
		req.Header.Set("Accept", fmt.Sprintf("application/json;q=0.%d", 1+mask%9))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"c`) {
			t.Fatalf("%s: %d %s", req.URL, w.Code, w.Body)
		}
	}
	if n := st.bodies.len(); n > bodyCacheSize {
		t.Errorf("%d bodies cached, want at most %d", n, bodyCacheSize)
	}
	if n := len(st.accepts.m.load()); n > acceptCacheSize {
		t.Errorf("%d Accept headers cached, want at most %d", n, acceptCacheSize)
	}
}

// TestBodyCache_KeepsTheSelectionInUse: when the cache is full, an insert
// drops a selection not used since an earlier insert, never the one a
// prober keeps asking for, so a dashboard open beside a crawler of ?check=
// permutations is not rendered again for every permutation.
func TestBodyCache_KeepsTheSelectionInUse(t *testing.T) {
	var c bodyCache
	f := formatNamed(FormatJSON)
	renders := map[string]int{}
	get := func(name string) {
		t.Helper()
		v := view{snaps: []runner.Snapshot{{Check: &runner.Check{Check: config.Check{Name: name}}, Result: &runner.Result{Seq: 1}}}, scope: defaultScope, full: true}
		body, err := c.body(f, v, func() (payload, error) {
			renders[name]++
			return payload{[]byte(name)}, nil
		})
		if err != nil || string(body[0]) != name {
			t.Fatalf("%s: body %q, %v", name, body, err)
		}
	}
	for i := range 3 * bodyCacheSize {
		get("hot")
		get(fmt.Sprintf("crawl-%d", i))
	}
	if renders["hot"] != 1 {
		t.Errorf("the selection in use was rendered %d times, want once", renders["hot"])
	}
	if n := c.len(); n != bodyCacheSize {
		t.Errorf("%d selections cached, want %d", n, bodyCacheSize)
	}
	get("crawl-0") // dropped long ago
	if renders["crawl-0"] != 2 {
		t.Errorf("an old selection was rendered %d times, want twice", renders["crawl-0"])
	}
}
