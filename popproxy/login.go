package popproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
)

// credentials are what a client logged in with.
type credentials struct {
	user string
	pass logging.Secret
	mech string // "USER" (USER/PASS), "PLAIN" or "LOGIN" (AUTH), "PROXY"
	// For mech "PROXY" (a certificate login, external.go): the route
	// already found, and the store administrator whose password pass is,
	// replayed as AUTH PLAIN on the user's behalf (spec §4.3.4).
	route *proxy.Route
	admin string
}

// viaAUTH says the client used AUTH, which the replay repeats when the
// store offers SASL PLAIN.
func (cr credentials) viaAUTH() bool { return cr.mech != "USER" }

// logIn routes a user with credentials to their store and replays the
// login there (spec §4.3.4). On success it returns the store for the pipe.
// When the login cannot be done for a temporary reason it applies the
// spoof rules (§4.3.5); otherwise it returns a *reply, and the client
// stays in the AUTHORIZATION state.
func (c *conn) logIn(ctx context.Context, cr credentials) (*proxy.Store, error) {
	if cr.user == "" || cr.pass == "" || strings.ContainsAny(cr.user, "\x00\r\n") || strings.IndexByte(string(cr.pass), 0) >= 0 {
		// Only AUTH can carry these: nobody has such a name, and neither
		// an empty password nor a NUL can be replayed.
		logging.Notice(c.log, fmt.Sprintf("login from %s refused: empty or control characters in the credentials", c.s.ClientAddr))
		c.s.LoginFailed()
		return nil, errAuthFailed
	}
	route, err := cr.route, error(nil)
	if route == nil {
		route, err = c.s.Route(ctx, cr.user)
		if err == nil {
			// PreAuth: the directory checks the password before any store does.
			err = c.s.CheckPassword(ctx, route, string(cr.pass))
		}
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, proxy.ErrNoUser):
		// Route has counted an unknown user against BadGuys already.
		logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: authentication failed: %v", cr.user, c.s.ClientAddr, err))
		return nil, errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("user '%s' from %s: lookup failed: %v", cr.user, c.s.ClientAddr, err))
		return c.tempFailed(cr, "the lookup failed", errUnavailable)
	}
	var sc *storeConn
	nc, addr, err := c.s.ConnectStore(ctx, route, func(nc net.Conn) error {
		sc = newStoreConn(nc)
		return sc.greeting()
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.log.Error(fmt.Sprintf("user '%s': no store reachable (%s): %v", cr.user, strings.Join(route.Hosts, ", "), err))
		return c.spoof(cr, "no store is reachable", false, errStoreDown)
	}
	sc.addr = addr
	ok, text, err := c.replay(sc, route.Replay, cr)
	if errors.Is(err, errUnreplayable) {
		c.s.Release(nc)
		c.log.Warn(fmt.Sprintf("user '%s' (as '%s'): %v", cr.user, route.Replay, err))
		return nil, errAuthFailed
	}
	if err != nil {
		c.s.Release(nc)
		c.log.Error(fmt.Sprintf("user '%s': replay to store %s failed: %v", cr.user, addr, err))
		return c.tempFailed(cr, "the store failed during the login", errUnavailable)
	}
	if !ok {
		c.s.Release(nc)
		logging.Notice(c.log, fmt.Sprintf("user '%s' (as '%s') from %s: store %s refused the login: %s",
			cr.user, route.Replay, c.s.ClientAddr, addr, text))
		switch responseCode(text) {
		case "", "AUTH":
			c.s.LoginFailed()
			return nil, errAuthFailed
		case "SYS/TEMP":
			return c.tempFailed(cr, "the store answered [SYS/TEMP]", &reply{text: text})
		}
		return nil, &reply{text: text}
	}
	if text == "" {
		text = "Logged in"
	}
	// The login counts from the store's +OK: remember it before the client
	// hears of it, so that its SMTP session right after finds the record.
	c.s.LoginSucceeded()
	c.remember(route)
	c.ok(text)
	if err := c.flush(); err != nil {
		c.s.Release(nc)
		return nil, err
	}
	logging.Notice(c.log, fmt.Sprintf("user '%s' (as '%s') from %s logged in to store %s", cr.user, route.Replay, c.s.ClientAddr, addr))
	st := &proxy.Store{Conn: nc, Addr: addr, Login: cr.user}
	// Commands the client pipelined behind its login, and anything the
	// store sent after its reply, belong to the pipe now.
	if n := c.r.Buffered(); n > 0 {
		b, _ := c.r.ReadFull(n)
		st.FromClient = append([]byte(nil), b...)
	}
	if n := sc.r.Buffered(); n > 0 {
		b, _ := sc.r.ReadFull(n)
		st.FromStore = append([]byte(nil), b...)
	}
	c.s.Client.SetDeadline(time.Time{})
	nc.SetDeadline(time.Time{})
	return st, nil
}

// remember records a login for POP-before-SMTP (spec §4.3.3) when
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
func (c *conn) tempFailed(cr credentials, why string, fail *reply) (*proxy.Store, error) {
	if !config.Get(c.v, param.SpoofTempFail) {
		return nil, fail
	}
	return c.spoof(cr, why, true, fail)
}

// spoof accepts the login without a store and serves a spoofed maildrop
// (spec §4.3.5, §2.8), in this order: an empty one with
// SpoofEmptyMailbox; the SpoofMessageFile message when it is set; for a
// temporary failure (SpoofTempFail) an empty one even when neither is
// set, since SpoofTempFail asks for a mailbox by itself ([W:Spooftempfail]:
// "return an empty mailbox — or the SpoofMessageFile message"); else fail.
// A message file that cannot be read is logged and gives fail, not a
// mailbox the administrator did not ask for. Spoofed logins are never
// recorded for POP-before-SMTP and never count for BadGuys: the password
// was not checked.
func (c *conn) spoof(cr credentials, why string, temp bool, fail *reply) (*proxy.Store, error) {
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
			c.log.Error(fmt.Sprintf("user '%s' from %s: %s, and SpoofMessageFile cannot be served: %v", cr.user, c.s.ClientAddr, why, err))
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
	logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: %s; SPOOF: serving %s (%s)", cr.user, c.s.ClientAddr, why, what, setting))
	c.md = &maildrop{msg: msg, user: cr.user}
	c.ok("Logged in")
	return nil, nil
}
