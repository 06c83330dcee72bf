package runner

import (
	"sync"
	"time"
)

// keptFailures is how many failures are kept after they leave the ring, so
// the last outages stay visible on a check that has passed for a long time.
const keptFailures = 10

// History is a bounded record of a check's results: the last N, plus the
// most recent failures that have aged out of them.
type History struct {
	mu     sync.Mutex
	ring   []*Result // oldest first once full; next is the write position
	next   int
	full   bool
	failed []*Result // aged-out failures, oldest first, at most keptFailures
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
	return &History{ring: make([]*Result, size)}
}

func (h *History) add(r *Result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.ring)
	if old := h.ring[h.next]; h.full && old != nil {
		if old.Status != Passing {
			h.failed = append(h.failed, old)
			if len(h.failed) > keptFailures {
				h.failed = h.failed[len(h.failed)-keptFailures:]
			}
		}
		if n > 1 { // the span from the oldest result to the next leaves the window
			h.count(old, h.ring[(h.next+1)%n], -1)
		}
	}
	if prev := h.ring[(h.next+n-1)%n]; n > 1 && prev != nil {
		h.count(prev, r, 1)
	}
	h.ring[h.next] = r
	h.next = (h.next + 1) % n
	if h.next == 0 {
		h.full = true
	}
}

// count adds (sign 1) or removes (-1) the span from r to next in up and
// total: r's state holds until next ends.
func (h *History) count(r, next *Result, sign time.Duration) {
	span := max(next.Finished().Sub(r.Finished()), 0)
	h.total += sign * span
	if r.Status != Failing {
		h.up += sign * span
	}
}

// Results returns the ring's results, oldest first.
func (h *History) Results() []*Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full {
		return append([]*Result(nil), h.ring[:h.next]...)
	}
	out := make([]*Result, 0, len(h.ring))
	out = append(out, h.ring[h.next:]...)
	return append(out, h.ring[:h.next]...)
}

// KeptFailures returns failures that aged out of the ring, oldest first.
func (h *History) KeptFailures() []*Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Result(nil), h.failed...)
}

// Uptime is the share of time, over the ring's window up to now, that the
// check was not failing (each result holds until the next one), and the
// window's length. With no results it is 0, 0.
func (h *History) Uptime(now time.Time) (float64, time.Duration) {
	h.mu.Lock()
	n := len(h.ring)
	last := h.ring[(h.next+n-1)%n]
	up, total := h.up, h.total
	h.mu.Unlock()
	if last == nil {
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
