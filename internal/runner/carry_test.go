package runner_test

import (
	"context"
	"testing"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
)

func TestRunner_InheritCarriesHistoryAndDampingOfUnchangedChecks(t *testing.T) {
	oldCfg := load(t, `
defaults: {cache_ttl: 0s, max_stale: 0s}
checks:
  - {name: db, type: fake, fail: down, failures_before_critical: 3, history: 5}
  - {name: gone, type: fake}
`)
	old := newRunner(t, oldCfg, runner.Options{})
	db := old.Lookup("db")
	for range 7 { // the ring of 5 keeps the last 5 and the 2 failures before
		old.Run(context.Background(), []*runner.Check{db})
	}
	if got := db.Last(); got.Status != runner.Failing {
		t.Fatalf("old runner: %v %q", got.Status, got.Message)
	}
	lastOld := db.Last()

	newCfg := load(t, `
defaults: {cache_ttl: 1h}
checks:
  - {name: db, type: fake, fail: still down, failures_before_critical: 3, history: 3}
  - {name: cache, type: fake}
`)
	r := newRunner(t, newCfg, runner.Options{})
	r.Inherit(old)
	ndb := r.Lookup("db")
	if ndb.Last() != lastOld {
		t.Fatalf("last result not carried over")
	}
	if n := len(ndb.History().Results()); n != 3 {
		t.Errorf("carried history holds %d results, want the new size 3", n)
	}
	if n := len(ndb.History().KeptFailures()); n != 4 {
		t.Errorf("kept failures: %d, want the 2 the old ring dropped plus the 2 the smaller ring drops", n)
	}
	if r.Lookup("cache").Last() != nil {
		t.Errorf("a new check has a result before running")
	}

	// The carried result is never fresh: the first probe runs the new check,
	// and the damping counters carried on (still critical, no warning).
	res := r.Run(context.Background(), []*runner.Check{ndb})[0].Result
	if res == lastOld || res.Status != runner.Failing || res.Message != "unavailable: still down" {
		t.Errorf("first probe after reload: %v %q", res.Status, res.Message)
	}
	if res.Seq <= lastOld.Seq {
		t.Errorf("Seq went back across the reload: %d after %d", res.Seq, lastOld.Seq)
	}
}

func TestRunner_InheritSkipsChecksWhoseTypeChanged(t *testing.T) {
	old := newRunner(t, load(t, "checks: [{name: db, type: fake, fail: down}]"), runner.Options{})
	old.Run(context.Background(), old.Checks())
	other := checkstest.Type
	other.Name = "other"
	cfg, err := config.Parse("new.yaml", []byte("checks: [{name: db, type: other}]"), config.Options{Registry: checkstest.Registry().MustRegister(other)})
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, cfg, runner.Options{})
	r.Inherit(old)
	if r.Lookup("db").Last() != nil || len(r.Lookup("db").History().Results()) != 0 {
		t.Errorf("a check that changed type kept the old one's results")
	}
}

func TestChanged(t *testing.T) {
	p, w, f := &runner.Result{Status: runner.Passing}, &runner.Result{Status: runner.Warning}, &runner.Result{Status: runner.Failing}
	cases := []struct {
		prev, cur *runner.Result
		want      bool
	}{
		{nil, p, false}, {nil, w, true}, {nil, f, true},
		{p, p, false}, {p, f, true}, {f, p, true}, {p, w, true}, {w, f, true}, {f, f, false},
	}
	for _, c := range cases {
		if got := runner.Changed(c.prev, c.cur); got != c.want {
			t.Errorf("Changed(%v, %v) = %v", c.prev, c.cur.Status, got)
		}
	}
}
