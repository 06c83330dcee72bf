package testsvc

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// OpenFDs counts the process's open file descriptors.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	return len(ents)
}

// Settle waits up to d for the process's goroutine and descriptor counts to
// come within tolG and tolF of refG and refF, and returns the last counts
// seen: a busy machine closes sockets late, a leak never. tidy, when set,
// runs before each count.
func Settle(t testing.TB, refG, refF, tolG, tolF int, d time.Duration, tidy func()) (int, int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if tidy != nil {
			tidy()
		}
		runtime.GC()
		g, f := runtime.NumGoroutine(), OpenFDs(t)
		if (g <= refG+tolG && f <= refF+tolF) || time.Now().After(deadline) {
			return g, f
		}
		time.Sleep(50 * time.Millisecond)
	}
}
