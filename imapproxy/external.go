package imapproxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
)

// externalOffered says whether AUTHENTICATE EXTERNAL is offered: TLS is
// in effect, the client presented a certificate that chained to
// SSLClientCAPEM, and CertmapFile is set (spec §3.7).
func (c *conn) externalOffered() bool {
	return c.s.TLS() && c.s.CertificateLoginOffered()
}

// external runs AUTHENTICATE EXTERNAL (RFC 4422 appendix A, spec §4.2.3):
// the identity is the user the client certificate maps to with
// certmap.conf. The client's one message is an authorization identity,
// which must be empty ("=" as an initial response, or an empty line) or
// name that same user. With no password of the user to replay, the MMP
// logs in to the store as StoreAdmin on the user's behalf (AUTHENTICATE
// PLAIN, authzid = the replay name, spec §4.2.5).
func (c *conn) external(ctx context.Context, tag string, ir []byte, hasIR bool) (*proxy.Store, error) {
	resp := ir
	if !hasIR {
		c.w.WriteString("+ \r\n")
		line, err := c.readResponse()
		if err != nil {
			return nil, err
		}
		resp = line
	}
	var authz []byte
	if len(resp) > 0 {
		var err error
		if authz, err = decode(resp); err != nil {
			return nil, err
		}
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
	admin := config.Get(c.v, param.StoreAdmin)
	if admin == "" {
		c.log.Error(fmt.Sprintf("client certificate login of '%s': StoreAdmin is not set; the store cannot be logged in to without a password", route.Name.Orig))
		return nil, errUnavailable
	}
	return c.logIn(ctx, tag, credentials{
		user:  route.Name.Orig,
		pass:  logging.Secret(config.Get(c.v, param.StoreAdminPass)),
		mech:  "PROXY",
		route: route,
		admin: admin,
	})
}
