package server

import (
	"net/http"
	"slices"
	"strings"
)

// Format names a response body format; it is the ?format= value.
type Format string

const (
	FormatHTML        Format = "html"
	FormatJSON        Format = "json"
	FormatHealth      Format = "health"      // application/health+json, healthjson.go
	FormatText        Format = "text"        // Kubernetes-style lines, text.go
	FormatOpenMetrics Format = "openmetrics" // openmetrics.go
)

// format is everything /ht/ knows about one body format. Adding a format
// is adding a row to formats; TestFormats_EveryRowIsServed walks them.
type format struct {
	name Format
	// media are the Accept media types answered with this format, matched
	// exactly against each Accept item in the client's order of q
	// (negotiate.go). Wildcards are listed where they belong: text/* and
	// */* get HTML, application/* gets JSON, as in the seed.
	media []string
	// contentType is the Content-Type header value, shared read-only (its
	// capacity equals its length, see hdrNoStore).
	contentType []string
	// render writes the body for a caller who may see the checks.
	render func(st *State, v view) (payload, error)
	// overall writes the body for a caller without a valid token (when
	// tokens are configured, auth.go): the overall status only, and that
	// healthd is shutting down while it drains. No check name, group list,
	// message, time or version appears.
	overall func(st *State, v view) ([]byte, error)
	// cached is whether a body is kept per result set (bodycache.go). It
	// must be false for a body that shows more than the results, such as
	// the process's counters.
	cached bool
	// page, for an HTML format, is the template whose security headers
	// (dashboard.setHeaders) go with the body; nil for other formats.
	page func(st *State, full bool) *dashboard
}

// formats is the table of body formats. The first row is the default: it
// answers a request with no (or an empty) Accept header.
var formats = []*format{
	{
		name:        FormatHTML,
		media:       []string{"text/html", "application/xhtml+xml", "text/*", "*/*"},
		contentType: header("text/html; charset=utf-8"),
		render:      whole((*State).renderHTML),
		overall:     (*State).renderMinimal,
		cached:      true,
		page: func(st *State, full bool) *dashboard {
			if full {
				return st.page
			}
			return st.minimal
		},
	},
	{
		name:        FormatJSON,
		media:       []string{"application/json", "application/*"},
		contentType: header("application/json"),
		render:      whole(func(_ *State, v view) ([]byte, error) { return renderJSON(v) }),
		overall:     func(_ *State, v view) ([]byte, error) { return renderJSONOverall(v) },
		cached:      true,
	},
	{
		name:        FormatHealth,
		media:       []string{"application/health+json"},
		contentType: header("application/health+json"),
		render:      (*State).renderHealthJSON,
		overall:     func(_ *State, v view) ([]byte, error) { return renderHealthJSONOverall(v) },
		cached:      true,
	},
	{
		name:        FormatText,
		media:       []string{"text/plain"},
		contentType: header("text/plain; charset=utf-8"),
		render:      whole(func(_ *State, v view) ([]byte, error) { return renderText(v), nil }),
		overall:     func(_ *State, v view) ([]byte, error) { return []byte(textVerdict(v)), nil },
		cached:      true,
	},
	{
		name:        FormatOpenMetrics,
		media:       []string{"application/openmetrics-text"},
		contentType: header("application/openmetrics-text; version=1.0.0; charset=utf-8"),
		render:      whole((*State).renderOpenMetrics),
		overall:     func(_ *State, v view) ([]byte, error) { return renderOpenMetricsOverall(v) },
		cached:      false, // it carries the process's run counters and durations
	},
}

func header(v string) []string { return []string{v}[:1:1] }

// whole adapts a renderer whose body is one slice.
func whole(render func(*State, view) ([]byte, error)) func(*State, view) (payload, error) {
	return func(st *State, v view) (payload, error) {
		b, err := render(st, v)
		return payload{b}, err
	}
}

// formatNamed returns the row for name, or nil.
func formatNamed(name Format) *format {
	for _, f := range formats {
		if f.name == name {
			return f
		}
	}
	return nil
}

// formatNames lists the ?format= values, sorted, for the 400 that names them.
func formatNames() string {
	names := make([]string, 0, len(formats))
	for _, f := range formats {
		names = append(names, string(f.name))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// supportedTypes is the list shown in a 406: every media type answered
// that is not a wildcard, in table order.
func supportedTypes() string {
	var out []string
	for _, f := range formats {
		for _, m := range f.media {
			if !strings.Contains(m, "*") {
				out = append(out, m)
			}
		}
	}
	return strings.Join(out, ", ")
}

// render writes v in format f, as much as the caller may see.
func (st *State) render(f *format, v view) (payload, error) {
	if !v.full {
		b, err := f.overall(st, v)
		return payload{b}, err
	}
	return f.render(st, v)
}

// setFormatHeaders sets the headers of a body in format f.
func (st *State) setFormatHeaders(h http.Header, f *format, full bool) {
	h["Content-Type"] = f.contentType
	h["X-Content-Type-Options"] = hdrNosniff
	if f.page != nil {
		f.page(st, full).setHeaders(h)
	}
}
