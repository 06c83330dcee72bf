package server

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
	"time"

	"github.com/healthd/healthd/internal/runner"
)

var (
	scriptElem = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
	styleElem  = regexp.MustCompile(`(?is)<style\b([^>]*)>(.*?)</style\s*>`)
	openScript = regexp.MustCompile(`(?i)<script\b`)
	openStyle  = regexp.MustCompile(`(?i)<style\b`)
	srcAttr    = regexp.MustCompile(`(?i)\ssrc\s*=`)
	// inlineAttr finds a style="…" or on…="…" attribute: CSP hashes do not
	// cover them, so the browser would refuse them.
	inlineAttr = regexp.MustCompile(`(?i)<[a-z][^<>]*\s(style|on[a-z]+)\s*=`)
)

// policyFor returns the Content-Security-Policy for pages rendered by t
// (whose data is like sample):
// nothing but t's own inline <script> and <style> elements (by SHA-256
// hash), fetches of the page itself when there is a script, and data:
// images when t uses one (the status favicon). It fails for what the
// policy would block: an inline script or style whose text depends on the
// data, a <script src>, a style or event-handler attribute.
//
// The hashes are taken from the escaped template: html/template drops
// comments from literal text, so the source is not what the browser sees.
func policyFor(t *template.Template, sample any) (string, error) {
	// Executing escapes every template reachable from t; sample data
	// exercises the usual branches and reports an error now, not on the
	// first request.
	if err := t.Execute(io.Discard, sample); err != nil {
		return "", fmt.Errorf("rendering sample data: %w", err)
	}
	var scripts, styles []string
	dataImages := false
	var errs []error
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		walkText(tt.Tree.Root, func(n *parse.TextNode) {
			text := string(n.Text)
			fail := func(off int, format string, args ...any) {
				errs = append(errs, fmt.Errorf("line %d: "+format, append([]any{lineOf(tt.Tree, n, off)}, args...)...))
			}
			for _, m := range inlineAttr.FindAllStringSubmatchIndex(text, -1) {
				attr := text[m[2]:m[3]]
				fail(m[2], "%s=\"…\" attribute: the page's Content-Security-Policy blocks inline %s attributes; use a class and the <style> element (or the <script>)", attr, attr)
			}
			scripts = collect(text, scriptElem, openScript, "script", scripts, fail)
			styles = collect(text, styleElem, openStyle, "style", styles, fail)
			if strings.Contains(text, "data:image/") {
				dataImages = true
			}
		})
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	slices.Sort(scripts)
	scripts = slices.Compact(scripts)
	slices.Sort(styles)
	styles = slices.Compact(styles)
	policy := []string{"default-src 'none'"}
	if len(scripts) > 0 {
		policy = append(policy, "script-src "+strings.Join(scripts, " "), "connect-src 'self'")
	}
	if len(styles) > 0 {
		policy = append(policy, "style-src "+strings.Join(styles, " "))
	}
	if dataImages {
		policy = append(policy, "img-src data:")
	}
	policy = append(policy, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'")
	return strings.Join(policy, "; "), nil
}

// collect appends the hashes of text's complete <name> elements to hashes,
// and reports an element that is not complete in one piece of literal text.
func collect(text string, elem, open *regexp.Regexp, name string, hashes []string, fail func(int, string, ...any)) []string {
	whole := elem.FindAllStringSubmatchIndex(text, -1)
	for _, o := range open.FindAllStringIndex(text, -1) {
		if !slices.ContainsFunc(whole, func(m []int) bool { return m[0] == o[0] }) {
			fail(o[0], "a <%s> element must be literal text, without {{actions}}, so its hash in the Content-Security-Policy is fixed; pass data to a script through data-* attributes", name)
		}
	}
	for _, m := range whole {
		if name == "script" && srcAttr.MatchString(text[m[2]:m[3]]) {
			fail(m[0], "<script src=…>: the page's Content-Security-Policy allows only inline scripts; put the script in the template")
			continue
		}
		hashes = append(hashes, hash(text[m[4]:m[5]]))
	}
	return hashes
}

// hash is a CSP source for an inline element's text. The browser hashes
// the text after the HTML parser has turned CRLF and CR into LF.
func hash(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// lineOf is the template line of byte off in text node n.
func lineOf(t *parse.Tree, n *parse.TextNode, off int) int {
	loc, _ := t.ErrorContext(n)
	parts := strings.Split(loc, ":")
	if len(parts) < 3 {
		return 0
	}
	line, _ := strconv.Atoi(parts[len(parts)-2])
	return line + strings.Count(string(n.Text[:off]), "\n")
}

// walkText calls f for every text node under n, in every branch.
func walkText(n parse.Node, f func(*parse.TextNode)) {
	switch n := n.(type) {
	case *parse.TextNode:
		f(n)
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkText(c, f)
		}
	case *parse.IfNode:
		walkText(n.List, f)
		walkText(n.ElseList, f)
	case *parse.RangeNode:
		walkText(n.List, f)
		walkText(n.ElseList, f)
	case *parse.WithNode:
		walkText(n.List, f)
		walkText(n.ElseList, f)
	}
}

// samplePage is data of every kind a page can show, used to check a
// template when it is loaded.
func samplePage() Page {
	now := time.Now()
	res := runner.EntryOf(&runner.Result{Status: runner.Failing, Message: "unavailable: down", Started: now, Duration: time.Millisecond, Seq: 1})
	c := cell(res, now)
	run := Run{Status: "failing", Icon: "✗", Count: 1, Bars: "█", From: c.When, To: c.When, Took: "1ms", Message: c.Message, Seq: 1}
	p := Page{
		Title: "System status", Host: "host", Version: "dev", Taken: now, Refresh: 10, JSONPath: "?format=json",
		Overall: Overall{Status: "failing", Verdict: "failing", Icon: "✗", Word: "Unhealthy", Summary: "1 failing", Failing: 1, Passing: 1},
		Checks: []Row{
			{Name: "a", Type: "t", Status: "failing", Icon: "✗", Message: "unavailable: down", Critical: true,
				Groups: []string{"g"}, Duration: "1ms", Age: "1s", Taken: now, Earlier: []Cell{c}, strip: []runner.Entry{res}, now: now,
				Runs: []Run{run}, Recent: "1 failing", Kept: 1, Uptime: "0%", Window: "1s"},
			{Name: "b", Type: "t", Status: "passing", Icon: "✓", Message: "working", Duration: "1ms", Age: "1s", Taken: now,
				Earlier: []Cell{c}, strip: []runner.Entry{res}, now: now, Runs: []Run{run}, Recent: "1 failing", Kept: 1, Uptime: "0%", Window: "1s"},
		},
		Expanded: true,
	}
	p.Problems, p.Groups = arrange(p.Checks)
	return p
}
