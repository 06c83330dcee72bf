package server

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/healthd/healthd/internal/runner"
)

// serveCheck answers /ht/check/{name}/: the one check called name.
func (st *State) serveCheck(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	c := st.Runner.Lookup(name)
	if c == nil {
		full := st.authorize(w, r)
		msg := fmt.Sprintf("unknown check %q", truncate(name, 64))
		if full {
			msg += "; known checks: " + strings.Join(st.checkNames(), ", ")
		}
		plain(w, http.StatusNotFound, msg)
		return
	}
	st.serveChecks(w, r, []*runner.Check{c}, "", c.Name)
}

// filter applies ?check=a,b (keep only these) and ?skip=c (leave these out)
// to sel; both may repeat. It returns a message for a 400 when a name is
// not a configured check or when nothing is left to run. Only an
// authorised caller (full) is told the known names.
func (st *State) filter(q url.Values, sel []*runner.Check, full bool) ([]*runner.Check, string) {
	only, skip := names(q["check"]), names(q["skip"])
	if len(only) == 0 && len(skip) == 0 {
		return sel, ""
	}
	var unknown []string
	for _, n := range append(append([]string(nil), only...), skip...) {
		if st.Runner.Lookup(n) == nil {
			unknown = append(unknown, fmt.Sprintf("%q", truncate(n, 64)))
		}
	}
	if len(unknown) > 0 {
		msg := "unknown check " + strings.Join(unknown, ", ")
		if full {
			msg += "; known checks: " + strings.Join(st.checkNames(), ", ")
		}
		return nil, msg
	}
	keep := func(c *runner.Check) bool {
		if len(only) > 0 && !contains(only, c.Name) {
			return false
		}
		return !contains(skip, c.Name)
	}
	var out []*runner.Check
	for _, c := range sel {
		if keep(c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, "?check and ?skip leave no check to run here"
	}
	return out, ""
}

// names splits comma-separated values, dropping empty ones.
func names(values []string) []string {
	var out []string
	for _, v := range values {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (st *State) checkNames() []string {
	out := make([]string, 0, len(st.Runner.Checks()))
	for _, c := range st.Runner.Checks() {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}
