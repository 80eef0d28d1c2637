package smtpproxy

import "github.com/openmmp/mmp/proxy"

// handleHelp answers HELP before EHLO (RFC 5321 §4.1.1.8); after EHLO the
// relay answers it, since only the relay knows what it supports.
func (c *conn) handleHelp() error {
	c.w.WriteString("214 2.0.0 " + c.p.id.Host + " " + proxy.Product + ": send EHLO, then your mail\r\n")
	return nil
}
