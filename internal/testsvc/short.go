package testsvc

import "testing"

// NeedsServer skips t under `go test -short`, the hermetic tier of the
// edit-test loop: no server, no browser, no network. Every entry point of
// this package that starts or finds a real server calls it, so a test that
// needs one is left out of -short and fails loudly (never skips) otherwise.
func NeedsServer(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real server: run without -short (make test)")
	}
}
