package access

import (
	"sync"
	"sync/atomic"
)

// SessionCounter counts the open sessions of each user in one process,
// for MaxUserSessions (docs/reference.md §4.9) without a fleet, and as
// the local state that takes over when the fleet's Redis is down. Users
// are forgotten when their last session ends. The zero value is not
// usable; call NewSessionCounter.
type SessionCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewSessionCounter returns an empty counter.
func NewSessionCounter() *SessionCounter {
	return &SessionCounter{counts: make(map[string]int)}
}

// Acquire counts a new session of user unless user already holds limit
// (Unlimited: no limit); it returns the count with the new session, and
// release, to be called when the session ends (more than once is once;
// never nil).
func (c *SessionCounter) Acquire(user string, limit int) (release func(), ok bool, n int) {
	c.mu.Lock()
	n = c.counts[user]
	if limit != Unlimited && n >= limit {
		c.mu.Unlock()
		return noRelease, false, n
	}
	n++
	c.counts[user] = n
	c.mu.Unlock()
	var done atomic.Bool
	return func() {
		if done.Swap(true) {
			return
		}
		c.mu.Lock()
		if m := c.counts[user] - 1; m > 0 {
			c.counts[user] = m
		} else {
			delete(c.counts, user)
		}
		c.mu.Unlock()
	}, true, n
}

// Count is the number of open sessions of user.
func (c *SessionCounter) Count(user string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[user]
}
