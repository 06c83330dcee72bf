package testsvc

import (
	"bytes"
	"sync"
)

// Buffer collects output written from several goroutines (a daemon's log,
// a child process's stderr) and reads it back whole. The zero value is
// ready; a nil *Buffer reads as empty.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
