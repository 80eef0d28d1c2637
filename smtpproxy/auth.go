package smtpproxy

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// handleAuth answers AUTH after EHLO (RFC 4954). With SmtpAuth relay the
// relay performs it and the command starts the pipe, unless it would send
// a clear-text password that RestrictPlainPasswords forbids on this link:
// that the MMP refuses itself, so the password never crosses the network.
// With SmtpAuth directory the MMP performs every mechanism it offers
// (ownMechanisms), with or without an initial response. EXTERNAL, a
// client certificate login, is always the MMP's, in either mode; so is
// the answer to a second AUTH once the MMP has logged the client in.
func (c *conn) handleAuth(ctx context.Context, arg string, line []byte) (*proxy.Store, error) {
	name, ir, hasIR := strings.Cut(arg, " ")
	name = strings.ToUpper(name)
	ir = strings.TrimSpace(ir)
	if name == "" || strings.Contains(ir, " ") {
		return nil, errAuthSyntax
	}
	if c.login != "" {
		return nil, errAlreadyAuth
	}
	plain := name == sasl.Plain || name == sasl.Login
	if plain && c.s.PlainDisabled() {
		logging.Notice(c.log, fmt.Sprintf("client %s: AUTH %s refused: clear-text passwords need TLS (RestrictPlainPasswords)", c.s.ClientAddr, name))
		return nil, errEncryption
	}
	if !slices.Contains(c.ownMechanisms(), name) {
		if !c.directoryAuth && name != sasl.External {
			// The relay's AUTH, in the spelling it expects.
			return c.handOff(ctx, []byte("AUTH "+arg))
		}
		return nil, errMechanism
	}
	var initial []byte
	if hasIR {
		initial = []byte(ir)
	}
	cr, err := c.s.Authenticate(ctx, name, initial, sasl.Options{Host: c.p.id.Host}, func(challenge []byte) ([]byte, error) {
		c.w.WriteString("334 " + base64.StdEncoding.EncodeToString(challenge) + "\r\n")
		return c.readResponse()
	})
	switch {
	case errors.Is(err, proxy.ErrMechanism):
		return nil, errMechanism
	case errors.Is(err, sasl.ErrCancelled):
		return nil, errAuthCancelled
	case errors.Is(err, sasl.ErrMalformed):
		return nil, errBadResponse
	case err != nil:
		return nil, err
	}
	return nil, c.logIn(ctx, cr)
}

// ownMechanisms are the SASL mechanisms the MMP performs itself and
// offers in its EHLO reply: with SmtpAuth directory, every one the
// session offers (proxy.Session.Mechanisms); with SmtpAuth relay, only
// EXTERNAL (see externalOffered).
func (c *conn) ownMechanisms() []string {
	var own []string
	for _, m := range c.s.Mechanisms() {
		switch {
		case m == sasl.External:
			if c.externalOffered() {
				own = append(own, m)
			}
		case c.directoryAuth:
			own = append(own, m)
		}
	}
	return own
}

// externalOffered says whether AUTH EXTERNAL can be offered beyond what
// the session allows (TLS, a client certificate that chained to
// SSLClientCAPEM, CertmapFile): the relay can be told the login
// afterwards. The relay never sees the client's certificate, since TLS
// ends at the MMP, so EXTERNAL is always the MMP's own, in either SmtpAuth
// mode. With SmtpAuth directory it is offered whatever SmtpRelayAnnounce
// says, like PLAIN and LOGIN. With SmtpAuth relay it is offered only with
// XPEHLO, which the MMP can send again with LOGIN=: there the XCLIENT
// went out at EHLO time and Postfix refuses a second one, and PROXY and
// none cannot carry a login at all, so a certificate login would gain the
// client nothing.
func (c *conn) externalOffered() bool {
	return c.s.Offers(sasl.External) && (c.directoryAuth || c.announce == "xpehlo")
}

// logIn hands the credentials to the login pipeline without a store: the
// directory finds the user's entry (the same lookup, status checks and
// access filters as an IMAP or POP login) and checks the password, or the
// client certificate maps to the user; the relay is then told who logged
// in before the client hears 235.
func (c *conn) logIn(ctx context.Context, cr sasl.Credentials) error {
	res, err := c.s.Login(ctx, cr, nil)
	if err != nil {
		return err
	}
	switch res.Outcome {
	case proxy.LoggedIn:
		c.canon = res.Route.Name.Canon
		return c.loggedIn(ctx, cr.Mechanism, res.Route.Name.Orig)
	case proxy.BadCredentials, proxy.NotAuthorized:
		if res.Close {
			c.w.WriteString(errAuthFailed.line())
			return errTooManyAuth
		}
		return errAuthFailed
	case proxy.TooManySessions:
		return errTooManySess
	}
	return errAuthTemp
}

// loggedIn finishes a login the MMP checked: the relay is told who
// logged in (announceLogin) before the client hears 235.
func (c *conn) loggedIn(ctx context.Context, mech, user string) error {
	c.login = user
	if err := c.announceLogin(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Error(fmt.Sprintf("user '%s' authenticated, but relay %s did not accept the login: %v", user, c.relay.addr, err))
		c.dropRelay()
		return errNoRelay
	}
	logging.Notice(c.log, fmt.Sprintf("user '%s' from %s authenticated (SMTP AUTH %s)", user, c.s.ClientAddr, mech))
	c.w.WriteString("235 2.7.0 Authentication successful\r\n")
	return nil
}
