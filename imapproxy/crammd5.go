package imapproxy

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
)

// cramMD5 runs AUTHENTICATE CRAM-MD5 (RFC 2195), offered with CRAMs (spec
// §2.3, §4.2.3): the MMP sends a challenge, checks the client's HMAC-MD5
// against the clear-text userPassword from the directory, and then logs in
// to the store with that password as with LOGIN (spec §4.2.5: that is why
// CRAMs needs readable clear-text passwords).
func (c *conn) cramMD5(ctx context.Context, tag string) (*proxy.Store, error) {
	challenge := wire.CRAMChallenge(c.p.host)
	c.w.WriteString("+ " + base64.StdEncoding.EncodeToString([]byte(challenge)) + "\r\n")
	line, err := c.readResponse()
	if err != nil {
		return nil, err
	}
	resp, err := decode(line)
	if err != nil {
		return nil, err
	}
	user, err := wire.CRAMUser(string(resp))
	if err != nil {
		return nil, errBadResponse
	}
	_, password, err := c.s.ChallengeLogin(ctx, user, func(pw string) bool {
		_, ok := wire.CheckCRAMMD5(challenge, string(resp), pw)
		return ok
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, proxy.ErrNoUser):
		logging.Notice(c.log, fmt.Sprintf("user '%s' from %s: CRAM-MD5 authentication failed: %v", user, c.s.ClientAddr, err))
		return nil, errAuthFailed
	default:
		c.log.Warn(fmt.Sprintf("user '%s' from %s: CRAM-MD5 lookup failed: %v", user, c.s.ClientAddr, err))
		return nil, errUnavailable
	}
	return c.logIn(ctx, tag, credentials{user: user, pass: logging.Secret(password), mech: "LOGIN"})
}
