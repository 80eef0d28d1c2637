package smtpproxy

// handleNoop answers NOOP (RFC 5321 §4.1.1.9). Before the pipe the MMP
// answers it itself, since there is nothing for the relay to do; a
// parameter is allowed and ignored, as RFC 5321 says.
func (c *conn) handleNoop() error {
	c.w.WriteString("250 2.0.0 OK\r\n")
	return nil
}
