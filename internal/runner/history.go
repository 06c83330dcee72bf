package runner

import (
	"sync"
	"time"

	"github.com/healthd/healthd/internal/checks"
)

// keptFailures is how many failures are kept after they leave the ring, so
// the last outages stay visible on a check that has passed for a long time.
const keptFailures = 10

// Entry is one run as the history keeps it: what pages show of a past run,
// in 56 bytes and no pointer but the message's, rather than the run's whole
// Result (its observations, its raw state). With 1,000 checks keeping 100
// runs each, that is the difference between a few megabytes and tens.
type Entry struct {
	Status   Status
	Kind     checks.Kind
	Message  string
	Seq      uint64
	Duration time.Duration
	finished int64 // Unix nanoseconds
}

// Finished is when the run ended.
func (e Entry) Finished() time.Time { return time.Unix(0, e.finished) }

func entryOf(r *Result) Entry {
	return Entry{Status: r.Status, Kind: r.Kind, Message: r.Message, Seq: r.Seq, Duration: r.Duration, finished: r.Finished().UnixNano()}
}

// History is a bounded record of a check's results: the last N, plus the
// most recent failures that have aged out of them.
type History struct {
	mu     sync.Mutex
	ring   []Entry // oldest first once full; next is the write position
	next   int
	full   bool
	failed []Entry // aged-out failures, oldest first, at most keptFailures
}

func newHistory(size int) *History {
	if size < 1 {
		size = 1
	}
	return &History{ring: make([]Entry, size)}
}

func (h *History) add(r *Result) { h.addEntry(entryOf(r)) }

func (h *History) addEntry(e Entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.ring[h.next]; h.full && old.Status != Passing {
		h.failed = append(h.failed, old)
		if len(h.failed) > keptFailures {
			h.failed = append(h.failed[:0:0], h.failed[len(h.failed)-keptFailures:]...)
		}
	}
	// A message the run before had too is kept once: the run's own copy
	// goes with its Result.
	if prev := h.ring[(h.next+len(h.ring)-1)%len(h.ring)]; prev.Message == e.Message {
		e.Message = prev.Message
	}
	h.ring[h.next] = e
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.full = true
	}
}

// Len is how many runs the ring holds.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.full {
		return len(h.ring)
	}
	return h.next
}

// Results returns the ring's runs, oldest first.
func (h *History) Results() []Entry { return h.Recent(0) }

// Recent returns the ring's last n runs (all when n <= 0), oldest first.
func (h *History) Recent(n int) []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Entry
	if !h.full {
		out = append(out, h.ring[:h.next]...)
	} else {
		out = make([]Entry, 0, len(h.ring))
		out = append(out, h.ring[h.next:]...)
		out = append(out, h.ring[:h.next]...)
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// KeptFailures returns failures that aged out of the ring, oldest first.
func (h *History) KeptFailures() []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Entry(nil), h.failed...)
}

// Uptime is the share of time, over the ring's window up to now, that the
// check was not failing (each result holds until the next one), and the
// window's length. With no results it is 0, 0.
func (h *History) Uptime(now time.Time) (float64, time.Duration) {
	rs := h.Results()
	if len(rs) == 0 {
		return 0, 0
	}
	var up, total time.Duration
	for i, r := range rs {
		end := now
		if i+1 < len(rs) {
			end = rs[i+1].Finished()
		}
		span := end.Sub(r.Finished())
		if span < 0 {
			span = 0
		}
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
