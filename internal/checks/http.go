package checks

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// HTTP passes when a GET (or HEAD) of a URL answers with an expected status
// and, optionally, a body containing a given string and a JSON body whose
// fields meet expectations. One client, and so one pool of keep-alive
// connections, serves every probe.
type HTTP struct {
	url      string
	shown    string // scheme://host/path: no userinfo, no query
	method   string
	statuses []statusRange
	body     string
	json     []jsonExpectation
	timeout  time.Duration
	client   *http.Client
	release  func() error // lets go of the shared transport
}

type statusRange struct{ lo, hi int }

const (
	httpMaxRedirects = 5
	httpMaxBody      = 1 << 20 // read at most this much for expect_body and expect_json
)

type httpConfig struct {
	URL          string            `key:"url" required:"true" doc:"http:// or https:// URL; user:password@ in it is sent as basic auth"`
	ExpectStatus statusList        `key:"expect_status" default:"200-399" doc:"a status code (200), a range (\"200-299\"), or a list of them"`
	ExpectBody   string            `key:"expect_body" doc:"a substring the body must contain (in its first 1 MiB); not with HEAD"`
	Method       string            `key:"method" doc:"GET or HEAD (in any case); HEAD cannot check expect_body"`
	ExpectJSON   []jsonExpectation `key:"expect_json" doc:"expectations on fields of a JSON body (at most 1 MiB), each a path with equals or thresholds; numbers are observations"`

	method string // Method in capitals, set by Validate
	shown  string // scheme://host/path: no userinfo, no query
}

func newHTTPConfig(Settings) Config {
	return &httpConfig{ExpectStatus: statusList{{200, 399}}, Method: http.MethodGet}
}

func (c *httpConfig) Validate() error {
	var p Problems
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			// url.Parse's error quotes the URL, password and all.
			p.Add("url", "is not a valid URL")
		case u.Scheme != "http" && u.Scheme != "https":
			p.Add("url", "must start with http:// or https://")
		case u.Host == "":
			p.Add("url", "must name a host, such as http://127.0.0.1:8000/ht/")
		default:
			c.shown = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
		}
	}
	c.method = strings.ToUpper(c.Method)
	if c.method != http.MethodGet && c.method != http.MethodHead {
		p.Add("method", "must be GET or HEAD, not %q", c.method)
	}
	if c.ExpectBody != "" && c.method == http.MethodHead {
		p.Add("expect_body", "cannot be checked with method HEAD, which has no body")
	}
	if len(c.ExpectJSON) > 0 && c.method == http.MethodHead {
		p.Add("expect_json", "cannot be checked with method HEAD, which has no body")
	}
	for i := range c.ExpectJSON {
		c.ExpectJSON[i].validate(&p, fmt.Sprintf("expect_json[%d].", i))
	}
	return p.Err()
}

func (c *httpConfig) Build(env Env) (Checker, error) {
	h := &HTTP{
		url:      c.URL,
		shown:    c.shown,
		method:   c.method,
		statuses: c.ExpectStatus,
		body:     c.ExpectBody,
		json:     c.ExpectJSON,
		timeout:  env.Timeout,
	}
	// The transport holds no credentials (a URL's user:password is sent
	// per request) and nothing of the check but its timeout, so every http
	// check of one timeout shares one: 200 checks of one app keep a few
	// idle connections to it, not 200 (and 400 goroutines serving them).
	transport, release, err := Share(env.Clients, "http", []string{env.Timeout.String()}, func() (idleTransport, error) {
		return idleTransport{&http.Transport{
			Proxy:             http.ProxyFromEnvironment,
			DialContext:       (&net.Dialer{Timeout: env.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2: true,
			// As many idle connections per server as runs may be in
			// progress against it (the runner's default
			// max_runs_per_target), so steady probing opens none.
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   env.Timeout, // ctx bounds every phase as well
			ResponseHeaderTimeout: env.Timeout,
		}}, nil
	})
	if err != nil {
		return nil, err
	}
	h.release = release
	h.client = &http.Client{
		Transport: transport.Transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > httpMaxRedirects {
				return fmt.Errorf("stopped after %d redirects", httpMaxRedirects)
			}
			return nil
		},
	}
	return h, nil
}

// statusList is expect_status: a code (200), a range ("200-399"), or a
// list of them.
type statusList []statusRange

// DecodeParam implements ParamDecoder.
func (l *statusList) DecodeParam(v any, errorf func(suffix, format string, args ...any)) {
	items, isList := v.([]any)
	if !isList {
		items = []any{v}
	} else if len(items) == 0 {
		errorf("", "must not be an empty list")
	}
	var out statusList
	for i, it := range items {
		suffix := ""
		if isList {
			suffix = fmt.Sprintf("[%d]", i)
		}
		r, ok := parseStatus(it)
		if !ok {
			errorf(suffix, "must be a status code such as 200, a range such as \"200-399\", or a list of them, not %s", describeStatus(it))
			continue
		}
		out = append(out, r)
	}
	*l = out
}

// ParamKind names expect_status's values in the docs' key table.
func (*statusList) ParamKind() string { return "status, range or list of them" }

// ParamSchema implements ParamDecoder.
func (*statusList) ParamSchema() map[string]any {
	code := map[string]any{"type": "integer", "minimum": 100, "maximum": 599}
	codeOrRange := map[string]any{"type": "string", "pattern": `^\s*[1-5][0-9][0-9]\s*(-\s*[1-5][0-9][0-9]\s*)?$`}
	return map[string]any{"anyOf": []any{
		code,
		codeOrRange,
		map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"anyOf": []any{code, codeOrRange}}},
	}}
}

func parseStatus(v any) (statusRange, bool) {
	valid := func(n int) bool { return n >= 100 && n <= 599 }
	switch t := v.(type) {
	case int:
		return statusRange{t, t}, valid(t)
	case float64:
		n := int(t)
		return statusRange{n, n}, float64(n) == t && valid(n)
	case string:
		lo, hi, isRange := strings.Cut(strings.TrimSpace(t), "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		return statusRange{a, b}, err1 == nil && err2 == nil && valid(a) && valid(b) && a <= b
	}
	return statusRange{}, false
}

func describeStatus(v any) string {
	switch t := v.(type) {
	case int, float64:
		return fmt.Sprint(t)
	}
	return describe(v)
}

func (h *HTTP) expected() string {
	parts := make([]string, len(h.statuses))
	for i, r := range h.statuses {
		if r.lo == r.hi {
			parts[i] = strconv.Itoa(r.lo)
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.lo, r.hi)
		}
	}
	return strings.Join(parts, ", ")
}

// Check sends one request with ctx, follows up to 5 redirects, and checks
// the final status and, when configured, the first MiB of the body.
func (h *HTTP) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, nil)
	if err != nil {
		return Unavailable("cannot build the request (%s)", h.shown)
	}
	req.Header.Set("User-Agent", "healthd")
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return h.failure(ctx, err)
	}
	defer resp.Body.Close()

	ok := false
	for _, r := range h.statuses {
		ok = ok || (resp.StatusCode >= r.lo && resp.StatusCode <= r.hi)
	}
	if !ok {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return Unexpected("status %d, expected %s (%s)", resp.StatusCode, h.expected(), h.shown)
	}
	if h.body != "" || len(h.json) > 0 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, httpMaxBody+1))
		if err != nil {
			return h.failure(ctx, err)
		}
		whole := len(b) <= httpMaxBody
		b = b[:min(len(b), httpMaxBody)]
		if h.body != "" && !strings.Contains(string(b), h.body) {
			return Unexpected("response body does not contain %q (%s)", h.body, h.shown)
		}
		if len(h.json) > 0 {
			if !whole {
				return Unexpected("response body is over 1 MiB, more than expect_json reads (%s)", h.shown)
			}
			if err := h.judgeJSON(ctx, b); err != nil {
				return err
			}
		}
	} else {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	Observe(ctx, "responseTime", ms, "ms")
	Note(ctx, "status %d in %.1f ms", resp.StatusCode, ms)
	return nil
}

// jsonExpectation is one item of expect_json: a path into the body and
// what the value there must be.
type jsonExpectation struct {
	Path             string `key:"path" required:"true" doc:"where the value is, in GJSON path syntax: status, checks.db.latency_ms, services.#(name==\"db\").status"`
	valueExpectation        // equals, warn_above… measurement, unit
}

// judgeJSON applies every expect_json item to body; the worst failure (a
// failure beats a warning) is the run's. Every number found is observed,
// whatever the other items say.
func (h *HTTP) judgeJSON(ctx context.Context, body []byte) error {
	if !gjson.ValidBytes(body) {
		return Unexpected("response body is not JSON (%s)", h.shown)
	}
	where := " (" + h.shown + ")"
	var worst error
	for _, e := range h.json {
		r := gjson.GetBytes(body, e.Path)
		var err error
		switch {
		case !r.Exists():
			err = Unexpected("no %s in the JSON body%s", e.Path, where)
		case r.Type == gjson.Null:
			err = Unexpected("%s is null%s", e.Path, where)
		case r.Type == gjson.Number:
			err = e.judge(ctx, e.Path, where, judgedValue{text: r.String(), num: r.Num, isNumber: true})
		case r.Type == gjson.String:
			err = e.judge(ctx, e.Path, where, numberValue(r.Str))
		default: // true, false, an object or an array: its JSON text
			err = e.judge(ctx, e.Path, where, judgedValue{text: r.String()})
		}
		worst = worse(worst, err)
	}
	return worst
}

// failure words a failed request: a network failure in the shared
// vocabulary, naming the host:port it failed on (a redirect's target, if it
// got that far); anything else (too many redirects) naming the URL. The
// transport's own limits (TLS handshake, response headers) are as long as
// the check's timeout, so they read as "timed out after <timeout>" too.
func (h *HTTP) failure(ctx context.Context, err error) error {
	where := h.shown
	if u, perr := url.Parse(h.url); perr == nil {
		where = hostPort(u)
	}
	if nf := netFailure(ctx, err, h.timeout, requestAddr(err, where)); nf != nil {
		return nf
	}
	return otherFailure(err, h.shown)
}

// Close lets go of the shared transport; the last check to let go drops
// its idle keep-alive connections.
func (h *HTTP) Close() error { return h.release() }

// CloseIdleConnections drops the shared transport's idle connections now,
// as http.Client's does, without letting go of the transport.
func (h *HTTP) CloseIdleConnections() { h.client.CloseIdleConnections() }

// idleTransport is a transport as a shared client: closing it drops its
// idle connections.
type idleTransport struct{ *http.Transport }

func (t idleTransport) Close() error {
	t.CloseIdleConnections()
	return nil
}
