package directory

import (
	"container/list"
	"sync"
	"time"
)

// lru is a size-bounded least-recently-used map with per-entry insertion
// times. The TTL is not stored: it is checked by the reader against the
// session's LdapCacheTTL, so a refresh that shortens the TTL takes effect
// on entries already cached. Safe for concurrent use.
type lru struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used
	items map[string]*list.Element
}

type lruItem struct {
	key   string
	value any
	at    time.Time
}

func newLRU(max int) *lru {
	return &lru{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the value stored under key if it was stored less than ttl
// before now. An expired entry is removed.
func (c *lru) get(key string, now time.Time, ttl time.Duration) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	it := el.Value.(*lruItem)
	if now.Sub(it.at) >= ttl || now.Before(it.at) {
		c.ll.Remove(el)
		delete(c.items, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return it.value, true
}

// add stores value under key, evicting the least recently used entries
// beyond the size bound.
func (c *lru) add(key string, value any, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 {
		return
	}
	if el, ok := c.items[key]; ok {
		it := el.Value.(*lruItem)
		it.value, it.at = value, now
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&lruItem{key: key, value: value, at: now})
	c.trim()
}

// trim evicts from the back until the bound holds; c.mu is held.
func (c *lru) trim() {
	for c.ll.Len() > max(c.max, 0) {
		el := c.ll.Back()
		c.ll.Remove(el)
		delete(c.items, el.Value.(*lruItem).key)
	}
}

// len reports the number of entries, expired ones included.
func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
