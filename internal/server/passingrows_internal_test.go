package server

import (
	"strings"
	"testing"
)

// The rows healthd writes in Go are the template's "passing-row", byte for
// byte, whatever the names and messages hold: markup and quotes escaped as
// html/template escapes them, in text and in attributes.
func TestPassingRows_AreTheTemplates(t *testing.T) {
	d, err := loadTemplate("")
	if err != nil {
		t.Fatal(err)
	}
	hostile := `<script>alert("x&y")</script> a+b 'q' ` + "\x00 \xff\xfe é ✓"
	earlier := []Cell{{Status: "failing", Icon: "✗", When: "12:00:01 UTC", Message: "unavailable: " + hostile}}
	runs := []Run{{Status: "passing", Bars: "▂▂▂"}, {Status: "failing", Bars: "█"}, {Status: "passing", Bars: "▂"}}
	rows := []Row{
		{Name: "db", Type: "postgres", Message: "working", Critical: true, Duration: "3ms", Age: "1.2s"},
		{Name: "cache", Type: "redis", Message: "working", Duration: "812µs", Age: "0s",
			Runs: runs[:1], Recent: "3 passing", Kept: 3, Uptime: "100%", Window: "3s"},
		{Name: "Cache backend: default", Type: "memcached", Message: "connected, 3 ms", Critical: true, Duration: "1ms", Age: "2s",
			Runs: runs, Recent: "3 passing, 1 failing, 1 passing", Kept: 5, Uptime: "80%", Window: "5s", Earlier: earlier},
		{Name: hostile, Type: hostile, Message: hostile, Duration: hostile, Age: hostile,
			Runs: []Run{{Status: hostile, Bars: hostile}}, Recent: hostile, Kept: 100, Uptime: hostile, Window: hostile,
			Earlier: append(earlier, Cell{Status: hostile, Icon: hostile, When: hostile, Message: hostile})},
		{Name: "", Type: "", Message: ""},
	}
	var want strings.Builder
	for _, r := range rows {
		var one strings.Builder
		if err := d.tmpl.ExecuteTemplate(&one, "passing-row", r); err != nil {
			t.Fatal(err)
		}
		if got := string(passingRows([]Row{r})); got != one.String() {
			t.Errorf("row %q:\n got %s\nwant %s", r.Name, got, one.String())
		}
		want.WriteString(one.String())
	}
	if got := string(passingRows(rows)); got != want.String() {
		t.Errorf("all rows differ from the template's")
	}
	if string(passingRows(nil)) != "" {
		t.Error("no rows, yet passingRows wrote some")
	}
}
