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
	if old := h.ring[h.next]; h.full && old != nil && old.Status != Passing {
		h.failed = append(h.failed, old)
		if len(h.failed) > keptFailures {
			h.failed = h.failed[len(h.failed)-keptFailures:]
		}
	}
	h.ring[h.next] = r
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.full = true
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
