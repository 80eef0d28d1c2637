package imapproxy

import "github.com/openmmp/mmp/internal/wire"

// handleStartTLS refuses STARTTLS: the MMP does not offer it yet. With
// TLS it will answer "OK Begin TLS negotiation now", drop anything the
// client pipelined behind the command (wire.Reader.Discard), run the
// handshake, swap the session's client connection (proxy.Session.
// SetClient) and the reader's source (wire.Reader.Reset), and recompute
// the capabilities (RFC 3501 §6.2.1, RFC 2595).
func (c *conn) handleStartTLS(cmd *wire.Command) error {
	return errNoStartTLS
}
