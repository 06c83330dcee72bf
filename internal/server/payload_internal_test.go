package server

import (
	"bytes"
	"strings"
	"testing"
)

// recordWrites keeps every write it is given.
type recordWrites struct {
	all    bytes.Buffer
	writes []int
}

func (r *recordWrites) Write(b []byte) (int, error) {
	r.writes = append(r.writes, len(b))
	return r.all.Write(b)
}

// TestPayload_WritesItsPiecesInChunks: whatever the sizes of its pieces, a
// payload writes the bytes of its pieces in order, in writes of at most
// chunkSize except for the rest of a piece that long or longer, which goes
// out straight from it.
func TestPayload_WritesItsPiecesInChunks(t *testing.T) {
	piece := func(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }
	for _, tc := range []struct {
		name      string
		p         payload
		maxWrites int
	}{
		{"one slice", payload{piece('a', 5)}, 1},
		{"one large slice", payload{piece('a', 3*chunkSize)}, 1},
		{"small pieces", payload{piece('a', 10), piece('b', 20), piece('c', 30)}, 1},
		{"pieces across a chunk", payload{piece('a', chunkSize-3), piece('b', 10), piece('c', 7)}, 2},
		{"a large piece among small ones", payload{piece('a', 10), piece('b', chunkSize+1), piece('c', 10)}, 3},
		{"a very large piece after a small one", payload{piece('a', 10), piece('b', 3*chunkSize)}, 3},
		{"a thousand histories", thousand(piece), 7200*1000/chunkSize + 1},
		{"empty", payload{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w recordWrites
			var c writers
			if err := tc.p.writeTo(&w, &c); err != nil {
				t.Fatal(err)
			}
			if want := bytes.Join(tc.p, nil); !bytes.Equal(w.all.Bytes(), want) {
				t.Fatalf("wrote %d bytes, not the %d of the pieces in order", w.all.Len(), len(want))
			}
			if w.all.Len() != tc.p.size() {
				t.Errorf("size %d, wrote %d", tc.p.size(), w.all.Len())
			}
			if len(w.writes) > tc.maxWrites {
				t.Errorf("%d writes, want at most %d: %v", len(w.writes), tc.maxWrites, w.writes)
			}
			for i, n := range w.writes {
				if n > chunkSize && len(tc.p) > 1 && !fitsInAPiece(tc.p, n) {
					t.Errorf("write %d of %d bytes is longer than a chunk and than every piece", i, n)
				}
			}
		})
	}
}

func thousand(piece func(byte, int) []byte) payload {
	var p payload
	for i := range 1000 {
		p = append(p, piece('{', 200), piece(byte('a'+i%26), 7000))
	}
	return p
}

// fitsInAPiece is whether some piece of p has n bytes or more: a write that
// long can come straight from it.
func fitsInAPiece(p payload, n int) bool {
	for _, s := range p {
		if len(s) >= n {
			return true
		}
	}
	return false
}

// TestPieces_RefDoesNotCopyAndLaterWritesKeepEarlierPieces: a referred
// slice is the caller's own (not a copy), and writing on after a ref never
// changes bytes already in the payload, though the buffer has room.
func TestPieces_RefDoesNotCopyAndLaterWritesKeepEarlierPieces(t *testing.T) {
	kept := []byte("[1,2,3]")
	pc := &pieces{b: make([]byte, 0, 64)}
	pc.b = append(pc.b, `{"a":`...)
	pc.ref(kept)
	pc.b = append(pc.b, `,"b":`...)
	pc.ref(nil)
	pc.ref(kept)
	pc.b = append(pc.b, '}')
	p := pc.payload()
	if got := string(bytes.Join(p, nil)); got != `{"a":[1,2,3],"b":[1,2,3]}` {
		t.Fatalf("payload %q", got)
	}
	if &p[1][0] != &kept[0] {
		t.Error("the referred slice was copied")
	}
	for i := range 3 { // appending to a piece must not write into the next
		p[0] = append(p[0], 'X')
		if strings.Contains(string(bytes.Join(p[1:], nil)), "X") {
			t.Fatalf("append %d to a piece changed the next one", i)
		}
	}
}
