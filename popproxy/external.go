package popproxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
)

// externalOffered says whether AUTH EXTERNAL is offered: TLS is in
// effect, the client presented a certificate that chained to
// SSLClientCAPEM, and CertmapFile is set (spec §3.7).
func (c *conn) externalOffered() bool {
	return c.encrypted() && c.s.CertificateLoginOffered()
}

// external runs AUTH EXTERNAL (RFC 5034, RFC 4422 appendix A): the
// identity is the user the client certificate maps to with certmap.conf.
// The client's one message is an authorization identity, which must be
// empty ("=" as an initial response, or an empty line after "+ ") or name
// that same user. With no password of the user to replay, the MMP logs in
// to the store as StoreAdmin on the user's behalf: AUTH PLAIN with
// authzid = the replay name (spec §4.3.4).
func (c *conn) external(ctx context.Context, ir []byte, hasIR bool) (*proxy.Store, error) {
	resp := ir
	if !hasIR {
		c.line("+ ")
		line, err := c.readResponse()
		if err != nil {
			return nil, err
		}
		resp = line
	}
	authz, err := decode(resp)
	if err != nil {
		return nil, err
	}
	route, err := c.s.RouteCertificate(ctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, proxy.ErrNoUser):
		logging.Notice(c.log, fmt.Sprintf("client certificate login from %s failed: %v", c.s.ClientAddr, err))
		return nil, errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("client certificate login from %s: lookup failed: %v", c.s.ClientAddr, err))
		return nil, errUnavailable
	}
	if a := string(authz); a != "" && a != route.Name.Orig && a != route.Replay {
		logging.Notice(c.log, fmt.Sprintf("client certificate login of '%s' from %s as '%s' refused", route.Name.Orig, c.s.ClientAddr, a))
		return nil, errProxyLogin
	}
	admin, pass := config.Get(c.v, param.StoreAdmin), config.Get(c.v, param.StoreAdminPass)
	if admin == "" || pass == "" {
		c.log.Error(fmt.Sprintf("client certificate login of '%s': StoreAdmin or StoreAdminPass is not set; the store cannot be logged in to without a password", route.Name.Orig))
		return nil, errUnavailable
	}
	return c.logIn(ctx, credentials{
		user:  route.Name.Orig,
		pass:  logging.Secret(pass),
		mech:  "PROXY",
		route: route,
		admin: admin,
	})
}
