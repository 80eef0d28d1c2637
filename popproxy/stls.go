package popproxy

import (
	"context"
	"fmt"

	"github.com/openmmp/mmp/logging"
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
	if n := c.r.Discard(); n > 0 {
		logging.Notice(c.log, fmt.Sprintf("client %s sent %d octets behind STLS before the TLS handshake; dropped", c.s.ClientAddr, n))
	}
	c.user = ""
	c.ok("Begin TLS negotiation")
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.s.StartTLS(ctx); err != nil {
		return errDone
	}
	c.r.Reset(c.s.Client)
	c.w.Reset(c.s.Client)
	return nil
}
