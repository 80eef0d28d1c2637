package smtpproxy

// handleStartTLS refuses STARTTLS: the MMP does not offer it yet, and the
// relay's STARTTLS is never passed on, because TLS ends at the MMP (spec
// §4.4.1 steps 6 and 7). With TLS it will answer "220 2.0.0 Ready to start
// TLS", drop anything the client pipelined behind the command
// (wire.Reader.Discard, RFC 3207 §4.2), run the handshake, swap the
// session's client connection (proxy.Session.SetClient) and the reader's
// source (wire.Reader.Reset), forget the EHLO (the client must send it
// again, and the relay is introduced again with TLS=), and offerStartTLS
// will say false.
func (c *conn) handleStartTLS(arg string) error {
	if arg != "" {
		return errNoArguments
	}
	return errNoStartTLS
}
