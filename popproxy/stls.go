package popproxy

// handleSTLS refuses STLS: the MMP does not offer it yet. With TLS it will
// answer "+OK Begin TLS negotiation", drop anything the client pipelined
// behind the command (wire.Reader.Discard), run the handshake, swap the
// session's client connection (proxy.Session.SetClient) and the reader's
// source (wire.Reader.Reset), forget any USER name, and recompute the
// capabilities (RFC 2595 §4, CVE-2011-0411).
func (c *conn) handleSTLS(args []string) error {
	return errNoSTLS
}
