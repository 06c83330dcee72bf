package server

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/healthd/healthd/internal/runner"
)

// Rendering once per result set. A body is a pure function of the format,
// the selection (group, scope, the selected checks), whether the caller is
// authorised, whether healthd is draining, and the results shown, each
// identified by its Seq (unique per run, runner.Result). The cache keeps the
// body of the latest result set of each selection and hands the same bytes
// to every probe until one of the results changes.
//
// For that to hold, a renderer must not read the clock or add anything per
// response: relative figures (a result's age, an uptime window) are measured
// from referenceTime, the newest shown result's finish time. A format whose
// row is not cached (format.go; OpenMetrics, which carries the process's
// counters) is rendered every time.

// bodyCacheSize bounds the selections remembered per State: ?check=
// permutations cannot grow memory without limit. When full, one of the
// least recently used selections is dropped.
const bodyCacheSize = 64

type bodyCache struct {
	entries cowMap[string, *cachedBody]
	// epoch counts inserts. An entry records the epoch it was last used in;
	// eviction drops one of the least recently used by that measure, which
	// costs a probe a write only once per insert.
	epoch atomic.Uint64
}

// cachedBody is the body for one selection and one result set. Concurrent
// probes that miss on the same result set render it once: the first runs
// render inside once, the others wait for it.
type cachedBody struct {
	seqs []uint64
	used atomic.Uint64
	once sync.Once
	body payload
	err  error
}

func (e *cachedBody) matches(snaps []runner.Snapshot) bool {
	if len(e.seqs) != len(snaps) {
		return false
	}
	for i, s := range snaps {
		if e.seqs[i] != s.Result.Seq {
			return false
		}
	}
	return true
}

// body returns v's body in format f, rendered by render at most once per
// result set.
func (c *bodyCache) body(f *format, v view, render func() (payload, error)) (payload, error) {
	if !f.cached {
		return render()
	}
	for _, s := range v.snaps {
		if s.Result.Seq == 0 { // a stand-in result ("the request ended before…"), not a run
			return render()
		}
	}
	var buf [256]byte
	key := appendBodyKey(buf[:0], f.name, v)
	e := c.entries.load()[string(key)]
	if e == nil || !e.matches(v.snaps) {
		e = c.insert(string(key), v.snaps)
	}
	if ep := c.epoch.Load(); e.used.Load() != ep {
		e.used.Store(ep)
	}
	e.once.Do(func() { e.body, e.err = render() })
	if e.err != nil {
		c.entries.update(func(m map[string]*cachedBody) bool {
			if m[string(key)] != e {
				return false
			}
			delete(m, string(key))
			return true
		})
	}
	return e.body, e.err
}

// insert returns the entry for key and snaps' result set, adding it (in
// place of key's older one, or of a least recently used selection when the
// cache is full) unless another probe just did.
func (c *bodyCache) insert(key string, snaps []runner.Snapshot) (e *cachedBody) {
	c.entries.update(func(m map[string]*cachedBody) bool {
		if e = m[key]; e != nil && e.matches(snaps) {
			return false
		}
		if _, ok := m[key]; !ok && len(m) >= bodyCacheSize {
			var oldest string
			least := ^uint64(0)
			for k, e := range m {
				if u := e.used.Load(); u < least {
					oldest, least = k, u
				}
			}
			delete(m, oldest)
		}
		e = &cachedBody{seqs: make([]uint64, len(snaps))}
		for i, s := range snaps {
			e.seqs[i] = s.Result.Seq
		}
		e.used.Store(c.epoch.Add(1))
		m[key] = e
		return true
	})
	return e
}

// len is how many selections are cached.
func (c *bodyCache) len() int { return len(c.entries.load()) }

// appendBodyKey appends the selection part of a body's key: format, flags,
// group, scope and the selected checks' names, NUL-separated (names never
// contain NUL: the config allows letters, digits, '-', '_' and '.').
func appendBodyKey(b []byte, f Format, v view) []byte {
	b = append(b, f...)
	flags := byte('0')
	if v.full {
		flags |= 1
	}
	if v.draining {
		flags |= 2
	}
	b = append(b, 0, flags, 0)
	b = append(b, v.group...)
	b = append(b, 0)
	b = append(b, v.scope...)
	for _, s := range v.snaps {
		b = append(b, 0)
		b = append(b, s.Check.Name...)
	}
	return b
}

// referenceTime is "now" for a body: the finish time of the newest result
// shown. Ages and uptime windows are measured from it, so the body depends
// on the results only and can be cached.
func referenceTime(snaps []runner.Snapshot) time.Time {
	var t time.Time
	for _, s := range snaps {
		if f := s.Result.Finished(); f.After(t) {
			t = f
		}
	}
	return t
}

// acceptCacheSize bounds the Accept headers whose negotiation is
// remembered; probers send one or a few fixed headers.
const acceptCacheSize = 32

// acceptCache remembers negotiate's answer for recent Accept headers.
type acceptCache struct {
	m cowMap[string, negotiated]
}

type negotiated struct {
	f             Format
	ok, malformed bool
}

func (c *acceptCache) negotiate(header string) (Format, bool, bool) {
	if n, hit := c.m.load()[header]; hit {
		return n.f, n.ok, n.malformed
	}
	var n negotiated
	n.f, n.ok, n.malformed = negotiate(header)
	if len(header) <= 256 {
		c.m.update(func(m map[string]negotiated) bool {
			if len(m) >= acceptCacheSize {
				return false
			}
			m[strings.Clone(header)] = n
			return true
		})
	}
	return n.f, n.ok, n.malformed
}

// cowMap is a small map that a probe reads with one atomic load: a writer,
// serialised by mu, replaces it with an updated copy, never changes it. The
// caches of the probe path are read on every probe and written rarely; with
// a lock, the two cores serving probes passed its cache line back and forth.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

// load returns the map as it is now (nil before the first update), for
// reading only.
func (c *cowMap[K, V]) load() map[K]V {
	if m := c.m.Load(); m != nil {
		return *m
	}
	return nil
}

// update hands change a copy of the map and installs it if change says it
// changed it.
func (c *cowMap[K, V]) update(change func(m map[K]V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next map[K]V
	if old := c.m.Load(); old != nil {
		next = maps.Clone(*old)
	} else {
		next = map[K]V{}
	}
	if change(next) {
		c.m.Store(&next)
	}
}

// query parses r's query string, or returns nil (a valid empty Values)
// when it has none. Unlike r.URL.Query, it fails on a malformed string
// (a bad %-escape, a ';' separator) instead of dropping the pair: a probe
// whose ?check= vanished would check something else than it asked for.
func query(r *http.Request) (url.Values, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %w", err)
	}
	return q, nil
}

// Header values set on every probe, shared read-only. Their capacity equals
// their length, so a later Header.Add appends to a copy, never to these.
var (
	hdrNoStore = []string{"no-store"}[:1:1]
	hdrAccept  = []string{"Accept"}[:1:1]
	hdrNosniff = []string{"nosniff"}[:1:1]
)
