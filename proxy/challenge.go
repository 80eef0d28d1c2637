package proxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/openmmp/mmp/config"
)

// PasswordReader gives a user's clear-text password from the directory,
// for the challenge-response logins CRAM-MD5 and APOP (CRAMs, spec §2.3):
// the MMP can only check such a response against the password itself. A
// Router may implement it; package directory does, reading userPassword
// with BindDN when it is stored in clear text. Errors wrap ErrNoUser when
// there is no usable password, ErrUnavailable when the directory cannot
// answer.
type PasswordReader interface {
	ClearPassword(ctx context.Context, values *config.Values, u *User) (string, error)
}

// ChallengeLogin routes a challenge-response login: it looks the user up
// and hands check the user's clear-text password; check says whether the
// client's response was made with it. On success it returns the route
// and the password, which the protocol then replays to the store like any
// other. A wrong response counts against the client (BadGuys) and wraps
// ErrNoUser, as an unknown user does.
func (s *Session) ChallengeLogin(ctx context.Context, login string, check func(password string) bool) (*Route, string, error) {
	r, err := s.Route(ctx, login)
	if err != nil {
		return nil, "", err
	}
	pr, ok := s.srv.opts.Router.(PasswordReader)
	if !ok {
		return nil, "", fmt.Errorf("proxy: the directory cannot give clear-text passwords: %w", ErrUnavailable)
	}
	pw, err := pr.ClearPassword(ctx, s.Values, r.User)
	if err != nil {
		if errors.Is(err, ErrNoUser) {
			s.Log.Warn(fmt.Sprintf("user '%s': challenge-response login impossible: %v", login, err))
		}
		return nil, "", err
	}
	if !check(pw) {
		s.LoginFailed()
		return nil, "", fmt.Errorf("proxy: %s: wrong challenge response: %w", r.User.DN, ErrNoUser)
	}
	return r, pw, nil
}
