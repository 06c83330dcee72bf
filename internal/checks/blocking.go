package checks

import (
	"context"
	"errors"
	"sync"
	"time"
)

// blockingCall runs a system call that takes no context (statfs, file I/O)
// and can block in the kernel for as long as a network mount is hung. The
// call runs in its own goroutine so Check still returns at its deadline, and
// at most one runs at a time: a probe that arrives while one is in flight
// waits for that one instead of starting another, so a hung mount costs one
// goroutine, not one per probe.
type blockingCall[T any] struct {
	mu  sync.Mutex
	cur *blockingResult[T]
}

type blockingResult[T any] struct {
	started time.Time
	done    chan struct{}
	val     T
	err     error
}

// do returns fn's result, or ctx's error and how long the call in flight has
// been blocked when ctx is done first.
func (b *blockingCall[T]) do(ctx context.Context, fn func() (T, error)) (T, time.Duration, error) {
	b.mu.Lock()
	c := b.cur
	if c == nil {
		c = &blockingResult[T]{started: time.Now(), done: make(chan struct{})}
		b.cur = c
		go func() {
			v, err := fn()
			b.mu.Lock()
			c.val, c.err = v, err
			b.cur = nil
			b.mu.Unlock()
			close(c.done)
		}()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.val, 0, c.err
	case <-ctx.Done():
		var zero T
		return zero, time.Since(c.started), ctx.Err()
	}
}

// isCtxErr reports whether err is a context's own error, meaning the probe
// ran out of time rather than the call failing.
func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// ctxFailure words a probe that ran out of time: "timed out after 1s (…)".
func ctxFailure(ctx context.Context, timeout time.Duration, where string) error {
	return timeoutFailure(ctx, ctx.Err(), timeout, where)
}
