package server

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"time"

	"github.com/healthd/healthd/internal/runner"
	"github.com/healthd/healthd/web/templates"
)

// Page is the data handed to the dashboard template (and to a custom one
// named by server.template). See README "Customizing the dashboard".
type Page struct {
	Title    string
	Host     string
	Version  string
	Group    string // "" for all checks
	Taken    time.Time
	Overall  Overall
	Checks   []Row
	Refresh  int // seconds between in-place refreshes; 0 disables
	JSONPath string
}

// Overall is the page's headline.
type Overall struct {
	Status   string // passing, warning, failing
	Summary  string // "all checks passing", "2 failing, 1 warning"
	OK       bool
	Failing  int
	Warnings int
}

// Row is one check on the page.
type Row struct {
	Name     string
	Type     string
	Status   string // passing, warning, failing
	Icon     string // ✓ ! ✗, so state never relies on colour alone
	Message  string
	Critical bool
	Groups   []string
	Duration string
	Age      string
	Taken    time.Time
}

var icons = map[runner.Status]string{runner.Passing: "✓", runner.Warning: "!", runner.Failing: "✗"}

func (st *State) pageData(snaps []runner.Snapshot, o runner.Overall, group string) Page {
	now := referenceTime(snaps) // not the clock: the body is cached (bodycache.go)
	p := Page{
		Title:   "System status",
		Host:    st.srv.host,
		Version: st.srv.opts.Version,
		Group:   group,
		Taken:   now,
		Refresh: int(st.Config.Server.Refresh / time.Second),
		Overall: Overall{Status: o.Status.String(), OK: o.OK, Failing: o.Failing, Warnings: o.Warnings},
	}
	switch {
	case o.Failing == 0 && o.Warnings == 0:
		p.Overall.Summary = "all checks passing"
	case o.Warnings == 0:
		p.Overall.Summary = fmt.Sprintf("%d failing", o.Failing)
	case o.Failing == 0:
		p.Overall.Summary = plural(o.Warnings, "warning")
	default:
		p.Overall.Summary = fmt.Sprintf("%d failing, %s", o.Failing, plural(o.Warnings, "warning"))
	}
	for _, s := range snaps {
		r := s.Result
		msg := r.Message
		if r.Status == runner.Passing && msg == "" {
			msg = "working"
		}
		p.Checks = append(p.Checks, Row{
			Name:     s.Check.Name,
			Type:     s.Check.Type,
			Status:   r.Status.String(),
			Icon:     icons[r.Status],
			Message:  msg,
			Critical: s.Check.Critical,
			Groups:   s.Check.Groups,
			Duration: formatDuration(r.Duration),
			Age:      formatDuration(now.Sub(r.Finished())),
			Taken:    r.Finished(),
		})
	}
	return p
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

func (st *State) renderHTML(snaps []runner.Snapshot, o runner.Overall, group string) ([]byte, error) {
	var b bytes.Buffer
	if err := st.page.Execute(&b, st.pageData(snaps, o, group)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// loadTemplate parses the dashboard: the built-in one, or the file named
// by server.template.
func loadTemplate(file string) (*template.Template, error) {
	if file == "" {
		return template.ParseFS(templates.FS, "dashboard.html")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("server.template: %w", err)
	}
	t, err := template.New("custom").Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("server.template %s: %w", file, err)
	}
	return t, nil
}
