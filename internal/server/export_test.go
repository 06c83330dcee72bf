package server

// ForgetBodies empties st's body cache, so that the next probe renders its
// body: the benchmarks measure rendering with it (bodycache.go).
func (st *State) ForgetBodies() {
	st.bodies.mu.Lock()
	st.bodies.entries = nil
	st.bodies.mu.Unlock()
}
