package imapproxy

import (
	"context"

	"github.com/openmmp/mmp/internal/wire"
)

// handleStartTLS answers STARTTLS (RFC 3501 §6.2.1, RFC 2595 §3.1): when
// offered (SSLEnable, a certificate, not yet encrypted), "OK Begin TLS
// negotiation now", then the handshake. Anything the client pipelined
// behind the command was sent in clear text and may have been injected
// by a man in the middle (CVE-2011-0411): it is dropped, never executed.
// Afterwards the reader and writer use the *tls.Conn, and the capability
// list is recomputed on demand (no STARTTLS, no LOGINDISABLED). A failed
// handshake ends the session; proxy.Session.StartTLS logs it.
func (c *conn) handleStartTLS(ctx context.Context, cmd *wire.Command) error {
	if len(cmd.Args) != 0 {
		return badArgs("STARTTLS takes no arguments")
	}
	if !c.s.StartTLSOffered() {
		return errNoStartTLS
	}
	return c.s.UpgradeTLS(ctx, "STARTTLS", c.r, c.w, cmd.Tag+" OK Begin TLS negotiation now")
}
