package popproxy

import (
	"strconv"
	"strings"

	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
)

// maildrop is the TRANSACTION state of a spoofed session (docs/reference.md §4.3.5):
// no message (SpoofEmptyMailbox, SpoofTempFail) or the spoof message as
// message 1. DELE marks the message deleted for the rest of the session
// and RSET brings it back, as RFC 1939 asks; QUIT deletes nothing (§3.9),
// so every session sees the message again.
type maildrop struct {
	msg     *spoofMessage // nil: an empty maildrop
	user    string
	deleted bool
}

// dispatch runs one command of the spoofed TRANSACTION state.
func (md *maildrop) dispatch(c *conn, name string, args []string) error {
	switch name {
	case "STAT":
		if len(args) != 0 {
			return badArgs("STAT takes no arguments")
		}
		n, size := md.stat()
		c.ok(strconv.Itoa(n) + " " + strconv.Itoa(size))
	case "LIST", "UIDL":
		return md.handleList(c, name, args)
	case "RETR":
		if len(args) != 1 {
			return badArgs("RETR needs a message number")
		}
		if err := md.get(args[0]); err != nil {
			return err
		}
		c.ok(strconv.Itoa(md.msg.size) + " octets")
		md.write(c, len(md.msg.lines))
	case "TOP":
		if len(args) != 2 {
			return badArgs("TOP needs a message number and a number of lines")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 {
			return badArgs("TOP needs a message number and a number of lines")
		}
		if err := md.get(args[0]); err != nil {
			return err
		}
		c.ok("")
		md.write(c, min(md.msg.body+n, len(md.msg.lines)))
	case "DELE":
		if len(args) != 1 {
			return badArgs("DELE needs a message number")
		}
		if err := md.get(args[0]); err != nil {
			return err
		}
		md.deleted = true
		c.ok("Message 1 deleted")
	case "RSET":
		if len(args) != 0 {
			return badArgs("RSET takes no arguments")
		}
		md.deleted = false
		n, size := md.stat()
		c.ok("Maildrop has " + strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)")
	case "NOOP":
		if len(args) != 0 {
			return badArgs("NOOP takes no arguments")
		}
		c.ok("")
	case "CAPA":
		if len(args) != 0 {
			return badArgs("CAPA takes no arguments")
		}
		c.writeList("Capability list follows", md.capabilities(c))
	case "QUIT":
		if len(args) != 0 {
			return badArgs("QUIT takes no arguments")
		}
		// Nothing is expunged: the spoof message is shared by everyone.
		c.ok(proxy.Product + " signing off")
		logging.Notice(c.log, "spoofed session of user '"+md.user+"' ended with QUIT")
		return errDone
	default:
		return errUnknownInMail
	}
	return nil
}

// stat counts the messages not deleted and their size.
func (md *maildrop) stat() (n, size int) {
	if md.msg == nil || md.deleted {
		return 0, 0
	}
	return 1, md.msg.size
}

// get checks a message number: only 1 exists, and only with a message.
func (md *maildrop) get(arg string) error {
	n, err := strconv.Atoi(arg)
	if err != nil {
		return badArgs("Invalid message number")
	}
	if md.msg == nil || n != 1 {
		return errNoSuchMessage
	}
	if md.deleted {
		return errDeleted
	}
	return nil
}

// handleList answers LIST and UIDL, for one message or all of them.
func (md *maildrop) handleList(c *conn, name string, args []string) error {
	value := func() string {
		if name == "UIDL" {
			return md.msg.uidl
		}
		return strconv.Itoa(md.msg.size)
	}
	switch len(args) {
	case 0:
		n, size := md.stat()
		var lines []string
		if n == 1 {
			lines = []string{"1 " + value()}
		}
		text := ""
		if name == "LIST" {
			text = strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)"
		}
		c.writeList(text, lines)
	case 1:
		if err := md.get(args[0]); err != nil {
			return err
		}
		c.ok("1 " + value())
	default:
		return badArgs(name + " takes at most a message number")
	}
	return nil
}

// write sends the first n lines of the message, dot-stuffed (RFC 1939
// §3), and the terminating dot line.
func (md *maildrop) write(c *conn, n int) {
	for _, l := range md.msg.lines[:n] {
		if strings.HasPrefix(l, ".") {
			c.w.WriteByte('.')
		}
		c.line(l)
	}
	c.line(".")
}

// capabilities is CAPA in the TRANSACTION state: PopCapability without
// what is only for the AUTHORIZATION state.
func (md *maildrop) capabilities(c *conn) []string {
	var out []string
	for _, l := range configuredCapa(c.v) {
		switch strings.ToUpper(l[0]) {
		case "USER", "SASL", "STLS":
			continue
		}
		out = append(out, strings.Join(l, " "))
	}
	return out
}
