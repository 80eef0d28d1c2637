package fleet

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"
)

// BadGuys across the fleet (docs/reference.md §4.6, §4.9): one key per
// service and client (an IPv4 address, an IPv6 /64: the caller groups),
// holding the penalty in milliseconds as of the client's last failure,
// and expiring BGDecay after it: Redis forgets a forgiven client by
// itself, no MMP sweeps. A failure is one Lua script, so that failures on
// two MMPs at the same moment both count. The linear decay is computed
// from the time left to live, which is Redis's clock, not the MMPs'.

var errBadReply = errors.New("fleet: unexpected reply from Redis")

// BadGuysParams are the BadGuys parameters of a service.
type BadGuysParams struct {
	Penalty    time.Duration // BGPenalty
	MaxBadness time.Duration // BGMaxBadness
	Decay      time.Duration // BGDecay
	Linear     bool          // BGLinear
}

// Penalty is a client's BadGuys state as read from Redis.
type Penalty struct {
	Last time.Duration // the penalty as of the last failure
	Left time.Duration // until it is forgiven, as of At
	At   time.Time     // local time of the read
}

// Delay is how long an attempt must wait at now, by the rules of
// access.BadGuys: the penalty until Decay after the last failure (step),
// or shrinking linearly to nothing over Decay.
func (p Penalty) Delay(bg BadGuysParams, now time.Time) time.Duration {
	left := p.Left - max(now.Sub(p.At), 0)
	if p.Last <= 0 || left <= 0 || bg.Decay <= 0 {
		return 0
	}
	last := min(p.Last, bg.MaxBadness)
	if !bg.Linear {
		return last
	}
	left = min(left, bg.Decay)
	return time.Duration(float64(last) * float64(left) / float64(bg.Decay))
}

// failureScript adds ARGV[1] ms to the penalty of KEYS[1], as decayed
// now, capped at ARGV[2], and sets it to expire ARGV[3] ms from now;
// ARGV[4] is "1" for linear decay. It returns the new penalty.
var failureScript = redis.NewScript(`
local p = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local left = redis.call('PTTL', KEYS[1])
local pen, maxb, decay = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = 0
if p > 0 and left > 0 then
  p = math.min(p, maxb)
  if left > decay then left = decay end
  if ARGV[4] == '1' then cur = math.floor(p * left / decay) else cur = p end
end
local new = math.min(cur + pen, maxb)
redis.call('SET', KEYS[1], new, 'PX', decay)
return new
`)

// Hash tags ({...}) keep a client's keys in one Cluster slot, so that the
// accept step's script may touch both.
func (c *Client) bgKey(service string, group netip.Addr) string {
	return c.prefix() + ":{" + service + ":" + group.String() + "}:bg"
}

func (c *Client) connKey(service string, group netip.Addr) string {
	return c.prefix() + ":{" + service + ":" + group.String() + "}:conn"
}

// Failure records an authentication failure of group in service and
// returns its new penalty; one round trip.
func (c *Client) Failure(ctx context.Context, service string, group netip.Addr, bg BadGuysParams) (time.Duration, error) {
	var ms int64
	err := c.call(ctx, "badguys", func(ctx context.Context, r redis.UniversalClient) error {
		v, err := failureScript.Run(ctx, r, []string{c.bgKey(service, group)},
			bg.Penalty.Milliseconds(), bg.MaxBadness.Milliseconds(), bg.Decay.Milliseconds(), boolArg(bg.Linear)).Int64()
		ms = v
		return err
	})
	return time.Duration(ms) * time.Millisecond, err
}

// PenaltyOf reads the penalty of group in service; one round trip.
func (c *Client) PenaltyOf(ctx context.Context, service string, group netip.Addr) (Penalty, error) {
	var p Penalty
	err := c.call(ctx, "badguys", func(ctx context.Context, r redis.UniversalClient) error {
		key := c.bgKey(service, group)
		p.At = time.Now()
		var get *redis.StringCmd
		var ttl *redis.DurationCmd
		_, err := r.Pipelined(ctx, func(pl redis.Pipeliner) error {
			get = pl.Get(ctx, key)
			ttl = pl.PTTL(ctx, key)
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		ms, err := get.Int64()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		if left := ttl.Val(); left > 0 {
			p.Last, p.Left = time.Duration(ms)*time.Millisecond, left
		}
		return nil
	})
	return p, err
}

// Forgive clears the penalty of group in service (a successful login),
// off the caller's path.
func (c *Client) Forgive(service string, group netip.Addr) {
	c.background("badguys", func(ctx context.Context, r redis.UniversalClient) error {
		return r.Del(ctx, c.bgKey(service, group)).Err()
	})
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
