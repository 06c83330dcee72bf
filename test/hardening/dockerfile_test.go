package hardening

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerfile_FinalStageRunsAsNonRootWithAnExecFormHealthcheck reads the
// Dockerfile: the image that ships (the last stage) sets a USER that is not
// root, and its HEALTHCHECK runs a command in exec form (a JSON array: no
// shell, which the distroless image does not have).
func TestDockerfile_FinalStageRunsAsNonRootWithAnExecFormHealthcheck(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments, keep the last stage.
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		if l = strings.TrimSpace(cur + l); l != "" {
			lines = append(lines, l)
		}
		cur = ""
	}
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), "FROM ") {
			last = i
		}
	}
	if last < 0 {
		t.Fatal("no FROM in the Dockerfile")
	}
	var user, healthcheck string
	for _, l := range lines[last:] {
		word, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(word) {
		case "USER":
			user = strings.TrimSpace(rest)
		case "HEALTHCHECK":
			healthcheck = strings.TrimSpace(rest)
		}
	}
	name, _, _ := strings.Cut(user, ":")
	switch {
	case user == "":
		t.Errorf("the final stage (%s) sets no USER: the container would run as root", lines[last])
	case name == "root" || strings.TrimLeft(name, "0") == "" && name != "":
		t.Errorf("the final stage runs as %q, which is root", user)
	}
	if healthcheck == "" {
		t.Fatal("the final stage has no HEALTHCHECK")
	}
	_, cmd, ok := strings.Cut(healthcheck, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %q has no CMD", healthcheck)
	}
	var argv []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(cmd)), &argv); err != nil || len(argv) == 0 {
		t.Errorf("HEALTHCHECK CMD %q is not in exec form (a JSON array): %v", cmd, err)
	} else if !strings.HasPrefix(argv[0], "/") {
		t.Errorf("HEALTHCHECK runs %q; want an absolute path (no shell, no PATH lookup)", argv[0])
	}
}
