package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/web/templates"
)

// Page is the data handed to the dashboard template (and to a custom one
// named by server.template). docs/dashboard.md documents every field; keep
// it in step.
type Page struct {
	Title    string    // "System status"
	Host     string    // the machine's host name
	Version  string    // healthd's version
	Group    string    // the group this page shows; "" for all checks
	Taken    time.Time // when the page was rendered (results are at most Row.Age older)
	Overall  Overall
	Checks   []Row // in config order
	Refresh  int   // seconds between in-place refreshes; 0 disables them
	JSONPath string

	// Problems are the failing checks, then the warning ones, each in
	// config order: the built-in page shows them in full, first.
	Problems []Row
	// Groups sums the checks up by group, in config order of each group's
	// first check. A check counts in each of its groups; the checks in no
	// group make a last entry named "".
	Groups []Group
	// Expanded is true for a small page (at most ExpandedChecks checks):
	// the built-in page then shows the passing checks' groups open.
	Expanded bool
}

// ExpandedChecks is the most checks a page may have for the built-in page
// to open its groups of passing checks: beyond it, they start closed.
const ExpandedChecks = 20

// Group is one group's line in the summary, and its passing checks.
type Group struct {
	Name   string // "" for the checks in no group
	Status string // worst state of its checks (their own: a non-critical failure is failing)
	Icon   string // ✓ ! ✗, for Status
	// Passing, Warnings and Failing count its checks by state.
	Passing, Warnings, Failing int
	Passed                     []Row // its passing checks, in config order
}

// Overall is the page's headline.
type Overall struct {
	Status string // worst state of the checks: passing, warning, failing (a non-critical failure counts as a warning)
	// Verdict is the answer, as the status code says it: passing (200,
	// every check passes), warning (200, a check warns or a non-critical
	// check fails) or failing (the failure status). The built-in page
	// carries it as data-healthd-status="…", the keyword-check marker.
	Verdict  string
	Icon     string // ✓ ! ✗, for Verdict
	Word     string // Healthy or Unhealthy, as the HTTP status says
	Summary  string // "all checks passing", "2 failing, 1 warning", or "healthd is shutting down"
	OK       bool   // the answer is 200: every critical check passes and healthd is not shutting down
	Draining bool   // healthd is shutting down: the answer fails whatever the checks say
	Failing  int
	Warnings int
	Passing  int
}

// Row is one check on the page.
type Row struct {
	Name     string
	Type     string
	Status   string // passing, warning, failing
	Icon     string // ✓ ! ✗, so a state never relies on colour alone
	Message  string // the failure text, a passing run's note, or "working"
	Critical bool
	Groups   []string
	Duration string    // time the run took, "12ms"
	Age      string    // how old the result is, "3.2s"
	Taken    time.Time // when the run ended

	// Runs is History in stretches of results with the same state and
	// message, oldest first: the built-in page draws one element per run,
	// not per result.
	Runs []Run
	// Recent says History in words, oldest first, for screen readers:
	// "27 passing, 2 failing, 1 passing".
	Recent string
	// Earlier are failures that aged out of the history ring, oldest first.
	Earlier []Cell
	// Kept is how many results the history holds (the uptime window).
	Kept int
	// Uptime is the share of the window the check was not failing, as
	// "99.5%"; Window is the window's length, "16m40s". Both are "" without
	// history.
	Uptime string
	Window string

	strip []runner.Entry // History's results
	now   time.Time      // the page's Taken
}

// History is the strip of recent results, oldest first (at most
// StripCells of them); empty before a check has run. It is made when a
// template asks for it: the built-in page draws Runs instead.
func (r Row) History() []Cell {
	cells := make([]Cell, 0, len(r.strip))
	for _, res := range r.strip {
		cells = append(cells, cell(res, r.now))
	}
	return cells
}

// Cell is one past result in a history strip.
type Cell struct {
	Status   string // passing, warning, failing
	Icon     string
	Taken    time.Time // when the run ended
	When     string    // Taken as "15:04:05 UTC" (with the date when not today)
	Duration string
	Message  string
	Seq      uint64 // unique per result: a stable key for the page's script
}

// Run is a stretch of consecutive results in a history strip with the same
// state and message; passing results make one run whatever their notes,
// and Message is the newest.
type Run struct {
	Status string // passing, warning, failing
	Icon   string
	Count  int
	// Bars has one block character per result, its height telling the
	// state (▂ passing, ▅ warning, █ failing), so the strip does not rely
	// on colour.
	Bars     string
	From, To string // when the first and the last result ended, as Cell.When
	Took     string // the run's duration, or its shortest and longest: "1ms to 3ms"
	Message  string
	Seq      uint64 // the first result's Seq: a stable key for the page's script
}

// StripCells is how many of a check's latest results the page shows.
const StripCells = 30

var icons = map[runner.Status]string{runner.Passing: "✓", runner.Warning: "!", runner.Failing: "✗"}

// bars are the strip's block characters: a state's height is its shape.
var bars = map[runner.Status]string{runner.Passing: "▂", runner.Warning: "▅", runner.Failing: "█"}

// verdictIcons are the headline's icons, by verdict.
var verdictIcons = map[string]string{"passing": "✓", "warning": "!", "failing": "✗"}

func (st *State) pageData(v view) Page {
	snaps, o := v.snaps, v.overall
	now := referenceTime(snaps) // not the clock: the body is cached (bodycache.go)
	p := Page{
		Title:    "System status",
		Host:     st.proc.host,
		Version:  st.proc.opts.Version,
		Group:    v.group,
		Taken:    now,
		Refresh:  int(st.Config.Server.Refresh / time.Second),
		JSONPath: "?format=json",
		Overall: Overall{
			Status: o.Status.String(), Verdict: verdict(v), OK: v.ok, Draining: v.draining,
			Failing: o.Failing, Warnings: o.Warnings, Passing: len(snaps) - o.Failing - o.Warnings, Word: "Healthy",
		},
		Expanded: len(snaps) <= ExpandedChecks,
	}
	p.Overall.Icon = verdictIcons[p.Overall.Verdict]
	if st.Config.Server.Refresh > 0 && p.Refresh == 0 {
		p.Refresh = 1
	}
	if !v.ok {
		p.Overall.Word = "Unhealthy"
	}
	p.Overall.Summary = summary(snaps, o)
	if v.draining { // the counts would read as a healthy page beside a 503
		p.Overall.Summary = drainMessage
	}
	for _, s := range snaps {
		r := s.Result
		row := Row{
			Name:     s.Check.Name,
			Type:     s.Check.Type,
			Status:   r.Status.String(),
			Icon:     icons[r.Status],
			Message:  message(r.Status, r.Message),
			Critical: s.Check.Critical,
			Groups:   s.Check.Groups,
			Duration: formatDuration(r.Duration),
			Age:      formatDuration(now.Sub(r.Finished())),
			Taken:    r.Finished(),
		}
		if h := s.Check.History(); h != nil {
			row.Kept = h.Len()
			rs := h.Recent(StripCells)
			row.strip, row.now = rs, now
			row.Runs, row.Recent = runs(rs, now)
			for _, hr := range h.KeptFailures() {
				row.Earlier = append(row.Earlier, cell(hr, now))
			}
			if row.Kept > 0 {
				up, window := h.Uptime(now)
				row.Uptime = formatPercent(up)
				row.Window = formatDuration(window)
			}
		}
		p.Checks = append(p.Checks, row)
	}
	p.Problems, p.Groups = arrange(p.Checks)
	return p
}

// arrange orders rows for the built-in page: the problems (failing, then
// warning) and the groups with their counts and passing checks.
func arrange(rows []Row) (problems []Row, groups []Group) {
	for _, want := range []string{"failing", "warning"} {
		for _, r := range rows {
			if r.Status == want {
				problems = append(problems, r)
			}
		}
	}
	index := map[string]int{}
	var none *Group
	add := func(g *Group, r Row) {
		switch r.Status {
		case "failing":
			g.Failing++
		case "warning":
			g.Warnings++
		default:
			g.Passing++
			g.Passed = append(g.Passed, r)
		}
	}
	for _, r := range rows {
		if len(r.Groups) == 0 {
			if none == nil {
				none = &Group{}
			}
			add(none, r)
		}
		for _, name := range r.Groups {
			i, ok := index[name]
			if !ok {
				i = len(groups)
				index[name] = i
				groups = append(groups, Group{Name: name})
			}
			add(&groups[i], r)
		}
	}
	if none != nil {
		groups = append(groups, *none)
	}
	for i := range groups {
		g := &groups[i]
		g.Status = "passing"
		switch {
		case g.Failing > 0:
			g.Status = "failing"
		case g.Warnings > 0:
			g.Status = "warning"
		}
		g.Icon = verdictIcons[g.Status]
	}
	return problems, groups
}

// runs groups a strip's results (oldest first) into runs of the same state
// and message, and says them in words. Passing results make one run
// whatever their notes, which show the newest: a note such as "status 200
// in 3.1 ms" differs on every run, and would cut a steady strip into 30
// runs of one.
func runs(rs []runner.Entry, now time.Time) ([]Run, string) {
	var out []Run
	type span struct {
		first, last runner.Entry
		short, long time.Duration
	}
	var spans []span
	for _, r := range rs {
		if n := len(spans); n > 0 && spans[n-1].last.Status == r.Status && (r.Status == runner.Passing || spans[n-1].last.Message == r.Message) {
			sp := &spans[n-1]
			out[n-1].Count++
			out[n-1].Message = message(r.Status, r.Message)
			sp.last, sp.short, sp.long = r, min(sp.short, r.Duration), max(sp.long, r.Duration)
			continue
		}
		out = append(out, Run{Status: r.Status.String(), Icon: icons[r.Status], Count: 1, Message: message(r.Status, r.Message), Seq: r.Seq})
		spans = append(spans, span{r, r, r.Duration, r.Duration})
	}
	for i, sp := range spans {
		run := &out[i]
		run.Bars = strings.Repeat(bars[sp.first.Status], run.Count)
		run.From = when(sp.first.Finished(), now)
		run.To = run.From
		if sp.last.Seq != sp.first.Seq {
			run.To = when(sp.last.Finished(), now)
		}
		run.Took = tookRange(sp.short, sp.long)
	}
	// In words, runs of one state with different messages count as one.
	var words []string
	for i := 0; i < len(out); {
		n, j := 0, i
		for ; j < len(out) && out[j].Status == out[i].Status; j++ {
			n += out[j].Count
		}
		words = append(words, strconv.Itoa(n)+" "+out[i].Status)
		i = j
	}
	return out, strings.Join(words, ", ")
}

func tookRange(lo, hi time.Duration) string {
	a, b := formatDuration(lo), formatDuration(hi)
	if a == b {
		return a
	}
	return a + " to " + b
}

func message(st runner.Status, msg string) string {
	if st == runner.Passing && msg == "" {
		return "working"
	}
	return msg
}

func cell(r runner.Entry, now time.Time) Cell {
	return Cell{
		Status:   r.Status.String(),
		Icon:     icons[r.Status],
		Taken:    r.Finished().UTC(),
		When:     when(r.Finished(), now),
		Duration: formatDuration(r.Duration),
		Message:  message(r.Status, r.Message),
		Seq:      r.Seq,
	}
}

// when is t as "15:04:05 UTC", with the date when it is not now's.
func when(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	layout := "15:04:05 UTC"
	if y, m, d := t.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		layout = "Jan 2 15:04:05 UTC"
	}
	return t.Format(layout)
}

// formatPercent shows an uptime with as many decimals as it takes not to
// round a failure away: 100% only when nothing failed, else 99%, 99.9%,
// 99.95%, at most 99.999%.
func formatPercent(f float64) string {
	if f >= 1 {
		return "100%"
	}
	for prec := 0; prec <= 3; prec++ {
		s := strconv.FormatFloat(f*100, 'f', prec, 64)
		if v, _ := strconv.ParseFloat(s, 64); v < 100 {
			return s + "%"
		}
	}
	return "99.999%"
}

// summary counts the failing checks (saying how many of them are not
// critical) and the warnings: "all checks passing", "2 failing (1
// non-critical), 1 warning".
func summary(snaps []runner.Snapshot, o runner.Overall) string {
	if o.Failing == 0 && o.Warnings == 0 {
		return "all checks passing"
	}
	var parts []string
	if o.Failing > 0 {
		nonCritical := 0
		for _, s := range snaps {
			if s.Result.Status == runner.Failing && !s.Check.Critical {
				nonCritical++
			}
		}
		f := fmt.Sprintf("%d failing", o.Failing)
		switch {
		case nonCritical == o.Failing:
			f += " (non-critical)"
		case nonCritical > 0:
			f += fmt.Sprintf(" (%d non-critical)", nonCritical)
		}
		parts = append(parts, f)
	}
	if o.Warnings > 0 {
		parts = append(parts, plural(o.Warnings, "warning"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func (st *State) renderHTML(v view) ([]byte, error) {
	var b bytes.Buffer
	// A page is about as long as the last one: growing the buffer by
	// doubling from nothing costs a 1,000-check page three times its size.
	last := st.page.lastSize.Load()
	b.Grow(int(last + last/8))
	if err := st.page.tmpl.Execute(&b, st.pageData(v)); err != nil {
		return nil, err
	}
	st.page.lastSize.Store(int64(b.Len()))
	return b.Bytes(), nil
}

// renderMinimal is the page a caller without a token gets.
func (st *State) renderMinimal(v view) ([]byte, error) {
	var b bytes.Buffer
	if err := st.minimal.tmpl.Execute(&b, minimalPage{Verdict: verdict(v), Draining: v.draining}); err != nil {
		return nil, fmt.Errorf("minimal page: %w", err)
	}
	return b.Bytes(), nil
}

// dashboard is a parsed page template and the security headers that go
// with it. The Content-Security-Policy allows the template's inline
// scripts and styles by their hashes, computed once here: a rendered body
// depends only on the data, never on a per-response nonce, so it can be
// cached.
type dashboard struct {
	tmpl *template.Template
	csp  string
	// lastSize is the length of the page rendered last, to size the next.
	lastSize atomic.Int64
}

// setHeaders sets the headers every HTML answer carries.
func (d *dashboard) setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", d.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// pageFuncs are the functions a dashboard template may call besides the
// built-in ones.
var pageFuncs = template.FuncMap{"passingRows": passingRows}

// loadTemplate parses the dashboard: the built-in one, or the file named
// by server.template.
func loadTemplate(file string) (*dashboard, error) {
	var (
		t   *template.Template
		err error
	)
	name := "built-in dashboard template"
	if file == "" {
		t, err = template.New("dashboard.html").Funcs(pageFuncs).ParseFS(templates.FS, "dashboard.html")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	} else {
		name = "server.template " + file
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("server.template: %w", err)
		}
		t, err = template.New("custom").Funcs(pageFuncs).Parse(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	csp, err := policyFor(t, samplePage())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &dashboard{tmpl: t, csp: csp}, nil
}

// minimalPage is the data of the page a caller without a valid token gets
// (web/templates/minimal.html): the verdict, and nothing about the checks.
type minimalPage struct {
	Verdict  string // as Overall.Verdict
	Draining bool
}

// loadMinimal parses the minimal page, with a policy of its own: its
// inline style is not the dashboard's, and a policy allowing only the
// dashboard's hash would leave it unstyled.
func loadMinimal() (*dashboard, error) {
	t, err := template.ParseFS(templates.FS, "minimal.html")
	if err != nil {
		return nil, fmt.Errorf("built-in minimal page: %w", err)
	}
	csp, err := policyFor(t, minimalPage{Verdict: "failing", Draining: true})
	if err != nil {
		return nil, fmt.Errorf("built-in minimal page: %w", err)
	}
	return &dashboard{tmpl: t, csp: csp}, nil
}
