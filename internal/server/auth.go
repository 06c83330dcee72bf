package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokens holds the SHA-256 of each server.auth.tokens entry. Comparing
// digests of equal length keeps the comparison's time independent of the
// tokens' lengths as well as their contents.
type tokens [][sha256.Size]byte

func newTokens(list []string) tokens {
	out := make(tokens, len(list))
	for i, t := range list {
		out[i] = sha256.Sum256([]byte(t))
	}
	return out
}

// check reports whether r carries `Authorization: Bearer <token>` with one of
// the tokens, and whether it presented a bearer token at all. Every token is
// compared, in constant time, without stopping at a match.
func (ts tokens) check(r *http.Request) (ok, presented bool) {
	return ts.checkValue(r.Header.Get("Authorization"))
}

// checkValue is check on the value of an Authorization header (or of gRPC's
// authorization metadata).
func (ts tokens) checkValue(v string) (ok, presented bool) {
	scheme, cred, found := strings.Cut(v, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return false, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	match := 0
	for _, t := range ts {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return match == 1, true
}

// authorize reports whether r may see check names and messages: always when
// no tokens are configured. For other callers it sets the headers that say
// credentials would change the answer.
func (st *State) authorize(w http.ResponseWriter, r *http.Request) bool {
	if len(st.tokens) == 0 {
		return true
	}
	w.Header().Add("Vary", "Authorization")
	ok, presented := st.tokens.check(r)
	if !ok {
		challenge := `Bearer realm="healthd"`
		if presented {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	return ok
}

// requireToken guards h (the /metrics handler): without a valid token, when
// tokens are configured, the answer is 401, since per-check series name the
// checks. Prometheus sends the token with `authorization: {credentials: …}`.
func (st *State) requireToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !st.authorize(w, r) {
			plain(w, http.StatusUnauthorized, "unauthorized: send Authorization: Bearer <token>")
			return
		}
		h.ServeHTTP(w, r)
	})
}
