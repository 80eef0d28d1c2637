package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/openmmp/mmp/access"
	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
)

// DNSTimeout bounds the reverse and forward lookups an access filter with
// host names needs (docs/reference.md §3.6), so that a slow resolver delays a
// connection but never hangs it.
const DNSTimeout = 5 * time.Second

// ErrAccessDenied means a per-user or per-domain access filter refused the
// client (docs/reference.md §3.6). It wraps account.ErrNoUser: the client
// gets the reply of a failed login, and the log says why.
var ErrAccessDenied = fmt.Errorf("access filter refused the client: %w", account.ErrNoUser)

// guards are a service's admission state: the BadGuys table and the
// connection counts. They belong to the Server and outlive refreshes
// (docs/reference.md §4.8: the BadGuys table survives a refresh).
type guards struct {
	badGuys *access.BadGuys
	conns   *access.ConnCounter
	users   *access.SessionCounter // MaxUserSessions in this process
	fleet   *fleet.Client          // nil: no fleet
}

func newGuards(svc *config.Service) *guards {
	g := &guards{
		badGuys: access.NewBadGuys(badGuysConfig(svc)),
		conns:   access.NewConnCounter(svc.ConnLimits),
		users:   access.NewSessionCounter(),
	}
	g.conns.SetIPv6Prefix(config.Get(svc.Values, param.ConnLimitsIPv6Prefix))
	return g
}

// update applies a refreshed configuration, keeping penalties and counts.
func (g *guards) update(svc *config.Service) {
	g.badGuys.Reconfigure(badGuysConfig(svc))
	g.conns.SetLimits(svc.ConnLimits)
	g.conns.SetIPv6Prefix(config.Get(svc.Values, param.ConnLimitsIPv6Prefix))
}

func badGuysConfig(svc *config.Service) access.BadGuysConfig {
	v := svc.Values
	return access.BadGuysConfig{
		Max:        config.Get(v, param.BGMax),
		Penalty:    config.Get(v, param.BGPenalty),
		MaxBadness: config.Get(v, param.BGMaxBadness),
		Decay:      config.Get(v, param.BGDecay),
		Linear:     config.Get(v, param.BGLinear),
		Excluded:   svc.BGExcluded,
	}
}

// serviceName is the TCPAccess service of a session: imap, pop or smtp.
func (s *Session) serviceName() string { return serviceName(s.Service.Protocol) }

// serviceName is the TCPAccess service of a protocol: imap, pop or smtp.
func serviceName(protocol param.Where) string {
	switch protocol {
	case param.POP:
		return "pop"
	case param.SMTP:
		return "smtp"
	}
	return "imap"
}

// request describes the session to an access filter, looking the client's
// host name up only when the filter needs it (or ClientLookup asks).
func (s *Session) request(ctx context.Context, f *cfgfmt.Filter, user string) access.Request {
	r := access.Request{
		Service: s.serviceName(),
		TLS:     s.TLS(),
		Client:  s.ClientAddr.Addr(),
		Server:  s.ServerAddr.Addr(),
		User:    user,
	}
	if access.NeedsDNS(f) || config.Get(s.Values, param.ClientLookup) {
		r.ClientName, r.NameVerified, _ = s.ClientName(ctx)
	}
	return r
}

// ClientName is the client's host name from reverse DNS, looked up at most
// once per session within DNSTimeout (docs/reference.md §1.5: the MMP
// does not cache DNS across sessions; a local caching resolver is
// expected). verified says the name resolves back to the client's
// address (forward-confirmed), the only kind Postfix and the Sun MTAs
// trust; name is then that name, else the first PTR name. temp says the
// DNS failed rather than said no. Access filters and the SMTP
// introduction both ask here.
func (s *Session) ClientName(ctx context.Context) (name string, verified, temp bool) {
	if !s.nameDone {
		s.nameDone = true
		s.name, s.nameOK, s.nameTemp = lookUpName(ctx, s.srv.resolver(), s.ClientAddr.Addr().Unmap())
	}
	return s.name, s.nameOK, s.nameTemp
}

// lookUpName finds the names of ip and the first one that resolves back.
func lookUpName(ctx context.Context, r *net.Resolver, ip netip.Addr) (name string, verified, temp bool) {
	ctx, cancel := context.WithTimeout(ctx, DNSTimeout)
	defer cancel()
	isTemp := func(err error) bool {
		var de *net.DNSError
		return errors.As(err, &de) && (de.IsTemporary || de.IsTimeout)
	}
	names, err := r.LookupAddr(ctx, ip.String())
	if err != nil || len(names) == 0 {
		return "", false, isTemp(err)
	}
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		addrs, err := r.LookupNetIP(ctx, "ip", n)
		if err != nil {
			temp = temp || isTemp(err)
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == ip {
				return n, true, false
			}
		}
	}
	return strings.TrimSuffix(names[0], "."), false, temp
}

// admit runs the accept-time checks of docs/reference.md §4.1: the global or vdmap
// TCPAccess filter, then the client's connection limit, across the fleet
// when there is one (admitFleet). It returns a release func for the
// connection slot, or a refusal text and the reason for the metrics. The
// user's session (MaxUserSessions, fleetState.userRelease) is released
// apart, where the session ends.
func (s *Session) admit(ctx context.Context) (release func(), refusal, reason string) {
	if f := config.Get(s.Values, param.TCPAccess); f.Filter != nil && len(f.Rules) > 0 {
		if !access.Allows(f.Filter, s.request(ctx, f.Filter, "")) {
			logging.Notice(s.Log, fmt.Sprintf("connection from %s to %s refused by TCPAccess", s.ClientAddr, s.ServerAddr))
			return nil, "Access denied", metrics.RefusedTCPAccess
		}
	}
	ip := s.ClientAddr.Addr()
	release, ok, limit := s.srv.guards.conns.Acquire(ip)
	if !ok {
		s.Log.Error(fmt.Sprintf("Connection limit reached for client IP %s (%d)", ip, limit))
		return nil, "Too many connections from your address", metrics.RefusedConnLimits
	}
	if s.srv.guards.fleet.Enabled() {
		return s.admitFleet(ctx, release, limit)
	}
	return release, "", ""
}

// checkUserAccess applies the per-user access filter, the attribute named
// by TCPAccessAttr, after the directory lookup; a user without one gets
// the filter of their domain, mailDomainAllowedServiceAccess (docs/reference.md §3.6,
// §4.1: the user's own rules are the more specific).
func (s *Session) checkUserAccess(ctx context.Context, u *account.User, login string) error {
	text := u.Attr(config.Get(s.Values, param.TCPAccessAttr))
	if text == "" && u.Domain != nil {
		text = strings.Join(u.Domain.AllowedServiceAccess, "$")
	}
	if text == "" {
		return nil
	}
	f, _, err := cfgfmt.ParseFilter(text)
	if err != nil {
		s.Log.Warn(fmt.Sprintf("user '%s': the access filter in %s does not parse (%v); refusing", login, u.DN, err))
		return ErrAccessDenied
	}
	if !access.Allows(f, s.request(ctx, f, login)) {
		logging.Notice(s.Log, fmt.Sprintf("user '%s' from %s refused by the access filter of %s", login, s.ClientAddr, u.DN))
		return ErrAccessDenied
	}
	return nil
}

// waitPenalty delays an authentication attempt by the client's BadGuys
// penalty (docs/reference.md §4.6): the fleet's when there is one and
// Redis answers, else this process's. Only this session's goroutine waits.
func (s *Session) waitPenalty(ctx context.Context) error {
	s.inLogin.Store(true) // until the next command (SetIdleDeadline)
	ip := s.ClientAddr.Addr()
	d := s.penalty(ctx)
	if d > 0 {
		s.Log.Info(fmt.Sprintf("badguy %s: delaying the login %d seconds", ip, access.Seconds(d)))
	}
	if err := sleepUntil(ctx, time.Now().Add(d)); err != nil {
		return err
	}
	// The login is being decided: the connection is not idle, and not to
	// be closed for a new one, until the protocol asks for the next
	// command (SetIdleDeadline).
	s.limits().busy(s)
	return nil
}

// TLS reports whether the client connection is encrypted (an SSL port or
// after STARTTLS); access filters then see imaps, pops or smtps. On an
// SSL port it is true from the accept, so that TCPAccess, checked before
// the handshake, already sees imaps, pops or smtps.
func (s *Session) TLS() bool {
	if s.implicit {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.Client.(*tls.Conn)
	return ok
}
