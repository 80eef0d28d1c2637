package imapproxy

import "github.com/openmmp/mmp/internal/wire"

// handleNoop answers NOOP; before login there is nothing to report.
func (c *conn) handleNoop(cmd *wire.Command) error {
	if len(cmd.Args) != 0 {
		return badArgs("NOOP takes no arguments")
	}
	c.ok(cmd.Tag, "NOOP completed")
	return nil
}
