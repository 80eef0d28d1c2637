package access

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/openmmp/mmp/cfgfmt"
)

// Unlimited is the limit Acquire reports for a client that no ConnLimits
// entry covers.
const Unlimited = -1

// connShards is the number of independently locked parts of a
// ConnCounter; a power of two, so that connections from many clients
// arriving at once rarely wait on one another's lock.
const connShards = 64

// ConnCounter counts the open connections of each client address and
// enforces ConnLimits (docs/reference.md §3.4, §4.1): a new connection from client C is
// refused when the first entry whose network contains C — entries in the
// order written, most specific first — allows NUM connections and C
// already holds NUM. The count is per single IPv4 address (docs/reference.md
// §7.36; IPv6 below): the network only chooses the limit, so
// 0.0.0.0|0.0.0.0:20 lets every address hold 20, not the whole internet 20
// together. A client no entry covers is unlimited.
//
// IPv6 (docs/reference.md §7.37): an entry may name an IPv6 network, and an IPv6
// client that no entry matches gets the limit of the first IPv4 catch-all
// (0.0.0.0|0.0.0.0) if the list has one. That entry, and the default
// ConnLimits, mean "everyone"; without this rule the default would leave
// every IPv6 client unlimited. Write a ::|0 entry to give IPv6 clients a
// limit of their own. An IPv6 client is counted by its network of
// SetIPv6Prefix bits, a /64 unless told otherwise (ConnLimitsIPv6Prefix),
// as BadGuys groups it: a host is normally given a whole /64 and may use
// any address in it, so counted per address one host could open 2^64
// times the limit. The entry that applies is still chosen by the client's
// own address.
//
// Counts live only while connections are open: an address is forgotten
// when its last connection is released, so memory follows the number of
// live connections, whatever the number of clients seen. A ConnCounter is
// safe for concurrent use; the zero value is not usable.
type ConnCounter struct {
	limits atomic.Pointer[[]cfgfmt.ConnLimit]
	v6bits atomic.Int32 // the IPv6 group's prefix length
	seed   maphash.Seed
	shards [connShards]connShard
}

type connShard struct {
	mu     sync.Mutex
	counts map[netip.Addr]int
	_      [48]byte // pad to 64 bytes: one shard per cache line
}

// NewConnCounter returns a counter enforcing limits, the resolved
// ConnLimits of a service (config.Service.ConnLimits). A nil or empty list
// limits nobody.
func NewConnCounter(limits []cfgfmt.ConnLimit) *ConnCounter {
	c := &ConnCounter{seed: maphash.MakeSeed()}
	c.v6bits.Store(DefaultIPv6Prefix)
	for i := range c.shards {
		c.shards[i].counts = make(map[netip.Addr]int)
	}
	c.SetLimits(limits)
	return c
}

// SetLimits replaces the limits, as on refresh (docs/reference.md §4.8). The counts of
// open connections are kept, so the new limits apply at once to clients
// already connected: a client over a lowered limit keeps its connections
// but opens no new one until it is below. The counter keeps limits; the
// caller must not change the slice afterwards.
func (c *ConnCounter) SetLimits(limits []cfgfmt.ConnLimit) {
	c.limits.Store(&limits)
}

// DefaultIPv6Prefix is the prefix length of the IPv6 group a client is
// counted in when SetIPv6Prefix has not been called.
const DefaultIPv6Prefix = 64

// SetIPv6Prefix makes IPv6 clients count by their network of bits (1 to
// 128; 128 counts each address), as on refresh. Connections already
// counted are released from the group they were counted in; the new
// grouping applies to connections opened afterwards.
func (c *ConnCounter) SetIPv6Prefix(bits int) {
	c.v6bits.Store(int32(min(max(bits, 1), 128)))
}

// key is the client ip (plain) is counted as: an IPv4 address itself, an
// IPv6 address its network.
func (c *ConnCounter) key(a netip.Addr) netip.Addr {
	if !a.Is6() {
		return a
	}
	return netip.PrefixFrom(a, int(c.v6bits.Load())).Masked().Addr()
}

// Limit returns the limit that applies to ip, Unlimited when none does.
func (c *ConnCounter) Limit(ip netip.Addr) int {
	return limitFor(*c.limits.Load(), plain(ip))
}

// limitFor chooses the limit of a (plain) by the rules of ConnCounter.
func limitFor(limits []cfgfmt.ConnLimit, a netip.Addr) int {
	if n, ok := cfgfmt.LimitFor(limits, a); ok {
		return n
	}
	if a.Is6() {
		for _, l := range limits {
			if l.Net.Addr().Is4() && l.Net.Bits() == 0 {
				return l.Max
			}
		}
	}
	return Unlimited
}

// Acquire counts a new connection from ip. When ip already holds as many
// connections as its limit allows, it returns ok false and the limit, and
// counts nothing: the caller logs "Connection limit reached for client IP
// <ip>" and sends its protocol's refusal (IMAP "* BYE", POP "-ERR", SMTP
// "421"). Otherwise it returns ok true, the limit that applied (Unlimited
// for none) and release, which the caller calls when the connection
// closes. release may be called more than once and is never nil, so
// "defer release()" is always safe; only its first call counts.
//
// Connections are counted even from unlimited clients, so that a refresh
// that sets a limit finds the true counts. An invalid ip (an unknown peer)
// is neither limited nor counted.
func (c *ConnCounter) Acquire(ip netip.Addr) (release func(), ok bool, limit int) {
	a := plain(ip)
	limit = limitFor(*c.limits.Load(), a)
	if !a.IsValid() {
		return noRelease, true, Unlimited
	}
	a = c.key(a)
	s := &c.shards[maphash.Comparable(c.seed, a)%connShards]
	s.mu.Lock()
	n := s.counts[a]
	if limit != Unlimited && n >= limit {
		s.mu.Unlock()
		return noRelease, false, limit
	}
	s.counts[a] = n + 1
	s.mu.Unlock()
	var done atomic.Bool
	return func() {
		if done.Swap(true) {
			return
		}
		s.mu.Lock()
		if n := s.counts[a] - 1; n > 0 {
			s.counts[a] = n
		} else {
			delete(s.counts, a)
		}
		s.mu.Unlock()
	}, true, limit
}

// Count returns the number of open connections counted for ip: for an
// IPv6 address, those of its group.
func (c *ConnCounter) Count(ip netip.Addr) int {
	a := c.key(plain(ip))
	s := &c.shards[maphash.Comparable(c.seed, a)%connShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[a]
}

func noRelease() {}

// Group is the client ip is counted as: an IPv4 address itself, an IPv6
// address its network of SetIPv6Prefix bits. The fleet counts by it too.
func (c *ConnCounter) Group(ip netip.Addr) netip.Addr { return c.key(plain(ip)) }
