package imapproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/param"
)

// capabilities is the effective pre-login list (docs/reference.md §4.2.2): the
// Capability parameter without the atoms that depend on the connection
// (STARTTLS, LOGINDISABLED, AUTH=...), which are computed for the session so the list
// is always true for this connection (7u1 behaviour, docs/reference.md §7.15).
// IMAP4rev1 is put first if the parameter forgot it: RFC 3501 requires it.
func (c *conn) capabilities() []string {
	base := config.Get(c.v, param.Capability)
	caps := make([]string, 0, len(base)+3)
	rev1 := false
	for _, a := range base {
		u := strings.ToUpper(a)
		if u == "STARTTLS" || u == "LOGINDISABLED" || strings.HasPrefix(u, "AUTH=") {
			continue
		}
		if u == "IMAP4REV1" {
			rev1 = true
		}
		caps = append(caps, a)
	}
	if !rev1 {
		caps = append([]string{"IMAP4rev1"}, caps...)
	}
	if c.s.StartTLSOffered() {
		caps = append(caps, "STARTTLS")
	}
	if c.s.PlainDisabled() {
		caps = append(caps, "LOGINDISABLED")
	}
	for _, m := range c.s.Mechanisms() {
		caps = append(caps, "AUTH="+m)
	}
	return caps
}

// hasCapability reports whether an atom is in the effective list.
func (c *conn) hasCapability(atom string) bool {
	for _, a := range c.capabilities() {
		if strings.EqualFold(a, atom) {
			return true
		}
	}
	return false
}

// handleCapability answers CAPABILITY.
func (c *conn) handleCapability(cmd *wire.Command) error {
	if len(cmd.Args) != 0 {
		return badArgs("CAPABILITY takes no arguments")
	}
	c.untagged("CAPABILITY " + strings.Join(c.capabilities(), " "))
	c.ok(cmd.Tag, "CAPABILITY completed")
	return nil
}
