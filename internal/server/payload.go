package server

import (
	"bufio"
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

// chunkSize is the buffer writeTo writes through: a 7 MB body goes out in
// about a hundred writes, not one per slice (three per check).
const chunkSize = 64 << 10

// writers lends writeTo its buffered writers; one per State keeps them out
// of package-level state.
type writers struct{ pool sync.Pool }

// writeTo writes p to w: a one-slice body as it is, any other through a
// pooled bufio.Writer of chunkSize.
func (p payload) writeTo(w io.Writer, ws *writers) error {
	if len(p) == 1 {
		_, err := w.Write(p[0])
		return err
	}
	bw, _ := ws.pool.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(w, chunkSize)
	} else {
		bw.Reset(w)
	}
	defer func() {
		bw.Reset(nil) // the pool does not keep the connection
		ws.pool.Put(bw)
	}()
	for _, s := range p {
		if _, err := bw.Write(s); err != nil {
			return err
		}
	}
	return bw.Flush()
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
