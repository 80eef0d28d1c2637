package imapproxy

import (
	"strconv"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
)

// handleID answers ID (RFC 2971) for the MMP itself, only when ID is in
// the effective capability list; it is never forwarded before login, so
// the store sees the client's ID only if the client repeats it after
// login (docs/reference.md §4.2.3, §7.34).
func (c *conn) handleID(cmd *wire.Command) error {
	if len(cmd.Args) != 1 || (cmd.Args[0].Kind != wire.List && !cmd.Args[0].IsNil()) {
		return badArgs("ID takes a parameter list or NIL")
	}
	c.untagged("ID (\"name\" " + strconv.Quote(proxy.Product) + " \"version\" " + strconv.Quote(c.p.id.Version) + ")")
	c.ok(cmd.Tag, "ID completed")
	return nil
}
