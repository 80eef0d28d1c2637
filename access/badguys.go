package access

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// BadGuysConfig holds the BadGuys parameters of a service (docs/reference.md §2.5).
// BadGuys is off — nothing is counted and nothing delayed — when Max,
// Penalty, MaxBadness or Decay is zero or less: with any of them zero no
// failure could ever cause a delay.
type BadGuysConfig struct {
	Max        int           // BGMax: most clients tracked
	Penalty    time.Duration // BGPenalty: added per failure
	MaxBadness time.Duration // BGMaxBadness: cap on a client's penalty
	Decay      time.Duration // BGDecay: time after the last failure at which it is forgiven
	Linear     bool          // BGLinear: decay linearly instead of all at once
	// Excluded lists the networks never penalised (BGExcluded). They are
	// checked on each call, so a refresh that adds a network stops the
	// delay of clients already in the table.
	Excluded []netip.Prefix
	// Now tells the time; nil means time.Now. Tests set a clock they
	// control.
	Now func() time.Time
}

// BadGuys is the table of clients that failed to authenticate (docs/reference.md §4.6):
// each failure adds Penalty to the client's penalty, up to MaxBadness; the
// penalty is forgiven Decay after the last failure, all at once (step) or
// gradually (Linear); and every authentication attempt from a client with a
// penalty is answered only after waiting it out (Wait). This slows password
// guessing from one place to a crawl without locking anyone out.
//
// A client is an IPv4 address, or an IPv6 /64. An IPv6 host is normally
// given a whole /64 and picks addresses in it at will (privacy addresses
// change on their own), so counting per address would let a guesser start
// afresh with each attempt. The price is that hosts sharing a /64 share a
// penalty, as hosts behind one IPv4 NAT always have; it is a delay, not a
// refusal, and Success clears it. Excluded networks are matched against the
// client's own address, not its /64.
//
// The table holds at most Max clients. When it is full, a new client
// evicts the one whose last failure is the oldest, the one closest to
// being forgiven. Clients are kept in a list in the order of their last
// failure — a failure always moves its client to the end — so eviction and
// the dropping of forgiven clients cost O(1), with no scan of the table.
//
// A BadGuys is safe for concurrent use. The zero value is not usable; call
// NewBadGuys.
type BadGuys struct {
	mu      sync.Mutex
	cfg     BadGuysConfig
	clients map[netip.Addr]*badGuy
	// oldest is a sentinel of the circular list of clients ordered by last
	// failure: oldest.next is the oldest, oldest.prev the newest.
	oldest badGuy
}

// badGuy is one client of the table.
type badGuy struct {
	key        netip.Addr    // the address or /64 (see groupKey)
	penalty    time.Duration // penalty as of last, at most MaxBadness when set
	last       time.Time     // time of the last failure
	prev, next *badGuy
}

// NewBadGuys returns an empty table with the parameters of cfg.
func NewBadGuys(cfg BadGuysConfig) *BadGuys {
	b := &BadGuys{clients: make(map[netip.Addr]*badGuy)}
	b.oldest.prev, b.oldest.next = &b.oldest, &b.oldest
	b.cfg = normConfig(cfg)
	return b
}

// normConfig fills in the defaults of cfg.
func normConfig(cfg BadGuysConfig) BadGuysConfig {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// on reports whether a failure can cause a delay at all.
func (c *BadGuysConfig) on() bool {
	return c.Max > 0 && c.Penalty > 0 && c.MaxBadness > 0 && c.Decay > 0
}

// excluded reports whether a (already unmapped, without zone) is in an
// excluded network.
func (c *BadGuysConfig) excluded(a netip.Addr) bool {
	for _, p := range c.Excluded {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Reconfigure applies new parameters, as on refresh (docs/reference.md §4.8), keeping
// the clients already in the table: a refresh must not forgive everybody.
// Their penalties are read under the new parameters (a lower MaxBadness
// caps them, a shorter Decay forgives sooner). If Max shrank, the clients
// with the oldest failures are evicted; if BadGuys is now off, the table is
// emptied.
func (b *BadGuys) Reconfigure(cfg BadGuysConfig) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg = normConfig(cfg)
	if !b.cfg.on() {
		clear(b.clients)
		b.oldest.prev, b.oldest.next = &b.oldest, &b.oldest
		return
	}
	for len(b.clients) > b.cfg.Max {
		b.remove(b.oldest.next)
	}
}

// Failure records an authentication failure from ip and returns its new
// penalty: the current one plus Penalty, capped at MaxBadness. logged
// reports that the failure was counted and so that the caller logs
// "badguy <ip> now has <n> badness" (n = Seconds(badness)); it is false,
// with a zero badness, for an excluded address, an invalid one or when
// BadGuys is off.
func (b *BadGuys) Failure(ip netip.Addr) (badness time.Duration, logged bool) {
	a := plain(ip)
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg := &b.cfg
	if !cfg.on() || !a.IsValid() || cfg.excluded(a) {
		return 0, false
	}
	now := cfg.Now()
	key := groupKey(a)
	g := b.clients[key]
	if g != nil {
		badness = min(b.current(g, now)+cfg.Penalty, cfg.MaxBadness)
		b.unlink(g)
	} else {
		// The clients at the front of the list failed longest ago; those
		// already forgiven go first, so that a full table evicts only
		// when it has to. Each is dropped once, so this is O(1) amortised.
		for old := b.oldest.next; old != &b.oldest && b.expired(old, now); old = b.oldest.next {
			b.remove(old)
		}
		if len(b.clients) >= cfg.Max {
			g = b.oldest.next
			b.remove(g)
			*g = badGuy{} // reuse it: the eviction path allocates nothing
		} else {
			g = new(badGuy)
		}
		g.key = key
		b.clients[key] = g
		badness = min(cfg.Penalty, cfg.MaxBadness)
	}
	g.penalty, g.last = badness, now
	b.pushNewest(g)
	return badness, true
}

// Success records a successful authentication from ip: its penalty is
// cleared. The caller has already waited the delay (Wait) before the
// attempt was answered, as the reference asks: a success after failures is
// still delayed, then forgiven.
func (b *BadGuys) Success(ip netip.Addr) {
	a := plain(ip)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !a.IsValid() || b.cfg.excluded(a) {
		return // an excluded address takes no part, not even in forgiving its /64
	}
	if g := b.clients[groupKey(a)]; g != nil {
		b.remove(g)
	}
}

// Delay returns how long an authentication attempt from ip must wait now:
// its penalty until Decay after its last failure, then nothing (step), or
// the penalty shrinking linearly to nothing over Decay (Linear). A client
// whose penalty is forgiven is dropped from the table.
func (b *BadGuys) Delay(ip netip.Addr) time.Duration {
	a := plain(ip)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !a.IsValid() || b.cfg.excluded(a) {
		return 0
	}
	g := b.clients[groupKey(a)]
	if g == nil {
		return 0
	}
	now := b.cfg.Now()
	if b.expired(g, now) {
		b.remove(g)
		return 0
	}
	return b.current(g, now)
}

// Wait waits out the delay of ip (Delay) and returns nil, or returns
// ctx.Err() as soon as ctx is done. It is called by the session's own
// goroutine, which parks on a timer: no thread is held and no lock, so
// other clients — including others waiting their own delays — are never
// slowed by a bad guy. Cancelling ctx (the server shutting down, the
// client gone) ends the wait at once.
func (b *BadGuys) Wait(ctx context.Context, ip netip.Addr) error {
	d := b.Delay(ip)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Len returns the number of clients in the table, forgiven ones not yet
// dropped included.
func (b *BadGuys) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.clients)
}

// Seconds gives a badness in whole seconds, rounded, as the log line
// "badguy <ip> now has <n> badness" shows it. In linear mode a penalty
// that has partly decayed is not a whole number of seconds.
func Seconds(d time.Duration) int64 {
	return int64(d.Round(time.Second) / time.Second)
}

// expired reports whether g's penalty is forgiven at now. In both modes
// that is Decay after the last failure.
func (b *BadGuys) expired(g *badGuy, now time.Time) bool {
	return now.Sub(g.last) >= b.cfg.Decay
}

// current returns g's penalty at now, before expiry. A clock that went
// back counts as no time elapsed.
func (b *BadGuys) current(g *badGuy, now time.Time) time.Duration {
	cfg := &b.cfg
	p := min(g.penalty, cfg.MaxBadness)
	elapsed := max(now.Sub(g.last), 0)
	if elapsed >= cfg.Decay {
		return 0
	}
	if !cfg.Linear {
		return p
	}
	return time.Duration(float64(p) * (1 - float64(elapsed)/float64(cfg.Decay)))
}

// remove drops g from the map and the list.
func (b *BadGuys) remove(g *badGuy) {
	delete(b.clients, g.key)
	b.unlink(g)
}

func (b *BadGuys) unlink(g *badGuy) {
	g.prev.next, g.next.prev = g.next, g.prev
	g.prev, g.next = nil, nil
}

func (b *BadGuys) pushNewest(g *badGuy) {
	g.prev, g.next = b.oldest.prev, &b.oldest
	g.prev.next, b.oldest.prev = g, g
}

// plain returns a as the table and the limits see it: IPv4-mapped IPv6
// addresses as IPv4, without a zone.
func plain(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// groupKey returns the client that a (plain) counts as: an IPv4 address
// itself, an IPv6 address its /64.
func groupKey(a netip.Addr) netip.Addr {
	if a.Is4() {
		return a
	}
	return netip.PrefixFrom(a, 64).Masked().Addr()
}

// Counts reports whether a failure from ip would be counted: BadGuys is
// on and ip is a valid address outside the excluded networks. The fleet
// asks before it reads or writes a penalty.
func (b *BadGuys) Counts(ip netip.Addr) bool {
	a := plain(ip)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg.on() && a.IsValid() && !b.cfg.excluded(a)
}

// Config returns the parameters in force.
func (b *BadGuys) Config() BadGuysConfig {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// Group is the client ip counts as: an IPv4 address itself, an IPv6
// address its /64.
func Group(ip netip.Addr) netip.Addr { return groupKey(plain(ip)) }
