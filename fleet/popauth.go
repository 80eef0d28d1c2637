package fleet

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"
)

// The POP-before-SMTP memory across the fleet (docs/reference.md §4.3.3,
// §4.9): one key per client address holding the user of its last POP
// login, expiring AuthServiceTTL after it. An SMTP proxy on any MMP, and
// XQUERYAUTH on any POP proxy, read it.

func (c *Client) popKey(ip netip.Addr) string {
	return c.prefix() + ":popauth:" + ip.String()
}

// RecordPOPLogin remembers that ip logged in with POP as user, for ttl;
// off the caller's path.
func (c *Client) RecordPOPLogin(ip netip.Addr, user string, ttl time.Duration) {
	if ttl <= 0 || !ip.IsValid() {
		return
	}
	c.background("popauth", func(ctx context.Context, r redis.UniversalClient) error {
		return r.Set(ctx, c.popKey(ip), user, ttl).Err()
	})
}

// POPLogin returns the user who last logged in with POP from ip within
// the TTL; one round trip.
func (c *Client) POPLogin(ctx context.Context, ip netip.Addr) (user string, ok bool, err error) {
	err = c.call(ctx, "popauth", func(ctx context.Context, r redis.UniversalClient) error {
		v, err := r.Get(ctx, c.popKey(ip)).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		user, ok = v, err == nil
		return err
	})
	return user, ok, err
}
