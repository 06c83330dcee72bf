package checks

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Clients shares clients between the checks of one runner that would
// otherwise each open the same one: a thousand postgres checks on one DSN
// use one pool of two connections, not a thousand pools. A client is keyed
// by its kind and by everything that shapes it (the DSN with its
// credentials, TLS settings, the timeout it is sized from); the first check
// that asks opens it, the last one to let go closes it. What differs
// between the checks (query, expectations, thresholds) stays in each check.
//
// The zero value is ready to use. Nothing is shared between two Clients: a
// reload builds its checks on a new one before it retires the old. A nil
// *Clients shares nothing (see Share).
type Clients struct {
	mu      sync.Mutex
	clients map[clientKey]*sharedClient
}

// clientKey is the hash of a client's kind and key: the key holds
// passwords, and a hash of it in the map cannot leak them into a dump or a
// log line.
type clientKey [sha256.Size]byte

func newClientKey(kind string, key []string) clientKey {
	h := sha256.New()
	for _, s := range append([]string{kind}, key...) {
		// Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
		binary.Write(h, binary.BigEndian, uint64(len(s))) //nolint:errcheck // a hash does not fail
		h.Write([]byte(s))
	}
	var k clientKey
	h.Sum(k[:0])
	return k
}

type sharedClient struct {
	refs   int           // under Clients.mu
	opened chan struct{} // closed once open has returned; then client and err are set
	client io.Closer
	err    error
}

// Share returns the client of kind for key, opening it with open when no
// check of cs holds one, and the func that releases it: the last release
// closes the client and returns Close's error. Calling release again does
// nothing. key must hold everything that makes two clients differ; it is
// hashed, never kept or shown. Checks that ask for the same key at once
// wait for one open; when it fails, each gets its error and the next
// Share tries again.
//
// With a nil cs the client is the caller's own: release closes it.
func Share[T io.Closer](cs *Clients, kind string, key []string, open func() (T, error)) (T, func() error, error) {
	var zero T
	if cs == nil {
		c, err := open()
		if err != nil {
			return zero, nil, err
		}
		return c, sync.OnceValue(c.Close), nil
	}
	k := newClientKey(kind, key)
	cs.mu.Lock()
	if cs.clients == nil {
		cs.clients = map[clientKey]*sharedClient{}
	}
	e, found := cs.clients[k]
	if !found {
		e = &sharedClient{opened: make(chan struct{})}
		cs.clients[k] = e
	}
	e.refs++
	cs.mu.Unlock()

	if found {
		<-e.opened
	} else {
		cs.open(k, e, func() (io.Closer, error) { return open() })
	}
	if e.err != nil {
		return zero, nil, e.err
	}
	c, ok := e.client.(T)
	if !ok { // one kind name used for two client types: a bug in a check type
		cs.release(k, e) //nolint:errcheck // the other holders still use it
		return zero, nil, fmt.Errorf("shared %s client is a %T, not a %T", kind, e.client, zero)
	}
	return c, sync.OnceValue(func() error { return cs.release(k, e) }), nil
}

// open runs open for e. A failed (or panicking) open leaves no entry, so
// that the next Share of the key tries again.
func (cs *Clients) open(k clientKey, e *sharedClient, open func() (io.Closer, error)) {
	e.err = fmt.Errorf("opening the shared client panicked") // unless open returns
	defer func() {
		if e.err != nil {
			cs.mu.Lock()
			if cs.clients[k] == e {
				delete(cs.clients, k)
			}
			cs.mu.Unlock()
		}
		close(e.opened)
	}()
	e.client, e.err = open()
}

func (cs *Clients) release(k clientKey, e *sharedClient) error {
	cs.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && cs.clients[k] == e {
		delete(cs.clients, k)
	}
	cs.mu.Unlock()
	if !last {
		return nil
	}
	return e.client.Close() // outside the lock: a pool's Close may wait for its connections
}

// Len returns how many clients are open and shared now.
func (cs *Clients) Len() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.clients)
}
