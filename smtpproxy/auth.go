package smtpproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
)

// handleAuth answers AUTH after EHLO (RFC 4954). With SmtpAuth relay the
// relay performs it and the command starts the pipe, unless it would send
// a clear-text password that RestrictPlainPasswords forbids on this link:
// that the MMP refuses itself, so the password never crosses the network.
// With SmtpAuth directory the MMP performs PLAIN and LOGIN, with or
// without an initial response. EXTERNAL, a client certificate login, is
// always the MMP's, in either mode (external.go); so is the answer to a
// second AUTH once the MMP has logged the client in.
func (c *conn) handleAuth(ctx context.Context, arg string, line []byte) (*proxy.Store, error) {
	mech, ir, hasIR := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	ir = strings.TrimSpace(ir)
	if mech == "" || strings.Contains(ir, " ") {
		return nil, errAuthSyntax
	}
	if c.login != "" {
		return nil, errAlreadyAuth
	}
	if mech == "EXTERNAL" {
		return nil, c.external(ctx, ir, hasIR)
	}
	plain := mech == "PLAIN" || mech == "LOGIN"
	if !c.directoryAuth {
		if plain && c.plainDisabled() {
			logging.Notice(c.log, fmt.Sprintf("client %s: AUTH %s refused: clear-text passwords need TLS (RestrictPlainPasswords)", c.s.ClientAddr, mech))
			return nil, errEncryption
		}
		return c.handOff(ctx, line)
	}
	switch {
	case !plain:
		return nil, errMechanism
	case c.plainDisabled():
		logging.Notice(c.log, fmt.Sprintf("client %s: AUTH %s refused: clear-text passwords need TLS (RestrictPlainPasswords)", c.s.ClientAddr, mech))
		return nil, errEncryption
	}
	var user string
	var pass logging.Secret
	var err error
	if mech == "PLAIN" {
		user, pass, err = c.saslPlain(ir, hasIR)
	} else {
		user, pass, err = c.saslLogin(ir, hasIR)
	}
	if err != nil {
		return nil, err
	}
	return nil, c.logIn(ctx, mech, user, pass)
}

// saslPlain runs PLAIN (RFC 4616): one message "authzid NUL authcid NUL
// passwd". An authorization identity other than the user's own would be
// sending mail as someone else, which nobody may do here.
func (c *conn) saslPlain(ir string, hasIR bool) (string, logging.Secret, error) {
	resp := []byte(ir)
	if !hasIR {
		c.w.WriteString("334 \r\n")
		line, err := c.readResponse()
		if err != nil {
			return "", "", err
		}
		resp = line
	}
	authz, authc, pass, err := wire.DecodePlain(resp)
	switch {
	case errors.Is(err, wire.ErrCancelled):
		return "", "", errAuthCancelled
	case err != nil:
		return "", "", errBadResponse
	case authz != "" && authz != authc:
		logging.Notice(c.log, fmt.Sprintf("client %s: PLAIN login of '%s' as '%s' refused: proxy logins are not supported", c.s.ClientAddr, authc, authz))
		return "", "", errAuthFailed
	}
	return authc, logging.Secret(pass), nil
}

// saslLogin runs LOGIN (draft-murchison-sasl-login): the user name, then
// the password, each in answer to its challenge; an initial response is
// the user name.
func (c *conn) saslLogin(ir string, hasIR bool) (string, logging.Secret, error) {
	step := func(challenge string) ([]byte, error) {
		c.w.WriteString("334 " + challenge + "\r\n")
		line, err := c.readResponse()
		if err != nil {
			return nil, err
		}
		return decode(line)
	}
	user, pass, err := wire.LoginExchange([]byte(ir), hasIR, step, decode)
	if err != nil {
		return "", "", err
	}
	name := string(user)
	defer clear(pass)
	return name, logging.Secret(pass), nil
}

// decode decodes one base64 client response into a reply-carrying error.
func decode(line []byte) ([]byte, error) {
	b, err := wire.DecodeBase64Line(line)
	switch {
	case errors.Is(err, wire.ErrCancelled):
		return nil, errAuthCancelled
	case err != nil:
		return nil, errBadResponse
	}
	return b, nil
}

// logIn checks credentials for SmtpAuth directory: the directory finds
// the user's entry (the same lookup, status checks and access filters as
// an IMAP or POP login), a bind as that entry checks the password, and the
// relay is told who logged in before the client hears 235.
func (c *conn) logIn(ctx context.Context, mech, user string, pass logging.Secret) error {
	if user == "" || strings.ContainsAny(user, "\x00\r\n") {
		logging.Notice(c.log, fmt.Sprintf("client %s: AUTH %s refused: empty or malformed name", c.s.ClientAddr, mech))
		return errAuthFailed
	}
	route, err := c.s.Route(ctx, user)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, proxy.ErrNoUser):
		// Route has counted the failure against the address already.
		logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: authentication failed: %v", user, c.s.ClientAddr, err))
		return errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("user '%s' from %s: lookup failed: %v", user, c.s.ClientAddr, err))
		return errAuthTemp
	}
	if c.p.passwords == nil {
		c.log.Error("SmtpAuth directory, but the MMP was given no password checker")
		return errAuthTemp
	}
	err = c.p.passwords.Bind(ctx, c.v, route.User.DN, string(pass))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, proxy.ErrNoUser):
		c.s.LoginFailed()
		logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: authentication failed: wrong password", user, c.s.ClientAddr))
		return errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("user '%s' from %s: password check failed: %v", user, c.s.ClientAddr, err))
		return errAuthTemp
	}
	return c.loggedIn(ctx, mech, user)
}

// loggedIn finishes a login the MMP checked (a password with SmtpAuth
// directory, or a client certificate): the relay is told who logged in
// (announceLogin) before the client hears 235.
func (c *conn) loggedIn(ctx context.Context, mech, user string) error {
	c.s.LoginSucceeded()
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
