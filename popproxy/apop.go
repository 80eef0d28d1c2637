package popproxy

import (
	"context"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// handleAPOP answers APOP name digest (RFC 1939 §7), offered with CRAMs
// (docs/reference.md §4.3.2): the digest is MD5 of the greeting's
// timestamp and the password, which the login pipeline checks against the
// clear-text userPassword from the directory before it logs in to the
// store with that password, as with USER and PASS.
func (c *conn) handleAPOP(ctx context.Context, args []string) (*proxy.Store, error) {
	if len(args) != 2 {
		return nil, badArgs("APOP needs a user name and a digest")
	}
	if c.timestamp == "" {
		return nil, errAPOP
	}
	timestamp, digest := c.timestamp, args[1]
	return c.logIn(ctx, sasl.Credentials{Mechanism: "APOP", User: args[0], Verify: func(password string) bool {
		return wire.CheckAPOP(timestamp, digest, password)
	}})
}
