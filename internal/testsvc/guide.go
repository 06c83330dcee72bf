package testsvc

import (
	"os"
	"strings"
	"testing"
)

// GuideBlock returns the one fenced block of lang (```go, ```yaml…) in the
// Markdown file guide whose text holds marker, for a test that runs a
// guide's example as it is written. The test fails unless exactly one
// block matches, so an edit of the guide cannot leave the test reading
// another example, or none.
func GuideBlock(t testing.TB, guide, lang, marker string) string {
	t.Helper()
	data, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, b := range strings.Split(string(data), "```"+lang+"\n")[1:] {
		b, _, _ = strings.Cut(b, "```")
		if strings.Contains(b, marker) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d %s blocks hold %q, want 1", guide, len(found), lang, marker)
	}
	return found[0]
}
