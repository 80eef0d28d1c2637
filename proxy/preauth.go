package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
)

// preAuthOn says whether a route's password is checked against the
// directory: the domain's mailAccessProxyPreAuth when it has one, else
// the session's PreAuth (spec §2.3).
func (s *Session) preAuthOn(r *Route) bool {
	switch strings.ToLower(r.User.Attr(AttrDomainPreAuth)) {
	case "yes", "true", "on", "1":
		return true
	case "no", "false", "off", "0":
		return false
	}
	return config.Get(s.Values, param.PreAuth)
}

// CheckPassword pre-authenticates a routed login when PreAuth applies
// (spec §2.3, §4.1): the directory checks the password before any store
// is contacted, so that guessing costs the stores nothing. Without
// PreAuth it returns nil and the store's answer decides. A wrong password
// counts against the client (BadGuys); the error wraps ErrNoUser or
// ErrUnavailable as Route's do. Protocols call it right after Route.
func (s *Session) CheckPassword(ctx context.Context, r *Route, password string) error {
	if !s.preAuthOn(r) {
		return nil
	}
	pa, ok := s.srv.opts.Router.(PreAuthenticator)
	if !ok {
		return fmt.Errorf("proxy: PreAuth is on but the directory cannot check passwords: %w", ErrUnavailable)
	}
	err := pa.PreAuth(ctx, r.Query, r.User, password)
	switch {
	case err == nil:
		logging.Notice(s.Log, PreAuthLine(time.Now(), s.ID, r.Name.Canon, s.ClientAddr.Addr(), s.ServerAddr.Addr()))
	case errors.Is(err, ErrNoUser):
		s.LoginFailed()
	}
	return err
}

// PreAuthLine is the log line of a successful pre-authentication in
// the Sun Messaging Server 6 form (spec §3.10):
//
//	20240115 093012 (sid 0x1a2b3c) joe@siroe.com pre-authenticated - 203.0.113.9, 192.168.10.5
//
// t is written as it is (the MMP wrote server local time: pass
// time.Now()), sid is the session id in hexadecimal, user should include
// the virtual domain (the login's user@domain), and addresses are written
// without the IPv4-mapped IPv6 prefix; an invalid address is written "-".
func PreAuthLine(t time.Time, sid uint64, user string, client, server netip.Addr) string {
	text := func(a netip.Addr) string {
		if !a.IsValid() {
			return "-"
		}
		return a.Unmap().String()
	}
	return fmt.Sprintf("%s (sid 0x%x) %s pre-authenticated - %s, %s", t.Format("20060102 150405"), sid, user, text(client), text(server))
}
