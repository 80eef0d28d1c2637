package imapproxy

import (
	"context"
	"errors"
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
)

// handleAuthenticate answers AUTHENTICATE PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login), with or without an initial response (RFC
// 4959 SASL-IR). A client response of "*" cancels the exchange with BAD
// (RFC 3501 §6.2.2). An initial response is accepted even if SASL-IR is
// not in the capability list, since refusing it helps nobody.
func (c *conn) handleAuthenticate(ctx context.Context, cmd *wire.Command) (*proxy.Store, error) {
	if len(cmd.Args) < 1 || len(cmd.Args) > 2 || cmd.Args[0].Kind != wire.Atom {
		return nil, badArgs("AUTHENTICATE needs a mechanism name")
	}
	mech := strings.ToUpper(string(cmd.Args[0].Value))
	var ir []byte
	hasIR := len(cmd.Args) == 2
	if hasIR {
		if cmd.Args[1].Kind != wire.Atom {
			return nil, badArgs("Malformed initial response")
		}
		ir = append([]byte(nil), cmd.Args[1].Value...)
	}
	tag := cmd.Tag // cmd is reused by the next read of the command reader
	if mech == "CRAM-MD5" && config.Get(c.v, param.CRAMs) && !hasIR {
		return c.cramMD5(ctx, tag)
	}
	if mech == "EXTERNAL" && c.externalOffered() {
		return c.external(ctx, tag, ir, hasIR)
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
	return c.logIn(ctx, tag, cr)
}

// saslPlain runs PLAIN: one message "authzid NUL authcid NUL passwd". An
// authorization identity other than the user's own is a proxy login,
// which only an administrator may do (spec §4.2.3) and which the MMP does
// not support yet.
func (c *conn) saslPlain(ir []byte, hasIR bool) (credentials, error) {
	resp := ir
	if !hasIR {
		c.w.WriteString("+ \r\n")
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
		c.w.WriteString("+ " + challenge + "\r\n")
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
