package checks_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/checks"
)

var update = flag.Bool("update", false, "rewrite the key tables of docs/checks/*.md from the types' declarations")

const (
	keysBegin = "<!-- keys: begin (generated from the type's declaration; go test ./internal/checks -run TestDocs -update) -->"
	keysEnd   = "<!-- keys: end -->"
)

// Each built-in type has a page in docs/checks whose key table is the one
// its declaration generates, so the docs cannot drift from the decoder.
// With -update, the tables are rewritten instead.
func TestDocs_KeyTablesMatchTheDeclarations(t *testing.T) {
	reg := checks.Builtin()
	for _, name := range reg.Names() {
		t.Run(name, func(t *testing.T) {
			typ, _ := reg.Lookup(name)
			path := filepath.Join("..", "..", "docs", "checks", name+".md")
			page, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("every check type needs a page: %v", err)
			}
			table := checks.KeyTable(checks.KeysOf(typ.NewConfig(checks.Settings{})))
			want, err := checks.ReplaceGenerated(string(page), keysBegin, keysEnd, table)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if want == string(page) {
				return
			}
			if *update {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Errorf("%s: the key table is not the one %s's declaration generates; run go test ./internal/checks -run TestDocs -update\ngot:\n%s\nwant:\n%s",
				path, name, between(string(page)), table)
		})
	}
}

// Every page in docs/checks is about a registered type.
func TestDocs_EveryPageIsARegisteredType(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("..", "..", "docs", "checks", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no page in docs/checks: %v", err)
	}
	reg := checks.Builtin()
	for _, p := range pages {
		if _, ok := reg.Lookup(strings.TrimSuffix(filepath.Base(p), ".md")); !ok {
			t.Errorf("%s: no check type of that name", p)
		}
	}
}

func between(page string) string {
	_, after, _ := strings.Cut(page, keysBegin)
	before, _, _ := strings.Cut(after, keysEnd)
	return strings.TrimSpace(before)
}

func TestReplaceGenerated(t *testing.T) {
	page := "# t\n\nprose\n" + keysBegin + "\nold | table\n" + keysEnd + "\nmore prose\n"
	got, err := checks.ReplaceGenerated(page, keysBegin, keysEnd, "| new |\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# t\n\nprose\n" + keysBegin + "\n\n| new |\n\n" + keysEnd + "\nmore prose\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, bad := range []string{
		"no markers\n",
		keysBegin + "\nno end\n",
		keysEnd + "\n" + keysBegin + "\n",
		keysBegin + "\n" + keysEnd + "\n" + keysBegin + "\n" + keysEnd + "\n",
	} {
		if _, err := checks.ReplaceGenerated(bad, keysBegin, keysEnd, "x"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestKeyTable_RendersEveryKind(t *testing.T) {
	got := checks.KeyTable(checks.KeysOf(defaults()))
	for _, row := range []string{
		"| key | type | default | meaning |\n|---|---|---|---|\n| `str` | string | `s` | a string |\n",
		"| `req` | string | **required** | a required string |",
		"| `mode` | `fast`, `slow` or `off` | `fast` | one of three |",
		"| `limit` | number or `null` | `90` | a number or null |",
		"| `opt_int` | int |  | an optional int |",
		"| `list` | list of strings (one string is a list of one) | `[a, b]` | a list of strings |",
		"| `headers` | mapping of names to strings, secret |  | a mapping |",
		"| `auth` | section |  | a section |\n| `auth.user` | string | **required** | user name |\n| `auth.token` | string, secret |  | the user's token |\n",
		"| `queues` | list of sections |  | a list of sections |\n| `queues[].name` | string | **required** | queue name |\n| `queues[].max` | int |  | most messages |\n",
		"| `level` | custom | `low` | a custom type |",
		"| `password` | string, secret |  | a credential |",
	} {
		if !strings.Contains(got, row) {
			t.Errorf("table lacks\n%s\ngot:\n%s", row, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 2+18+2+2 {
		t.Errorf("%d lines, want a header of 2 and a row per key, nested ones too:\n%s", n, got)
	}
}
