package imapproxy

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// handleAuthenticate answers AUTHENTICATE (RFC 3501 §6.2.2) with any
// mechanism the session offers (proxy.Session.Mechanisms), with or
// without an initial response (RFC 4959 SASL-IR, accepted even if SASL-IR
// is not in the capability list, since refusing it helps nobody). A
// client response of "*" cancels the exchange with BAD.
func (c *conn) handleAuthenticate(ctx context.Context, cmd *wire.Command) (*proxy.Store, error) {
	if len(cmd.Args) < 1 || len(cmd.Args) > 2 || cmd.Args[0].Kind != wire.Atom {
		return nil, badArgs("AUTHENTICATE needs a mechanism name")
	}
	name := strings.ToUpper(string(cmd.Args[0].Value))
	var ir []byte
	if len(cmd.Args) == 2 {
		if cmd.Args[1].Kind != wire.Atom {
			return nil, badArgs("Malformed initial response")
		}
		ir = append([]byte{}, cmd.Args[1].Value...)
	}
	tag := cmd.Tag // cmd is reused by the next read of the command reader
	cr, err := c.s.Authenticate(ctx, name, ir, sasl.Options{Host: c.p.id.Host}, func(challenge []byte) ([]byte, error) {
		c.w.WriteString("+ " + base64.StdEncoding.EncodeToString(challenge) + "\r\n")
		return c.readResponse()
	})
	switch {
	case errors.Is(err, proxy.ErrPrivacy):
		return nil, errPrivacy
	case errors.Is(err, proxy.ErrMechanism):
		return nil, errMechanism
	case errors.Is(err, sasl.ErrCancelled):
		return nil, errCancelled
	case errors.Is(err, sasl.ErrMalformed):
		return nil, errBadResponse
	case err != nil:
		return nil, err
	}
	return c.logIn(ctx, tag, cr)
}
