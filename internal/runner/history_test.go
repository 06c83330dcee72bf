package runner

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/healthd/healthd/internal/checks"
)

func TestHistory_BoundedRingKeepsAgedOutFailures(t *testing.T) {
	h := newHistory(5)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 40; i++ {
		st := Passing
		if i == 2 || i == 3 || i == 30 {
			st = Failing
		}
		h.add(&Result{Status: st, Started: t0.Add(time.Duration(i) * time.Second), Seq: uint64(i)})
	}
	rs := h.Results()
	if len(rs) != 5 || rs[0].Seq != 35 || rs[4].Seq != 39 {
		t.Fatalf("ring holds %d results, first %d last %d; want 5 from 35 to 39", len(rs), rs[0].Seq, rs[len(rs)-1].Seq)
	}
	kept := h.KeptFailures()
	if len(kept) != 3 || kept[0].Seq != 2 || kept[1].Seq != 3 || kept[2].Seq != 30 {
		t.Fatalf("kept failures: %v", kept)
	}
	for i := 0; i < 50; i++ {
		h.add(&Result{Status: Failing, Seq: uint64(100 + i)})
	}
	if n := len(h.KeptFailures()); n != keptFailures {
		t.Errorf("kept failures not bounded: %d", n)
	}
}

func TestHistory_UptimeIsTimeWeighted(t *testing.T) {
	h := newHistory(10)
	t0 := time.Unix(1000, 0)
	h.add(&Result{Status: Passing, Started: t0})
	h.add(&Result{Status: Failing, Started: t0.Add(30 * time.Second)}) // up 30s
	h.add(&Result{Status: Passing, Started: t0.Add(40 * time.Second)}) // down 10s
	up, window := h.Uptime(t0.Add(100 * time.Second))                  // up 60s more
	if window != 100*time.Second || up != 0.9 {
		t.Errorf("uptime %v over %v, want 0.9 over 100s", up, window)
	}
	if u, w := newHistory(3).Uptime(t0); u != 0 || w != 0 {
		t.Errorf("empty history: %v %v", u, w)
	}
}

// Uptime keeps running sums as results come and leave the ring; they must
// equal the sum over the ring's results, whatever the ring's size, with
// results out of order (a clock step) and with a ring that wrapped many times.
func TestHistory_UptimeEqualsTheSumOverTheRing(t *testing.T) {
	walk := func(rs []Entry, now time.Time) (float64, time.Duration) {
		var up, total time.Duration
		for i, r := range rs {
			end := now
			if i+1 < len(rs) {
				end = rs[i+1].Finished()
			}
			span := max(end.Sub(r.Finished()), 0)
			total += span
			if r.Status != Failing {
				up += span
			}
		}
		if total == 0 {
			if rs[len(rs)-1].Status != Failing {
				return 1, 0
			}
			return 0, 0
		}
		return float64(up) / float64(total), total
	}
	t0 := time.Unix(1000, 0)
	for _, size := range []int{1, 2, 3, 7, 100} {
		h := newHistory(size)
		for i := range 250 {
			st := []Status{Passing, Passing, Failing, Warning, Passing}[i*7%5]
			at := t0.Add(time.Duration(i*i%97) * time.Second) // not monotonic: spans below 0 count as 0
			h.add(&Result{Status: st, Started: at, Duration: time.Duration(i%3) * time.Millisecond})
			now := at.Add(time.Duration(i%4) * time.Second)
			gotUp, gotWindow := h.Uptime(now)
			wantUp, wantWindow := walk(h.Results(), now)
			if gotUp != wantUp || gotWindow != wantWindow {
				t.Fatalf("size %d, after %d results: uptime %v over %v, want %v over %v", size, i+1, gotUp, gotWindow, wantUp, wantWindow)
			}
		}
	}
}

// The ring keeps what pages show of each run and a message repeated from
// the run before once: a thousand checks' full histories stay small.
func TestHistory_EntriesKeepWhatPagesShow(t *testing.T) {
	h := newHistory(3)
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		msg := strings.Repeat("x", 10) // a new string each run, equal to the last
		h.add(&Result{Status: Failing, Kind: checks.KindUnavailable, Message: msg, Started: t0.Add(time.Duration(i) * time.Second),
			Duration: 5 * time.Millisecond, Seq: uint64(i), Observations: []checks.Observation{{Measurement: "x"}}})
	}
	rs := h.Results()
	if len(rs) != 3 || rs[2].Seq != 3 || rs[2].Kind != checks.KindUnavailable || rs[2].Duration != 5*time.Millisecond ||
		!rs[2].Finished().Equal(t0.Add(3*time.Second+5*time.Millisecond)) {
		t.Fatalf("entries: %+v", rs)
	}
	if unsafe.StringData(rs[1].Message) != unsafe.StringData(rs[2].Message) {
		t.Error("a message repeated from the run before is stored twice")
	}
	if got := h.Recent(2); len(got) != 2 || got[0].Seq != 2 {
		t.Errorf("Recent(2) = %+v", got)
	}
	if h.Len() != 3 {
		t.Errorf("Len = %d", h.Len())
	}
	if n := unsafe.Sizeof(Entry{}); n > 56 {
		t.Errorf("an entry takes %d bytes, want at most 56", n)
	}
}

// Recent copies only the runs asked for, wherever the ring's write position
// is: the newest n, oldest first.
func TestHistory_RecentAcrossTheWrap(t *testing.T) {
	for size := 1; size <= 5; size++ {
		for added := 0; added <= 12; added++ {
			h := newHistory(size)
			for i := range added {
				h.add(&Result{Status: Passing, Seq: uint64(i)})
			}
			held := min(added, size)
			for n := -1; n <= size+1; n++ {
				want := held
				if n > 0 && n < held {
					want = n
				}
				got := h.Recent(n)
				if len(got) != want {
					t.Fatalf("size %d, %d added: Recent(%d) holds %d runs, want %d", size, added, n, len(got), want)
				}
				for i, e := range got {
					if seq := uint64(added - want + i); e.Seq != seq {
						t.Fatalf("size %d, %d added: Recent(%d)[%d] is run %d, want %d", size, added, n, i, e.Seq, seq)
					}
				}
			}
		}
	}
}
