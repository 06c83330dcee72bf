package checks

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A call blocked in the kernel (a hung NFS mount) must not hold Check past
// its deadline, and later probes must not pile up more blocked goroutines.
// The bubble's clock makes the timings exact.
func TestBlockingCall_ReturnsAtDeadlineAndRunsOneCallAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b blockingCall[int]
		release := make(chan struct{})
		var calls atomic.Int32
		fn := func() (int, error) {
			calls.Add(1)
			<-release
			return 42, nil
		}
		for i := 0; i < 3; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			start := time.Now()
			_, blocked, err := b.do(ctx, fn)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the deadline", err)
			}
			if d := time.Since(start); d != 50*time.Millisecond {
				t.Fatalf("returned after %v, want at the deadline, 50ms", d)
			}
			if want := time.Duration(i+1) * 50 * time.Millisecond; blocked != want {
				t.Errorf("probe %d: blocked = %v, want the time since the first call, %v", i, blocked, want)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d calls started while the first was blocked, want 1", n)
		}
		close(release)
		synctest.Wait() // the first call has returned and been cleared
		v, _, err := b.do(context.Background(), func() (int, error) { calls.Add(1); return 7, nil })
		if err != nil || v != 7 || calls.Load() != 2 {
			t.Fatalf("after release: v=%d err=%v calls=%d, want a fresh call giving 7", v, err, calls.Load())
		}
	})
}
