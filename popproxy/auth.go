package popproxy

import (
	"context"
	"errors"
	"strings"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
)

// mechanisms are the SASL mechanisms the MMP implements, in CAPA order.
var mechanisms = []string{"PLAIN", "LOGIN"}

// handleAuth answers AUTH (RFC 5034): with a mechanism, PLAIN (RFC 4616),
// LOGIN (draft-murchison-sasl-login) or, when offered, EXTERNAL (RFC
// 4422: a client certificate login, external.go), with or without an
// initial response ("=" for an empty one); without one, the list of
// mechanisms, as Outlook and other clients expect from the pre-RFC AUTH
// of RFC 1734 implementations. A client response of "*" cancels the
// exchange.
func (c *conn) handleAuth(ctx context.Context, args []string) (*proxy.Store, error) {
	if len(args) == 0 {
		c.writeList("Supported authentication mechanisms follow", c.offeredMechanisms())
		return nil, nil
	}
	if len(args) > 2 {
		return nil, badArgs("AUTH takes a mechanism and an optional initial response")
	}
	mech := strings.ToUpper(args[0])
	var ir []byte
	hasIR := len(args) == 2
	if hasIR {
		ir = []byte(args[1])
	}
	if mech == "EXTERNAL" && c.externalOffered() {
		return c.external(ctx, ir, hasIR)
	}
	if mech != "PLAIN" && mech != "LOGIN" {
		return nil, errMechanism
	}
	if c.plainDisabled() {
		return nil, errPrivacy
	}
	var cr credentials
	var err error
	if mech == "PLAIN" {
		cr, err = c.saslPlain(ir, hasIR)
	} else {
		cr, err = c.saslLogin(ir, hasIR)
	}
	if err != nil {
		return nil, err
	}
	return c.logIn(ctx, cr)
}

// offeredMechanisms are the SASL mechanisms this connection offers, for
// CAPA and a bare AUTH: the password mechanisms while clear-text
// passwords are allowed, and EXTERNAL when a client certificate can log
// in (spec §3.7).
func (c *conn) offeredMechanisms() []string {
	var mechs []string
	if !c.plainDisabled() {
		mechs = append(mechs, mechanisms...)
	}
	if c.externalOffered() {
		mechs = append(mechs, "EXTERNAL")
	}
	return mechs
}

// saslPlain runs PLAIN: one message "authzid NUL authcid NUL passwd". An
// authorization identity other than the user's own is a proxy login,
// which only an administrator may do (spec §4.2.3) and which the MMP does
// not support yet.
func (c *conn) saslPlain(ir []byte, hasIR bool) (credentials, error) {
	resp := ir
	if !hasIR {
		c.line("+ ")
		line, err := c.readResponse()
		if err != nil {
			return credentials{}, err
		}
		resp = line
	}
	authz, authc, pass, err := wire.DecodePlain(resp)
	switch {
	case errors.Is(err, wire.ErrCancelled):
		return credentials{}, errCancelled
	case err != nil:
		return credentials{}, errBadResponse
	case authz != "" && authz != authc:
		logging.Notice(c.log, "PLAIN login of '"+authc+"' as '"+authz+"' refused: proxy logins are not supported")
		return credentials{}, errProxyLogin
	}
	return credentials{user: authc, pass: logging.Secret(pass), mech: "PLAIN"}, nil
}

// saslLogin runs LOGIN: the user name, then the password, each in answer
// to its challenge; an initial response is the user name.
func (c *conn) saslLogin(ir []byte, hasIR bool) (credentials, error) {
	step := func(challenge string) ([]byte, error) {
		c.line("+ " + challenge)
		line, err := c.readResponse()
		if err != nil {
			return nil, err
		}
		return decode(line)
	}
	user, pass, err := wire.LoginExchange(ir, hasIR, step, decode)
	if err != nil {
		return credentials{}, err
	}
	name := string(user)
	return credentials{user: name, pass: logging.Secret(pass), mech: "LOGIN"}, nil
}

// decode decodes one base64 client response into a reply-carrying error.
func decode(line []byte) ([]byte, error) {
	b, err := wire.DecodeBase64Line(line)
	switch {
	case errors.Is(err, wire.ErrCancelled):
		return nil, errCancelled
	case err != nil:
		return nil, errBadResponse
	}
	return b, nil
}
