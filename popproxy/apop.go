package popproxy

import "github.com/openmmp/mmp/logging"

// handleAPOP refuses APOP name digest (RFC 1939 §7). Checking a digest
// needs the user's clear-text password from the directory (CRAMs, spec
// §2.3), which proxy.Router does not hand out yet; until it does, the
// greeting's timestamp (CRAMs on) is there but APOP answers -ERR, and
// clients fall back to USER/PASS or AUTH. The reply is not charged to the
// error budget: the client did nothing wrong.
func (c *conn) handleAPOP(args []string) error {
	if len(args) != 2 {
		return badArgs("APOP needs a user name and a digest")
	}
	if c.timestamp == "" {
		return errAPOP
	}
	logging.Notice(c.log, "APOP login of '"+args[0]+"' from "+c.s.ClientAddr.String()+" refused: APOP is not implemented yet")
	return errAPOP
}
