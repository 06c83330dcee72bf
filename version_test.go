package healthd

import (
	"os"
	"strings"
	"testing"
)

func TestVersion_IsTheNewestReleaseInTheChangelog(t *testing.T) {
	data, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "## [") && !strings.HasPrefix(line, "## [Unreleased]") {
			first = strings.TrimPrefix(strings.SplitN(line, "]", 2)[0], "## [")
			break
		}
	}
	if first == "" {
		t.Fatal("CHANGELOG.md has no released version")
	}
	if got := Version(); got != first {
		t.Errorf("Version() = %q, want %q (CHANGELOG.md's newest release)", got, first)
	}
}
