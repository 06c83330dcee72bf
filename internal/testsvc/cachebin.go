package testsvc

import (
	"os"
	"path/filepath"
	"testing"
)

// CacheBinary returns the path of a tool a setup script built into
// $HEALTHD_CACHE/bin (or the checkout's .cache/bin), or fails the test
// naming the script.
func CacheBinary(t testing.TB, name, setup string) string {
	NeedsServer(t)
	t.Helper()
	var tried []string
	if c := os.Getenv("HEALTHD_CACHE"); c != "" {
		tried = append(tried, filepath.Join(c, "bin", name))
	}
	if root := repoRoot(); root != "" {
		tried = append(tried, filepath.Join(root, ".cache", "bin", name))
	}
	for _, p := range tried {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("testsvc: %s not found (looked in %v); run %s (scripts/test-setup.sh runs it)", name, tried, setup)
	return ""
}
