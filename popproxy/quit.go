package popproxy

import "github.com/openmmp/mmp/proxy"

// handleQuit answers QUIT before login (RFC 1939 §6) and ends the session.
func (c *conn) handleQuit(args []string) error {
	if len(args) != 0 {
		return badArgs("QUIT takes no arguments")
	}
	c.ok(proxy.Product + " signing off")
	return errDone
}
