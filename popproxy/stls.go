package popproxy

import (
	"context"
)

// handleSTLS answers STLS (RFC 2595 §4): when offered (SSLEnable, a
// certificate, not yet encrypted), "+OK Begin TLS negotiation", then the
// handshake. Anything the client pipelined behind the command was sent in
// clear text and may have been injected (CVE-2011-0411): it is dropped,
// never executed. A USER name given before is forgotten, the reader and
// writer use the *tls.Conn, and CAPA is recomputed on demand (no STLS;
// USER and SASL PLAIN back under RestrictPlainPasswords). A failed
// handshake ends the session; proxy.Session.StartTLS logs it.
func (c *conn) handleSTLS(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return badArgs("STLS takes no arguments")
	}
	if !c.s.StartTLSOffered() {
		return errNoSTLS
	}
	c.user = ""
	return c.s.UpgradeTLS(ctx, "STLS", c.r, c.w, "+OK Begin TLS negotiation")
}
