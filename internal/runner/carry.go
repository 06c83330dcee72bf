package runner

// Inherit carries over from old, the runner this one replaces on reload,
// the last result, the history and the flap-damping counters of every check
// whose name and type are unchanged, so a reload neither blanks the
// dashboard nor restarts an outage's count. A carried result is shown until
// the check's first run in this runner ends, but is never taken as fresh:
// the first probe after a reload joins that run. Call Inherit before Start.
func (r *Runner) Inherit(old *Runner) {
	if s := old.seq.Load(); s > r.seq.Load() {
		r.seq.Store(s) // Seq keeps increasing across the reload
	}
	for _, c := range r.checks {
		o := old.Lookup(c.Name)
		if o == nil || o.Type != c.Type {
			continue
		}
		o.mu.Lock()
		last, damp := o.last.Load(), o.damp
		o.mu.Unlock()
		c.mu.Lock()
		c.damp = damp
		if last != nil {
			c.last.Store(last)
			c.inherited.Store(true)
		}
		c.mu.Unlock()
		c.history.carry(o.history)
	}
}

// carry adds old's results to h, oldest first; a smaller h moves the
// failures that no longer fit to its kept failures, as usual.
func (h *History) carry(old *History) {
	kept, rs := old.KeptFailures(), old.Results()
	h.mu.Lock()
	h.failed = append(kept, h.failed...)
	if len(h.failed) > keptFailures {
		h.failed = h.failed[len(h.failed)-keptFailures:]
	}
	h.mu.Unlock()
	for _, e := range rs {
		h.addEntry(e)
	}
}
