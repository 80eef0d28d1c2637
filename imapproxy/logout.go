package imapproxy

import (
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
)

// handleLogout answers LOGOUT with the untagged BYE and the tagged OK
// RFC 3501 §6.1.3 requires, and ends the session.
func (c *conn) handleLogout(cmd *wire.Command) error {
	if len(cmd.Args) != 0 {
		return badArgs("LOGOUT takes no arguments")
	}
	c.untagged("BYE " + proxy.Product + " logging out")
	c.ok(cmd.Tag, "LOGOUT completed")
	return errDone
}
