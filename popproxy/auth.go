package popproxy

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// handleAuth answers AUTH (RFC 5034) with any mechanism the session
// offers (proxy.Session.Mechanisms), with or without an initial response
// ("=" for an empty one); without a mechanism, the list of mechanisms, as
// Outlook and other clients expect from the pre-RFC AUTH of RFC 1734
// implementations. A client response of "*" cancels the exchange.
func (c *conn) handleAuth(ctx context.Context, args []string) (*proxy.Store, error) {
	if len(args) == 0 {
		c.writeList("Supported authentication mechanisms follow", c.s.Mechanisms())
		return nil, nil
	}
	if len(args) > 2 {
		return nil, badArgs("AUTH takes a mechanism and an optional initial response")
	}
	name := strings.ToUpper(args[0])
	var ir []byte
	if len(args) == 2 {
		ir = []byte(args[1])
	}
	cr, err := c.s.Authenticate(ctx, name, ir, sasl.Options{Host: c.p.id.Host}, func(challenge []byte) ([]byte, error) {
		c.line("+ " + base64.StdEncoding.EncodeToString(challenge))
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
	return c.logIn(ctx, cr)
}
