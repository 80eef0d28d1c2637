package fleet

import (
	"context"
	"net/netip"
)

// AcquireConn counts a new connection from group (an address, or an IPv6
// network: the caller groups as its ConnLimits does) in service against
// limit (-1: none), and reads the group's BadGuys penalty in the same
// round trip when readPenalty: the accept step costs one call.
func (c *Client) AcquireConn(ctx context.Context, service string, group netip.Addr, limit int, readPenalty bool) (Count, Penalty, error) {
	bg := ""
	if readPenalty {
		bg = c.bgKey(service, group)
	}
	return c.acquire(ctx, "connlimits", c.connKey(service, group), limit, bg)
}

// Conns is the number of live connections counted for group in service.
func (c *Client) Conns(ctx context.Context, service string, group netip.Addr) (int, error) {
	return c.count(ctx, c.connKey(service, group))
}

// AcquireUser counts a new session of user (the canonical name the
// directory gave) in service against limit (-1: none); one round trip.
func (c *Client) AcquireUser(ctx context.Context, service, user string, limit int) (Count, error) {
	n, _, err := c.acquire(ctx, "usersessions", c.userKey(service, user), limit, "")
	return n, err
}

// UserSessions is the number of live sessions counted for user in service.
func (c *Client) UserSessions(ctx context.Context, service, user string) (int, error) {
	return c.count(ctx, c.userKey(service, user))
}

func (c *Client) userKey(service, user string) string {
	return c.prefix() + ":{" + service + ":user:" + user + "}:sessions"
}

// HoldConn is a lease for a connection from group that Redis could not be
// asked about (it was down): not written now, but renewed with the others
// once Redis answers again, so that the fleet's count includes the
// connections accepted during an outage. Nil for a nil Client.
func (c *Client) HoldConn(service string, group netip.Addr) *Lease {
	if c == nil {
		return nil
	}
	return c.hold(c.connKey(service, group))
}

// HoldUser is HoldConn for a session of user.
func (c *Client) HoldUser(service, user string) *Lease {
	if c == nil {
		return nil
	}
	return c.hold(c.userKey(service, user))
}

func (c *Client) hold(key string) *Lease {
	l := c.newLease(key)
	c.leases.add(l)
	return l
}
