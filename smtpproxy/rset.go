package smtpproxy

// handleRset answers RSET (RFC 5321 §4.1.1.5). Before the pipe no mail
// transaction has begun, on the client's side or the relay's, so there is
// nothing to reset and the relay need not be asked.
func (c *conn) handleRset(arg string) error {
	if arg != "" {
		return errNoArguments
	}
	c.w.WriteString("250 2.0.0 OK\r\n")
	return nil
}
