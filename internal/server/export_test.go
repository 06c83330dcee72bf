package server

// ForgetBodies empties st's body cache, so that the next probe renders its
// body; with histories, it also forgets the health+json histories kept per
// check, so that the next one writes everything again. The benchmarks
// measure rendering with it (bodycache.go, healthjson.go).
func (st *State) ForgetBodies(histories bool) {
	st.bodies.entries.m.Store(nil)
	if histories {
		for _, p := range st.histories {
			p.Store(nil)
		}
	}
}
