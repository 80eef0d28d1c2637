package popproxy

import (
	"sync"
	"time"
)

// storeCapaTTL is how long a store's CAPA answer is trusted: a store
// reconfigured without PIPELINING is asked again within this time, and
// until then still answers USER and PASS sent together, since a POP3
// server reads its commands one line at a time (RFC 2449 §6.6 only
// promises that it will not lose them).
const storeCapaTTL = 5 * time.Minute

// maxStoreCapas bounds the cache: at most this many store addresses.
const maxStoreCapas = 64

// storeCapa is what the MMP keeps of a store's CAPA answer (RFC 2449).
type storeCapa struct {
	pipelining bool
	sasl       map[string]bool // upper case; read-only once cached
	at         time.Time
}

// storeCapas caches the CAPA answers of the stores by address, so that
// a USER/PASS login to a store that announces PIPELINING sends both
// commands at once: one round trip to the store instead of two
// (docs/benchmarks.md, "CPU per login"). Finding out costs a CAPA once
// per store and storeCapaTTL.
type storeCapas struct {
	mu sync.Mutex
	m  map[string]storeCapa
}

// get returns the fresh answer of the store at addr.
func (c *storeCapas) get(addr string, now time.Time) (storeCapa, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[addr]
	if !ok || now.Sub(e.at) > storeCapaTTL || now.Before(e.at) {
		return storeCapa{}, false
	}
	return e, true
}

// put records the answer of the store at addr.
func (c *storeCapas) put(addr string, e storeCapa) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxStoreCapas {
		c.m = map[string]storeCapa{}
	}
	c.m[addr] = e
}
