package popproxy

import (
	"context"
	"fmt"
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// logIn hands the credentials to the login pipeline, with this
// connection as the store side (replay.go), and answers the outcome
// (docs/reference.md §4.3.4): "+OK" and the store for the pipe, a
// spoofed maildrop when the login cannot be done for a temporary reason
// (§4.3.5), or a *reply, the client staying in the AUTHORIZATION state.
func (c *conn) logIn(ctx context.Context, cr sasl.Credentials) (*proxy.Store, error) {
	res, err := c.s.Login(ctx, cr, c)
	if err != nil {
		return nil, err
	}
	if res.Close {
		// The reply, then the end of the session (proxy.MaxLoginFailures).
		r := errAuthFailed
		if res.Outcome == proxy.NotAuthorized {
			r = errProxyLogin
		}
		c.line(r.Error())
		return nil, errDone
	}
	switch res.Outcome {
	case proxy.LoggedIn:
	case proxy.NotAuthorized:
		return nil, errProxyLogin
	case proxy.Unavailable:
		fail := errUnavailable
		if res.Text != "" {
			fail = &reply{text: res.Text}
		}
		return c.tempFailed(cr.User, "the login could not be done now", fail)
	case proxy.TooManySessions:
		return nil, errTooManySessions
	case proxy.StoreDown:
		return c.spoof(cr.User, "no store is reachable", false, errStoreDown)
	case proxy.StoreRefused:
		return nil, &reply{text: res.Text}
	default:
		return nil, errAuthFailed
	}
	text := res.Text
	if text == "" {
		text = "Logged in"
	}
	// The login counts from the store's +OK: remember it before the client
	// hears of it, so that its SMTP session right after finds the record.
	c.remember(res.Route)
	c.ok(text)
	st := res.Store
	// Commands the client pipelined behind its login belong to the pipe.
	st.FromClient = c.r.Drain()
	return st, c.flush()
}

// remember records a login for POP-before-SMTP (docs/reference.md §4.3.3) when
// AuthService is on for this connection and AuthServiceTTL is positive
// (§7.10: zero or less is off). The user is recorded as the directory
// knows them, with the domain when there is one (%s).
func (c *conn) remember(route *proxy.Route) {
	if c.p.auth == nil || !config.Get(c.v, param.AuthService) || config.Get(c.v, param.AuthServiceTTL) <= 0 {
		return
	}
	ip := c.s.ClientAddr.Addr()
	c.p.auth.Record(ip, route.Name.Canon)
	c.log.Debug(fmt.Sprintf("AuthService: %s logged in as '%s'", ip, route.Name.Canon))
}

// responseCode reads the RFC 2449 response code at the start of a -ERR
// text: "SYS/TEMP" for "[SYS/TEMP] Try later"; "" if there is none.
func responseCode(text string) string {
	if !strings.HasPrefix(text, "[") {
		return ""
	}
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return ""
	}
	return strings.ToUpper(text[1:end])
}

// tempFailed handles a temporary failure of a login whose user may well be
// right: the directory could not answer or holds the account, the store
// said [SYS/TEMP], or the store broke off the replay. Without
// SpoofTempFail the client gets fail; with it, the spoof rules apply.
func (c *conn) tempFailed(user, why string, fail *reply) (*proxy.Store, error) {
	if !config.Get(c.v, param.SpoofTempFail) {
		return nil, fail
	}
	return c.spoof(user, why, true, fail)
}

// spoof accepts the login without a store and serves a spoofed maildrop
// (docs/reference.md §4.3.5, §2.8), in this order: an empty one with
// SpoofEmptyMailbox; the SpoofMessageFile message when it is set; for a
// temporary failure (SpoofTempFail) an empty one even when neither is
// set, since SpoofTempFail asks for a mailbox by itself (Messaging Server Technical Reference, "Spooftempfail Option":
// "return an empty mailbox — or the SpoofMessageFile message"); else fail.
// A message file that cannot be read is logged and gives fail, not a
// mailbox the administrator did not ask for. Spoofed logins are never
// recorded for POP-before-SMTP and never count for BadGuys: the password
// was not checked.
func (c *conn) spoof(user, why string, temp bool, fail *reply) (*proxy.Store, error) {
	setting := "SpoofEmptyMailbox"
	if temp {
		setting = "SpoofTempFail"
	}
	var msg *spoofMessage
	path := config.Get(c.v, param.SpoofMessageFile)
	switch {
	case config.Get(c.v, param.SpoofEmptyMailbox):
	case path != "":
		m, err := c.p.spoofs.load(c.p.path(path))
		if err != nil {
			c.log.Error(fmt.Sprintf("user '%s' from %s: %s, and SpoofMessageFile cannot be served: %v", user, c.s.ClientAddr, why, err))
			return nil, fail
		}
		msg, setting = m, setting+", SpoofMessageFile "+path
	case temp:
	default:
		return nil, fail
	}
	what := "an empty mailbox"
	if msg != nil {
		what = "the spoof message (UIDL " + msg.uidl + ")"
	}
	logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: %s; SPOOF: serving %s (%s)", user, c.s.ClientAddr, why, what, setting))
	c.md = &maildrop{msg: msg, user: user}
	c.ok("Logged in")
	return nil, nil
}
