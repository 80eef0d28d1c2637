package imapproxy

import (
	"context"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

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
	if c.s.PlainDisabled() {
		return nil, errPrivacy
	}
	return c.logIn(ctx, cmd.Tag, sasl.Credentials{Mechanism: "LOGIN", User: string(user), Password: logging.Secret(pass)})
}

// logIn hands the credentials to the login pipeline, with this
// connection as the store side (replay.go), and answers the outcome: the
// tagged OK and the store for the pipe, or a *response (docs/reference.md
// §4.2.4–§4.2.7), the client staying not authenticated.
func (c *conn) logIn(ctx context.Context, tag string, cr sasl.Credentials) (*proxy.Store, error) {
	res, err := c.s.Login(ctx, cr, c)
	if err != nil {
		return nil, err
	}
	if res.Close {
		// The reply, then goodbye (proxy.MaxLoginFailures).
		r := errAuthFailed
		if res.Outcome == proxy.NotAuthorized {
			r = errProxyLogin
		}
		c.reply(tag, r)
		c.untagged("BYE Too many failed logins")
		return nil, errDone
	}
	switch res.Outcome {
	case proxy.LoggedIn:
	case proxy.NotAuthorized:
		return nil, errProxyLogin
	case proxy.Unavailable:
		return nil, errUnavailable
	case proxy.TooManySessions:
		return nil, errTooManySessions
	case proxy.StoreDown:
		alert := config.Get(c.v, param.ServerDownAlert)
		c.untagged("NO [ALERT] " + alert)
		return nil, &response{"NO", "UNAVAILABLE", alert}
	case proxy.StoreRefused:
		return nil, &response{status: "NO", text: res.Text}
	default:
		return nil, errAuthFailed
	}
	text := res.Text
	if text == "" {
		text = "Logged in"
	}
	c.w.WriteString(tag + " OK " + text + "\r\n")
	st := res.Store
	// Commands the client pipelined behind its login belong to the pipe.
	st.FromClient = c.r.Drain()
	return st, c.w.Flush()
}
