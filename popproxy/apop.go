package popproxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
)

// handleAPOP answers APOP name digest (RFC 1939 §7), offered with CRAMs
// (spec §4.3.2): the digest is MD5 of the greeting's timestamp and the
// password, checked against the clear-text userPassword from the
// directory; the store is then logged in to with that password, as with
// USER and PASS.
func (c *conn) handleAPOP(ctx context.Context, args []string) (*proxy.Store, error) {
	if len(args) != 2 {
		return nil, badArgs("APOP needs a user name and a digest")
	}
	if c.timestamp == "" {
		return nil, errAPOP
	}
	user, digest := args[0], args[1]
	_, password, err := c.s.ChallengeLogin(ctx, user, func(pw string) bool {
		return wire.CheckAPOP(c.timestamp, digest, pw)
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, proxy.ErrNoUser):
		logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: APOP authentication failed: %v", user, c.s.ClientAddr, err))
		return nil, errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("user '%s' from %s: APOP lookup failed: %v", user, c.s.ClientAddr, err))
		return nil, errUnavailable
	}
	return c.logIn(ctx, credentials{user: user, pass: logging.Secret(password), mech: "USER"})
}
