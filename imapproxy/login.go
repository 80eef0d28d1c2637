package imapproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
)

// credentials are what a client logged in with.
type credentials struct {
	user string
	pass logging.Secret
	mech string // "LOGIN", "PLAIN" or "PROXY": how to replay to the store

	// For mech "PROXY" (a certificate login, external.go): the route
	// already found, and the store administrator whose password pass is,
	// who logs in on the user's behalf.
	route *proxy.Route
	admin string
}

// handleLogin answers LOGIN user password (RFC 3501 §6.2.3): atoms,
// quoted strings and literals, synchronising or not, all arrive here as
// astrings from the command reader.
func (c *conn) handleLogin(ctx context.Context, cmd *wire.Command) (*proxy.Store, error) {
	if len(cmd.Args) != 2 {
		return nil, badArgs("LOGIN needs a user name and a password")
	}
	user, ok1 := cmd.Args[0].Astring()
	pass, ok2 := cmd.Args[1].Astring()
	if !ok1 || !ok2 {
		return nil, badArgs("LOGIN needs a user name and a password")
	}
	if c.plainDisabled() {
		return nil, errPrivacy
	}
	return c.logIn(ctx, cmd.Tag, credentials{user: string(user), pass: logging.Secret(pass), mech: "LOGIN"})
}

// logIn routes a user with credentials to their store and replays the
// login there. On success it returns the store for the pipe; otherwise a
// *response, and the client stays not authenticated (spec §4.2.4–§4.2.7).
func (c *conn) logIn(ctx context.Context, tag string, cr credentials) (*proxy.Store, error) {
	if cr.user == "" || strings.IndexByte(cr.user, 0) >= 0 || strings.IndexByte(string(cr.pass), 0) >= 0 {
		// A NUL cannot be replayed in a literal; nobody has such a name.
		logging.Notice(c.log, fmt.Sprintf("login from %s refused: empty name or NUL in the credentials", c.s.ClientAddr))
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
		logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: authentication failed: %v", cr.user, c.s.ClientAddr, err))
		return nil, errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("user '%s' from %s: lookup failed: %v", cr.user, c.s.ClientAddr, err))
		return nil, errUnavailable
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
		alert := config.Get(c.v, param.ServerDownAlert)
		c.untagged("NO [ALERT] " + alert)
		return nil, &response{"NO", "UNAVAILABLE", alert}
	}
	sc.addr = addr
	c.seq++
	ok, text, err := c.replay(sc, fmt.Sprintf("MMP%d", c.seq), route.Replay, cr)
	if err != nil {
		c.s.Release(nc)
		c.log.Error(fmt.Sprintf("user '%s': replay to store %s failed: %v", cr.user, addr, err))
		return nil, errUnavailable
	}
	if !ok {
		c.s.Release(nc)
		logging.Notice(c.log, fmt.Sprintf("user '%s' (as '%s') from %s: store %s refused the login: %s",
			cr.user, route.Replay, c.s.ClientAddr, addr, text))
		r := refusal(text)
		if r == errAuthFailed {
			c.s.LoginFailed()
		}
		return nil, r
	}
	if text == "" {
		text = "Logged in"
	}
	c.s.LoginSucceeded()
	c.w.WriteString(tag + " OK " + text + "\r\n")
	if err := c.w.Flush(); err != nil {
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

// refusal is the client's reply to a store's refusal (spec §4.2.5 step
// 5). An ordinary failed login, with or without [AUTHENTICATIONFAILED],
// gets the same canned reply as an unknown user, so that the store's own
// wording cannot tell a client that the name exists; a refusal with
// another response code ([UNAVAILABLE], [EXPIRED], [ALERT] ...) tells the
// user something they need, and is passed on with the store's text.
func refusal(storeText string) *response {
	code := ""
	if strings.HasPrefix(storeText, "[") {
		if end := strings.IndexByte(storeText, ']'); end > 0 {
			code, _, _ = strings.Cut(storeText[1:end], " ")
		}
	}
	switch strings.ToUpper(code) {
	case "", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED":
		return errAuthFailed
	}
	return &response{status: "NO", text: storeText}
}
