package popproxy

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/openmmp/mmp/access"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
)

// handleXQueryAuth answers XQUERYAUTH ip-address (docs/reference.md §4.3.2, §7.18):
// "+OK <user>" when that address logged in with POP within
// AuthServiceTTL, "-ERR no recent login" otherwise. It is available only
// when AuthService is on for this connection (service or vdmap) and the
// asker may see who logged in from where (xqueryAllowed); to anyone else
// it is "-ERR XQUERYAUTH not available", the text authsvc.Remote
// recognises. The reply never depends on whether the address is known
// unless the asker is allowed, so the world learns nothing from it.
func (c *conn) handleXQueryAuth(ctx context.Context, args []string) error {
	client := c.s.ClientAddr.Addr()
	if c.p.auth == nil || !config.Get(c.v, param.AuthService) {
		c.log.Info(fmt.Sprintf("XQUERYAUTH from %s refused: AuthService is off", client))
		return errXQueryNotAvailable
	}
	if !xqueryAllowed(c.v, client, c.s.ServerAddr.Addr()) {
		logging.Notice(c.log, fmt.Sprintf("XQUERYAUTH from %s refused: not loopback and not allowed by TCPAccess for smtp", client))
		return errXQueryNotAvailable
	}
	if len(args) != 1 {
		return badArgs("XQUERYAUTH needs one IP address")
	}
	ip, err := netip.ParseAddr(args[0])
	if err != nil {
		return badArgs("XQUERYAUTH needs one IP address")
	}
	user, ok, err := c.p.auth.Lookup(ctx, ip)
	if err != nil || !ok {
		c.log.Info(fmt.Sprintf("XQUERYAUTH %s from %s: no recent login", ip, client))
		return errXQueryNone
	}
	c.log.Info(fmt.Sprintf("XQUERYAUTH %s from %s: '%s'", ip, client, user))
	c.ok(user)
	return nil
}

// xqueryAllowed decides who may ask XQUERYAUTH. The answer maps client
// addresses to users, so the default is no (docs/reference.md §7.18: "restrict to
// loopback + TCPAccess"):
//
//   - a loopback client may: an SMTP proxy on the same host;
//   - another client only when an allow rule ("+") of the connection's
//     TCPAccess (vdmap block first, else the service's) names the service
//     smtp explicitly and matches it, e.g. "+smtp:192.0.2.25": the rule
//     says "this address is one of our SMTP proxies". ALL does not count,
//     nor does the default of a filter in which no rule matches, so that
//     "+ALL:ALL" or a deny-only filter, written to admit POP clients, does
//     not open the cache to the world. Host names in such rules do not
//     match: no DNS lookup is made for this.
//
// The asker must of course also be admitted to the POP service by the
// same filter.
func xqueryAllowed(v *config.Values, client, server netip.Addr) bool {
	client = client.Unmap()
	if client.IsLoopback() {
		return true
	}
	f := config.Get(v, param.TCPAccess)
	return access.AllowsExplicitly(f.Filter, "smtp", access.Request{Client: client, Server: server})
}
