package popproxy

import (
	"context"

	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// handleUser answers USER name (RFC 1939 §7). Every name is accepted
// here, known or not: a refusal now would tell a client which names
// exist. The name waits for PASS.
func (c *conn) handleUser(args []string) error {
	if len(args) != 1 {
		return badArgs("USER needs one user name")
	}
	if c.s.PlainDisabled() {
		return errPrivacy
	}
	c.user = args[0]
	c.ok("")
	return nil
}

// handlePass answers PASS password: the login. Whatever the outcome, the
// name of USER is used up, so a second attempt starts again with USER as
// RFC 1939 §7 has it (the server returns to the AUTHORIZATION state).
func (c *conn) handlePass(ctx context.Context, args []string) (*proxy.Store, error) {
	if c.user == "" {
		return nil, errNoUser
	}
	user := c.user
	c.user = ""
	if len(args) != 1 {
		return nil, badArgs("PASS needs a password")
	}
	if c.s.PlainDisabled() {
		return nil, errPrivacy
	}
	return c.logIn(ctx, sasl.Credentials{Mechanism: "USER", User: user, Password: logging.Secret(args[0])})
}
