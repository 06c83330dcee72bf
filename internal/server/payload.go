package server

import (
	"io"
	"sync"
)

// payload is a response body as the byte slices that make it up, in order.
// Every format but health+json renders one slice. health+json's is mostly
// the checks' kept history arrays (healthjson.go), referred to rather than
// copied: at 1,000 checks with full histories they are 7 MB, and copying
// them into a new buffer on every render cost more than the render itself
// (and as much again in garbage collection). A payload and the slices it
// refers to are never modified once rendered: cached bodies are shared by
// concurrent probes.
type payload [][]byte

// size is the body's length in bytes.
func (p payload) size() int {
	n := 0
	for _, s := range p {
		n += len(s)
	}
	return n
}

// chunkSize is what writeTo copies into one write: a 7 MB body goes out in
// about a hundred writes, not one per slice (three per check).
const chunkSize = 64 << 10

// chunks lends writeTo its buffers; one per State keeps them out of
// package-level state.
type chunks struct{ pool sync.Pool }

func (c *chunks) get() *[]byte {
	if b, ok := c.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, chunkSize)
	return &b
}

// writeTo writes p to w: a one-slice body as it is, any other in writes of
// up to chunkSize, a slice that long or longer straight from where it is.
func (p payload) writeTo(w io.Writer, c *chunks) error {
	if len(p) == 1 {
		_, err := w.Write(p[0])
		return err
	}
	bp := c.get()
	buf := (*bp)[:0]
	defer func() {
		*bp = buf[:0]
		c.pool.Put(bp)
	}()
	for _, s := range p {
		if len(s) >= chunkSize {
			if len(buf) > 0 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			if _, err := w.Write(s); err != nil {
				return err
			}
			continue
		}
		for len(s) > 0 {
			n := copy(buf[len(buf):cap(buf)], s)
			buf, s = buf[:len(buf)+n], s[n:]
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		_, err := w.Write(buf)
		return err
	}
	return nil
}

// pieces builds a payload: bytes written into b, slices kept elsewhere
// referred to by ref.
type pieces struct {
	p    payload
	b    []byte
	mark int // b[mark:] is not in p yet
}

// ref adds s after what was written so far, without copying it.
func (pc *pieces) ref(s []byte) {
	if len(pc.b) > pc.mark {
		pc.p = append(pc.p, pc.b[pc.mark:len(pc.b):len(pc.b)])
		pc.mark = len(pc.b)
	}
	if len(s) > 0 {
		pc.p = append(pc.p, s)
	}
}

// payload returns everything written and referred to.
func (pc *pieces) payload() payload {
	pc.ref(nil)
	return pc.p
}
