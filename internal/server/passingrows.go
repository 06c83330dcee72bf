package server

import (
	"html/template"
	"strconv"
	"strings"
)

// passingRows writes the built-in page's rows of passing checks: for each
// row, what the template "passing-row" of web/templates/dashboard.html
// renders, byte for byte (TestPassingRows_AreTheTemplates holds them
// equal). At 1,000 checks these rows are nearly the whole page, and
// text/template's reflection spent about 20 ms on them; written here they
// take about 2. A custom server.template may call it too, or keep
// {{range .Passed}}{{template "passing-row" .}}{{end}} and its own markup.
func passingRows(rows []Row) template.HTML {
	var b strings.Builder
	b.Grow(len(rows) * 640)
	for i := range rows {
		writePassingRow(&b, &rows[i])
	}
	return template.HTML(b.String())
}

func writePassingRow(b *strings.Builder, r *Row) {
	b.WriteString(`<tr class="status_passing" data-check="`)
	escapeHTML(b, r.Name)
	b.WriteString(`"><th scope="row"><span class="name">`)
	escapeHTML(b, r.Name)
	b.WriteString(`</span><span class="facts"><span class="tag tag_type"><span class="vh">type </span>`)
	escapeHTML(b, r.Type)
	b.WriteString(`</span>`)
	if !r.Critical {
		b.WriteString(`<span class="tag tag_noncritical">non-critical</span>`)
	}
	b.WriteString(`</span></th><td class="message">`)
	escapeHTML(b, r.Message)
	b.WriteString(`</td><td class="history">`)
	if len(r.Runs) > 0 {
		b.WriteString(`<span class="bars" role="img" aria-label="Recent results, oldest first: `)
		escapeHTML(b, r.Recent)
		b.WriteString(`">`)
		for i := range r.Runs {
			b.WriteString(`<b class="run_`)
			escapeHTML(b, r.Runs[i].Status)
			b.WriteString(`">`)
			escapeHTML(b, r.Runs[i].Bars)
			b.WriteString(`</b>`)
		}
		b.WriteString(`</span>`)
		writeUptime(b, r)
	}
	b.WriteString(`</td><td class="num took" data-label="Took">`)
	escapeHTML(b, r.Duration)
	b.WriteString(`</td><td class="num age" data-label="Age">`)
	escapeHTML(b, r.Age)
	b.WriteString("</td></tr>\n")
}

// writeUptime is the template "uptime".
func writeUptime(b *strings.Builder, r *Row) {
	b.WriteString("\n" + `<p class="uptime"><strong>`)
	escapeHTML(b, r.Uptime)
	b.WriteString(`</strong> up over `)
	escapeHTML(b, r.Window)
	b.WriteString(` <span class="meta">(`)
	b.WriteString(strconv.Itoa(r.Kept))
	b.WriteString(` results)</span></p>`)
	if len(r.Earlier) == 0 {
		return
	}
	b.WriteString("\n" + `<details class="earlier" data-key="e-`)
	escapeHTML(b, r.Name)
	b.WriteString(`"><summary data-key="s-`)
	escapeHTML(b, r.Name)
	b.WriteString(`">`)
	b.WriteString(strconv.Itoa(len(r.Earlier)))
	b.WriteString(` earlier problem`)
	if len(r.Earlier) > 1 {
		b.WriteString("s")
	}
	b.WriteString(`</summary><ul>`)
	for _, c := range r.Earlier {
		b.WriteString(`<li><span aria-hidden="true">`)
		escapeHTML(b, c.Icon)
		b.WriteString(`</span> `)
		escapeHTML(b, c.Status)
		b.WriteString(` · `)
		escapeHTML(b, c.When)
		b.WriteString(` · `)
		escapeHTML(b, c.Message)
		b.WriteString(`</li>`)
	}
	b.WriteString(`</ul></details>`)
}

// escapeHTML writes s as html/template escapes a string in text and in a
// quoted attribute value: the same seven replacements (it also escapes
// '+', and a NUL becomes U+FFFD), byte by byte since none is part of a
// multi-byte UTF-8 sequence.
func escapeHTML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		last = i + 1
	}
	b.WriteString(s[last:])
}
