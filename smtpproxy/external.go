package smtpproxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
)

// externalOffered says whether AUTH EXTERNAL is offered: TLS is in effect
// (an SSL port or after STARTTLS), the client presented a certificate
// that chained to SSLClientCAPEM, CertmapFile is set (spec §3.7), and the
// relay can be told the login afterwards.
//
// The relay never sees the client's certificate, since TLS ends at the
// MMP, so EXTERNAL is always the MMP's own, in either SmtpAuth mode. With
// SmtpAuth directory it is offered whatever SmtpRelayAnnounce says, like
// PLAIN and LOGIN. With SmtpAuth relay it is offered only with XPEHLO,
// which the MMP can send again with LOGIN=: there the XCLIENT went out at
// EHLO time and Postfix refuses a second one, and PROXY and none cannot
// carry a login at all, so a certificate login would gain the client
// nothing.
func (c *conn) externalOffered() bool {
	return c.s.TLS() && c.s.CertificateLoginOffered() && (c.directoryAuth || c.announce == "xpehlo")
}

// external runs AUTH EXTERNAL (RFC 4954, RFC 4422 appendix A): the
// identity is the user the client certificate maps to with certmap.conf
// (proxy.Session.RouteCertificate, which has the same access checks as a
// password login and counts a failure against the address). The client's
// one message is an authorization identity, which must be empty ("=" as
// the initial response, or an empty line after "334 ") or name that same
// user. Success goes on exactly like a password checked with SmtpAuth
// directory: the relay learns the user (XPEHLO or XCLIENT LOGIN=), then
// the client hears 235.
func (c *conn) external(ctx context.Context, ir string, hasIR bool) error {
	if !c.externalOffered() {
		return errMechanism
	}
	resp := []byte(ir)
	if !hasIR {
		c.w.WriteString("334 \r\n")
		line, err := c.readResponse()
		if err != nil {
			return err
		}
		resp = line
	}
	var authz []byte
	if len(resp) > 0 {
		var err error
		if authz, err = decode(resp); err != nil {
			return err
		}
	}
	route, err := c.s.RouteCertificate(ctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, proxy.ErrNoUser):
		logging.Notice(c.log, fmt.Sprintf("client certificate login from %s failed: %v", c.s.ClientAddr, err))
		return errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("client certificate login from %s: lookup failed: %v", c.s.ClientAddr, err))
		return errAuthTemp
	}
	user := route.Name.Orig
	if a := string(authz); a != "" && a != user && a != route.Replay {
		logging.Notice(c.log, fmt.Sprintf("client certificate login of '%s' from %s as '%s' refused: proxy logins are not supported", user, c.s.ClientAddr, a))
		return errAuthFailed
	}
	return c.loggedIn(ctx, "EXTERNAL", user)
}
