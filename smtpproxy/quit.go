package smtpproxy

// handleQuit answers QUIT before EHLO (RFC 5321 §4.1.1.10) and ends the
// session. After EHLO, QUIT goes to the relay like any other command, so
// that the relay ends its session cleanly and answers it.
func (c *conn) handleQuit() error {
	c.w.WriteString("221 2.0.0 " + c.p.id.Host + " closing connection\r\n")
	return errDone
}
