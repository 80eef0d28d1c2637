package smtpproxy

import (
	"context"
)

// handleStartTLS answers STARTTLS (RFC 3207), which ends at the MMP: the
// relay's STARTTLS is never passed on (docs/reference.md §4.4.1 steps 6 and 7). When
// offered (SSLEnable, a certificate, not yet encrypted) the MMP answers
// "220 2.0.0 Ready to start TLS" and runs the handshake. Anything the
// client pipelined behind the command was sent in clear text and may have
// been injected (RFC 3207 §4.2, CVE-2011-0411): it is dropped, never
// executed. Afterwards everything learnt before is forgotten (RFC 3207
// §4.2): the EHLO, an MMP login, and the relay connection itself, so that
// the client must EHLO again (until then MAIL and the rest get "503 EHLO
// first") and that EHLO introduces the client to a relay afresh, with
// XPEHLO's TLS= (or XCLIENT, which Postfix accepts once per connection).
// A failed handshake ends the session; proxy.Session.StartTLS logs it.
func (c *conn) handleStartTLS(ctx context.Context, arg string) error {
	if arg != "" {
		return errNoArguments
	}
	if !c.offerStartTLS() {
		return errNoStartTLS
	}
	c.dropRelay()
	c.helo, c.esmtp, c.ehlo, c.pending, c.login, c.canon = "", false, nil, false, "", ""
	return c.s.UpgradeTLS(ctx, "STARTTLS", c.r, c.w, "220 2.0.0 Ready to start TLS")
}
