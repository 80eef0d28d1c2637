package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/openmmp/mmp/access"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
)

// The fleet's part of admission and login (docs/reference.md §4.9). The
// local tables are always fed, so that they can take over the moment
// Redis is down; while Redis answers, its view decides. Round trips to
// Redis on a login's path: one at accept (the connection's lease and the
// client's BadGuys penalty in one script), none at the first BadGuys
// wait (the penalty read at accept is used), one per failed login (the
// penalty update, whose result also serves the connection's next
// attempt), one at a successful login with MaxUserSessions (the user's
// lease). Forgiving a client that had a penalty and releasing leases are
// queued off the path.

// fleetState is a session's share of the fleet.
type fleetState struct {
	pen         *fleet.Penalty // the client's penalty as last read or written, for the next wait
	penalised   bool           // the fleet knew a penalty of the client's at a wait, or this session failed: forgive on success
	userRelease func()         // releases the user's session (MaxUserSessions); nil before
}

// admitFleet counts the connection across the fleet; local is this
// process's slot, already taken, and limit the client's ConnLimits.
func (s *Session) admitFleet(ctx context.Context, local func(), limit int) (release func(), refusal, reason string) {
	g := s.srv.guards
	fl := g.fleet
	ip := s.ClientAddr.Addr()
	if !ip.IsValid() {
		return local, "", ""
	}
	if fl.Up() {
		readPen := g.badGuys.Counts(ip)
		svc := s.serviceName()
		var (
			n   fleet.Count
			pen fleet.Penalty
			err error
		)
		if readPen {
			// BadGuys groups an IPv6 client by its /64 and ConnLimits by
			// ConnLimitsIPv6Prefix: when they differ the penalty is read on
			// the first wait instead.
			readPen = access.Group(ip) == g.conns.Group(ip)
		}
		n, pen, err = fl.AcquireConn(ctx, svc, g.conns.Group(ip), limit, readPen)
		if err == nil {
			if !n.Admitted {
				local()
				s.Log.Error(fmt.Sprintf("Connection limit reached for client IP %s (%d across the fleet)", ip, limit))
				return nil, "Too many connections from your address", metrics.RefusedConnLimits
			}
			if readPen {
				s.fleet.pen = &pen
			}
			lease := n.Lease
			return func() { local(); lease.Release() }, "", ""
		}
	}
	if fl.Refusing() {
		local()
		s.Log.Error(fmt.Sprintf("connection from %s refused: the fleet's Redis is down and FleetFailClosed is set", ip))
		return nil, "Service temporarily unavailable, try again later", metrics.RefusedFleet
	}
	// Fail open: this process's count decided. The connection is written
	// to Redis when it answers again.
	lease := fl.HoldConn(s.serviceName(), g.conns.Group(ip))
	return func() { local(); lease.Release() }, "", ""
}

// penalty is how long the client must wait before this attempt is
// decided: the fleet's penalty while Redis answers (read at accept, or
// left by this connection's last failure, or read now), else this
// process's.
func (s *Session) penalty(ctx context.Context) time.Duration {
	g := s.srv.guards
	ip := s.ClientAddr.Addr()
	local := g.badGuys.Delay(ip)
	if !g.fleet.Up() || !g.badGuys.Counts(ip) {
		return local
	}
	pen := s.fleet.pen
	s.fleet.pen = nil
	if pen == nil || time.Since(pen.At) > penaltyFresh {
		p, err := g.fleet.PenaltyOf(ctx, s.serviceName(), access.Group(ip))
		if err != nil {
			s.fleet.penalised = true // unknown: forgive on success, to be sure
			return local
		}
		pen = &p
	}
	if pen.Last > 0 {
		s.fleet.penalised = true
	}
	return pen.Delay(fleetBadGuys(g.badGuys.Config()), time.Now())
}

// penaltyFresh is how long a penalty read (at accept, or returned by a
// failure) stands for the fleet's: a client that waits longer before its
// login has it read again, with what other MMPs added meanwhile.
const penaltyFresh = 5 * time.Second

func fleetBadGuys(c access.BadGuysConfig) fleet.BadGuysParams {
	return fleet.BadGuysParams{Penalty: c.Penalty, MaxBadness: c.MaxBadness, Decay: c.Decay, Linear: c.Linear}
}

// fleetFailure counts a failure across the fleet and returns the
// client's penalty there; ok is false without a fleet that answers.
func (s *Session) fleetFailure(ip netip.Addr) (time.Duration, bool) {
	g := s.srv.guards
	if !g.fleet.Up() || !g.badGuys.Counts(ip) {
		return 0, false
	}
	bg := fleetBadGuys(g.badGuys.Config())
	d, err := g.fleet.Failure(context.Background(), s.serviceName(), access.Group(ip), bg)
	if err != nil {
		return 0, false
	}
	// The connection's next attempt waits this without asking again.
	s.fleet.pen = &fleet.Penalty{Last: d, Left: bg.Decay, At: time.Now()}
	s.fleet.penalised = true
	return d, true
}

// loginSucceeded forgives the client, here and across the fleet. Redis
// is told only when the client had a penalty there at its wait (or this
// session failed): an ordinary login costs no call for it.
func (s *Session) loginSucceeded() {
	g := s.srv.guards
	ip := s.ClientAddr.Addr()
	g.badGuys.Success(ip)
	s.fleet.pen = nil
	if s.fleet.penalised && g.fleet.Up() && g.badGuys.Counts(ip) {
		g.fleet.Forgive(s.serviceName(), access.Group(ip))
	}
}

// fleetClosed reports that a login must be refused because the fleet's
// Redis is down and FleetFailClosed is set.
func (s *Session) fleetClosed() bool {
	if !s.srv.guards.fleet.Refusing() {
		return false
	}
	s.Log.Error(fmt.Sprintf("login from %s refused: the fleet's Redis is down and FleetFailClosed is set", s.ClientAddr))
	metrics.Refused(s.serviceName(), metrics.RefusedFleet)
	return true
}

// limitUser applies MaxUserSessions to a login that succeeded: the
// user, as the directory knows them, gets a session across the fleet
// (or in this process), released when the session ends; over the limit
// the store connection is closed and the outcome is TooManySessions.
func (s *Session) limitUser(ctx context.Context, res *result) {
	limit := config.Get(s.Values, param.MaxUserSessions)
	if limit <= 0 || res.Route == nil {
		return
	}
	g := s.srv.guards
	user := canonicalUser(res.Route)
	svc := s.serviceName()
	var (
		localRelease func()
		ok           bool
		n            int
		where        = "in this MMP"
	)
	if g.fleet.Up() {
		c, err := g.fleet.AcquireUser(ctx, svc, user, limit)
		if err == nil {
			// The fleet decides; this process counts the session anyway,
			// for an outage.
			localRelease, _, _ = g.users.Acquire(user, access.Unlimited)
			ok, n, where = c.Admitted, c.N, "across the fleet"
			if ok {
				lease := c.Lease
				s.fleet.userRelease = func() { localRelease(); lease.Release() }
			} else {
				localRelease()
			}
		}
	}
	if localRelease == nil {
		localRelease, ok, n = g.users.Acquire(user, limit)
		if ok {
			lease := g.fleet.HoldUser(svc, user) // written when Redis answers again
			s.fleet.userRelease = func() { localRelease(); lease.Release() }
		}
	}
	if ok {
		return
	}
	logging.Notice(s.Log, fmt.Sprintf("user '%s' from %s refused: %d sessions %s, MaxUserSessions %d",
		res.Route.Name.Orig, s.ClientAddr, n, where, limit))
	metrics.Refused(svc, metrics.RefusedUserSessions)
	if res.Store != nil {
		s.Release(res.Store.Conn)
		res.Store = nil
	}
	res.Outcome, res.Text = TooManySessions, ""
}

// canonicalUser names a user for MaxUserSessions: the directory entry,
// whatever name or alias the login used.
func canonicalUser(r *Route) string {
	if r.User != nil && r.User.DN != "" {
		return strings.ToLower(r.User.DN)
	}
	return strings.ToLower(r.Name.Canon)
}
