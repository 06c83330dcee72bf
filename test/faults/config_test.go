package faults

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

// aliasBomb is a few hundred bytes of nested YAML aliases that would
// expand to 9^9 values.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", "))
	}
	b.WriteString("checks: *a8\n")
	return b.String()
}

// TestReload_HostileConfigsAreRefusedAndShowNoSecret gives a serving daemon
// bad configs through POST /-/reload (the file watcher and SIGHUP read and
// load the file the same way): an alias bomb and a file over the size bound
// are refused quickly with bounded memory, and configs with a "${" typed
// inside a password are refused without any part of the password in the
// answer or in a log line. The running config keeps serving throughout.
func TestReload_HostileConfigsAreRefusedAndShowNoSecret(t *testing.T) {
	good := "server: {listen: '127.0.0.1:0'}\nchecks:\n  - {name: disk, type: disk}\n"
	path := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testsvc.Buffer{}
	base, _ := serveFile(t, path, logs)
	client := &http.Client{Timeout: 10 * time.Second} // did not hang
	post := func(name string) (int, string) {
		resp, err := client.Post(base+"/-/reload", "", nil)
		if err != nil {
			t.Fatalf("reload with %s: %v", name, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// Fragments of the passwords below, split by the "${" typed in them.
	fragments := []string{"Zq7Hunter", "2x9Q", "Kw-8", "Pv5x"}
	cases := []struct{ name, config, want string }{
		{"alias bomb", aliasBomb(), path + `:7: key "a6[0]": the alias *a5 expands to more than 100000 values`},
		{"file over the bound", good + "# " + strings.Repeat("x", 1<<20) + "\n", path + ": cannot read config: the file is larger than 1048576 bytes"},
		{"unclosed ${ in a password", good + "  - {name: db, type: postgres, dsn: \"postgres://app:Zq7Hunter${2x9Q@db.internal:5432/app\"}\n",
			path + `:4: check "db": key "dsn": unclosed ${ at character 25 of the value`},
		{"no variable name in ${...} in a password", good + "  - {name: db, type: postgres, dsn: \"postgres://app:Pv5x${Kw-8}@db.internal:5432/app\"}\n",
			path + `:4: check "db": key "dsn": the ${...} at character 20 of the value holds no variable name`},
	}
	for _, c := range cases {
		if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, body := post(c.name)
		runtime.ReadMemStats(&after)
		if code != http.StatusInternalServerError || !strings.Contains(body, c.want) {
			t.Errorf("reload with %s: %d %q\nwant 500 with %q", c.name, code, body, c.want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("reload with %s allocated %d MiB, want a bounded amount (under 64 MiB)", c.name, grew>>20)
		}
		for _, f := range fragments {
			if strings.Contains(body, f) {
				t.Errorf("reload with %s: the answer shows %q, part of a password: %s", c.name, f, body)
			}
		}
	}
	resp, err := client.Get(base + "/ht/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"disk"`) || strings.Contains(string(body), `"db"`) {
		t.Errorf("after the refused reloads /ht/ serves %s, want the running config's disk check only", body)
	}
	out := logs.String()
	if strings.Count(out, "reload: config error") < len(cases) {
		t.Errorf("want a logged error per refused reload:\n%s", out)
	}
	for i, line := range strings.Split(out, "\n") {
		for _, f := range fragments {
			if strings.Contains(line, f) {
				t.Errorf("log line %d shows %q, part of a password: %s", i+1, f, line)
			}
		}
	}
}
