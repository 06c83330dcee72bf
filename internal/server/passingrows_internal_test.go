package server

import (
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/runner"
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

// A strip's passing results make one run whatever their notes (which
// change with every run's timing), showing the newest note; failures and
// warnings still split by message.
func TestRuns_PassingNotesMakeOneRun(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	entry := func(st runner.Status, msg string, i int) runner.Entry {
		return runner.EntryOf(&runner.Result{Status: st, Message: msg, Seq: uint64(i), Started: now.Add(time.Duration(i) * time.Second)})
	}
	var rs []runner.Entry
	for i, msg := range []string{"status 200 in 1.2 ms", "status 200 in 3.4 ms", "status 200 in 0.9 ms"} {
		rs = append(rs, entry(runner.Passing, msg, i))
	}
	rs = append(rs, entry(runner.Failing, "unavailable: connection refused (db:5432)", 3),
		entry(runner.Failing, "unavailable: timed out after 2s (db:5432)", 4),
		entry(runner.Warning, "disk usage 91.2%", 5), entry(runner.Warning, "disk usage 91.3%", 6),
		entry(runner.Passing, "", 7), entry(runner.Passing, "status 200 in 2.0 ms", 8))
	got, words := runs(rs, now.Add(time.Minute))
	type run struct {
		status  string
		count   int
		message string
	}
	want := []run{
		{"passing", 3, "status 200 in 0.9 ms"},
		{"failing", 1, "unavailable: connection refused (db:5432)"},
		{"failing", 1, "unavailable: timed out after 2s (db:5432)"},
		{"warning", 1, "disk usage 91.2%"},
		{"warning", 1, "disk usage 91.3%"},
		{"passing", 2, "status 200 in 2.0 ms"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d runs, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if g := (run{got[i].Status, got[i].Count, got[i].Message}); g != w {
			t.Errorf("run %d = %+v, want %+v", i, g, w)
		}
	}
	if got[0].Bars != "▂▂▂" || got[0].Seq != 0 {
		t.Errorf("first run: bars %q, seq %d", got[0].Bars, got[0].Seq)
	}
	if want := "3 passing, 2 failing, 2 warning, 2 passing"; words != want {
		t.Errorf("in words: %q, want %q", words, want)
	}
}
