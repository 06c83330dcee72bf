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

// EntryOf is r as a history keeps it.
func EntryOf(r *Result) Entry {
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
	// up and total sum the spans between consecutive results in the ring
	// (up: those that start with a result not failing), kept as results
	// come and go, so that Uptime does not walk the ring: a page of 1,000
	// checks asks for every uptime on each render.
	up, total time.Duration
}

func newHistory(size int) *History {
	if size < 1 {
		size = 1
	}
	return &History{ring: make([]Entry, size)}
}

func (h *History) add(r *Result) { h.addEntry(EntryOf(r)) }

func (h *History) addEntry(e Entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.ring)
	if h.full {
		old := h.ring[h.next]
		if old.Status != Passing {
			h.failed = append(h.failed, old)
			if len(h.failed) > keptFailures {
				h.failed = append(h.failed[:0:0], h.failed[len(h.failed)-keptFailures:]...)
			}
		}
		if n > 1 { // the span from the oldest result to the next leaves the window
			h.count(old, h.ring[(h.next+1)%n], -1)
		}
	}
	if h.full || h.next > 0 {
		prev := h.ring[(h.next+n-1)%n]
		if n > 1 {
			h.count(prev, e, 1)
		}
		// A message the run before had too is kept once: the run's own
		// copy goes with its Result.
		if prev.Message == e.Message {
			e.Message = prev.Message
		}
	}
	h.ring[h.next] = e
	h.next = (h.next + 1) % n
	if h.next == 0 {
		h.full = true
	}
}

// count adds (sign 1) or removes (-1) the span from r to next in up and
// total: r's state holds until next ends.
func (h *History) count(r, next Entry, sign time.Duration) {
	span := max(next.Finished().Sub(r.Finished()), 0)
	h.total += sign * span
	if r.Status != Failing {
		h.up += sign * span
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

// Newest returns the ring's last run; false when it holds none.
func (h *History) Newest() (Entry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full && h.next == 0 {
		return Entry{}, false
	}
	return h.ring[(h.next+len(h.ring)-1)%len(h.ring)], true
}

// Results returns the ring's runs, oldest first.
func (h *History) Results() []Entry { return h.Recent(0) }

// Recent returns the ring's last n runs (all when n <= 0), oldest first.
// It copies only those n: the dashboard asks for 30 of each check's 100.
func (h *History) Recent(n int) []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	held := h.next
	if h.full {
		held = len(h.ring)
	}
	if n <= 0 || n > held {
		n = held
	}
	if n == 0 {
		return nil
	}
	out := make([]Entry, n)
	// The newest n end at h.next: copy the part before the wrap, then the rest.
	start := (h.next - n + len(h.ring)) % len(h.ring)
	if k := copy(out, h.ring[start:min(start+n, len(h.ring))]); k < n {
		copy(out[k:], h.ring[:n-k])
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
	h.mu.Lock()
	n := len(h.ring)
	last, held := h.ring[(h.next+n-1)%n], h.full || h.next > 0
	up, total := h.up, h.total
	h.mu.Unlock()
	if !held {
		return 0, 0
	}
	span := max(now.Sub(last.Finished()), 0) // the newest result holds until now
	total += span
	if last.Status != Failing {
		up += span
	}
	if total == 0 {
		if last.Status != Failing {
			return 1, 0
		}
		return 0, 0
	}
	return float64(up) / float64(total), total
}
