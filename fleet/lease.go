package fleet

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// A count across the fleet (the connections of one client address, the
// sessions of one user) is a sorted set: one member per connection, the
// MMP's ID and a sequence number, scored with the time its lease runs
// out, in Redis's own clock (TIME), so that the MMPs' clocks do not
// matter. Counting drops the members whose lease ran out first, so the
// connections of an MMP that died without a word stop counting at most
// FleetLeaseTime later. Each MMP renews the leases of its live
// connections every third of the lease time, all in one pipelined call,
// and again as soon as Redis answers after an outage, which writes back
// the connections it accepted meanwhile. The key itself expires a lease
// time after its last write, so an address nobody connects from any more
// leaves nothing behind.

// acquireScript counts a new member into KEYS[1] unless the count is at
// the limit (ARGV[3], -1 for none), and reads the BadGuys penalty of
// KEYS[2] when given (ARGV[4] == "1"): the accept step's one round trip.
// It returns {admitted (0/1), count, penalty ms, ms until forgiven}.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local p, left = 0, 0
if ARGV[4] == '1' then
  p = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  left = redis.call('PTTL', KEYS[2])
  if left < 0 then p, left = 0, 0 end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if limit >= 0 and n >= limit then
  return {0, n, p, left}
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return {1, n + 1, p, left}
`)

// renewScript extends (or writes back) one member's lease.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
`)

// Lease is one connection's or session's place in a fleet-wide count.
// Release it when the connection ends; until then the Client renews it.
type Lease struct {
	c           *Client
	key, member string
	released    atomic.Bool
}

// Release removes the lease, off the caller's path. It may be called
// more than once and on a nil Lease.
func (l *Lease) Release() {
	if l == nil || l.released.Swap(true) {
		return
	}
	l.c.leases.remove(l)
	l.c.background("release", func(ctx context.Context, r redis.UniversalClient) error {
		return r.ZRem(ctx, l.key, l.member).Err()
	})
}

// leaseSet is the live leases of this MMP, renewed together.
type leaseSet struct {
	mu  sync.Mutex
	set map[*Lease]struct{}
	seq atomic.Uint64
}

func (s *leaseSet) init() { s.set = make(map[*Lease]struct{}) }

func (s *leaseSet) add(l *Lease) {
	s.mu.Lock()
	s.set[l] = struct{}{}
	s.mu.Unlock()
}

func (s *leaseSet) remove(l *Lease) {
	s.mu.Lock()
	delete(s.set, l)
	s.mu.Unlock()
}

func (s *leaseSet) snapshot() []*Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Lease, 0, len(s.set))
	for l := range s.set {
		out = append(out, l)
	}
	return out
}

// Leases is the number of live leases this MMP holds.
func (c *Client) Leases() int {
	if c == nil {
		return 0
	}
	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	return len(c.leases.set)
}

// newLease makes a lease for key, not yet written.
func (c *Client) newLease(key string) *Lease {
	return &Lease{c: c, key: key, member: c.cfg.ID + "#" + strconv.FormatUint(c.leases.seq.Add(1), 10)}
}

// Count is the outcome of an acquire.
type Count struct {
	Lease    *Lease // the new lease; nil when refused (or not counted)
	Admitted bool   // false: the count was at the limit
	N        int    // members counted, the new one included when admitted
}

// acquire counts a new lease into key against limit (-1: none) and, when
// bgKey is not "", reads that BadGuys key in the same call.
func (c *Client) acquire(ctx context.Context, op, key string, limit int, bgKey string) (Count, Penalty, error) {
	if c == nil {
		return Count{}, Penalty{}, ErrOff
	}
	l := c.newLease(key)
	read := "0"
	keys := []string{key}
	if bgKey != "" {
		read = "1"
		keys = append(keys, bgKey)
	}
	var res []int64
	readAt := time.Now()
	err := c.call(ctx, op, func(ctx context.Context, r redis.UniversalClient) error {
		v, err := acquireScript.Run(ctx, r, keys, l.member, c.cfg.LeaseTime.Milliseconds(), limit, read).Int64Slice()
		res = v
		return err
	})
	if err != nil {
		return Count{}, Penalty{}, err
	}
	if len(res) != 4 {
		return Count{}, Penalty{}, errBadReply
	}
	pen := Penalty{Last: time.Duration(res[2]) * time.Millisecond, Left: time.Duration(res[3]) * time.Millisecond, At: readAt}
	if res[0] == 0 {
		return Count{N: int(res[1])}, pen, nil
	}
	c.leases.add(l)
	return Count{Lease: l, Admitted: true, N: int(res[1])}, pen, nil
}

// renewer renews the live leases every third of the lease time.
func (c *Client) renewer() {
	defer c.done.Done()
	t := time.NewTicker(c.cfg.LeaseTime / 3)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if c.up.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
				c.renew(ctx)
				cancel()
			}
		}
	}
}

// renewNow renews the leases at once, in the background (after an outage).
func (c *Client) renewNow() {
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		c.renew(ctx)
	}()
}

// renewBatch bounds one pipeline of renewals.
const renewBatch = 1000

// renew extends every live lease, in pipelines of renewBatch.
func (c *Client) renew(ctx context.Context) {
	all := c.leases.snapshot()
	lease := c.cfg.LeaseTime.Milliseconds()
	for len(all) > 0 {
		n := min(len(all), renewBatch)
		batch := all[:n]
		all = all[n:]
		_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, l := range batch {
				renewScript.Eval(ctx, p, []string{l.key}, l.member, lease)
			}
			return nil
		})
		c.judge("renew", err)
		if err != nil {
			return
		}
	}
}

// dropAllLeases removes this MMP's leases from Redis (a clean stop).
func (c *Client) dropAllLeases(ctx context.Context) {
	all := c.leases.snapshot()
	if len(all) == 0 {
		return
	}
	c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, l := range all {
			p.ZRem(ctx, l.key, l.member)
		}
		return nil
	})
}

// count is the number of live members of key.
func (c *Client) count(ctx context.Context, key string) (int, error) {
	var n int64
	err := c.call(ctx, "count", func(ctx context.Context, r redis.UniversalClient) error {
		now, err := r.Time(ctx).Result()
		if err != nil {
			return err
		}
		n, err = r.ZCount(ctx, key, "("+strconv.FormatInt(now.UnixMilli(), 10), "+inf").Result()
		return err
	})
	return int(n), err
}
