package smtpproxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// handOff gives the session to the relay: line, the client's first command
// for the relay, and whatever the client pipelined behind it go first,
// then the proxy's pipe moves the bytes (docs/reference.md §4.4.1 step 8). A pending
// XCLIENT is sent now, the last moment the relay can learn who the client
// is.
func (c *conn) handOff(ctx context.Context, line []byte) (*proxy.Store, error) {
	// line points into the reader's buffer: copy it before reading on.
	pending := make([]byte, 0, len(line)+2+c.r.Buffered())
	pending = append(pending, line...)
	pending = append(pending, '\r', '\n')
	if n := c.r.Buffered(); n > 0 {
		b, err := c.r.ReadFull(n)
		if err != nil {
			return nil, err
		}
		pending = append(pending, b...)
	}
	if c.pending {
		c.pending = false
		if _, err := c.sendXCLIENT(c.relay); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.log.Error(fmt.Sprintf("relay %s: %v", c.relay.addr, err))
			c.dropRelay()
			return nil, errNoRelay
		}
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	rc := c.relay
	if !rc.stop() {
		return nil, ctx.Err() // the session is being closed
	}
	c.relay = nil
	st := &proxy.Store{Conn: c.filter(rc.c), Addr: rc.addr, Login: c.relayLogin(), User: c.whoUser(), FromClient: pending}
	if n := rc.r.Buffered(); n > 0 {
		b, _ := rc.r.ReadFull(n)
		st.FromStore = append([]byte(nil), b...)
	}
	c.s.Client.SetDeadline(time.Time{})
	rc.c.SetDeadline(time.Time{})
	who := "unauthenticated"
	switch {
	case c.login != "":
		who = "user '" + c.login + "'"
	case c.popUser != "":
		who = "POP-before-SMTP user '" + c.popUser + "'"
	}
	logging.Notice(c.log, fmt.Sprintf("client %s (%s, %s) handed to relay %s", c.s.ClientAddr, c.helo, who, rc.addr))
	return st, nil
}

// whoUser is the session's user for who is connected: the one who
// authenticated with the MMP, else the POP-before-SMTP user; "" for an
// anonymous session, which is not listed.
func (c *conn) whoUser() string {
	switch {
	case c.login != "" && c.canon != "":
		return c.canon
	case c.login != "":
		return c.login
	}
	return c.popUser
}

// filter wraps the relay connection for the pipe (filter.go): the client
// may send the relay mail, not the commands the MMP speaks for it.
func (c *conn) filter(relay net.Conn) net.Conn {
	return &filter{
		Conn: relay,
		allowed: func(verb, arg string) bool {
			switch {
			case proxyCommands[verb], verb == "EHLO", verb == "HELO", verb == "STARTTLS":
				return false
			case strings.HasPrefix(verb, "AUTH"):
				// With SmtpAuth relay the relay may authenticate, but not
				// a clear-text password RestrictPlainPasswords forbids here.
				mech, _, _ := strings.Cut(arg, " ")
				mech = strings.ToUpper(mech)
				return verb == "AUTH" && !c.directoryAuth && c.login == "" &&
					!(c.s.PlainDisabled() && (mech == sasl.Plain || mech == sasl.Login))
			}
			return true
		},
		refused: func(verb string) {
			logging.Notice(c.log, fmt.Sprintf("client %s sent %s after the hand-off; refused", c.s.ClientAddr, verb))
		},
	}
}
