// Package sasl is the server side of the SASL mechanisms the MMP offers
// (RFC 4422): PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login),
// CRAM-MD5 (RFC 2195) and EXTERNAL (RFC 4422 appendix A). Each mechanism
// implements one small interface, Mechanism; Exchange runs one with a
// client, and each protocol supplies only the framing of its challenges
// (IMAP and POP "+ ", SMTP "334 "). A mechanism does not authenticate: it
// returns the Credentials the client presented, and the login pipeline
// (package proxy) decides.
//
// Typical usage, in a protocol's AUTHENTICATE handler:
//
//	m, ok := sasl.New(name, sasl.Options{Host: host})
//	if !ok { ... unsupported ... }
//	cr, err := sasl.Exchange(m, ir, func(challenge []byte) ([]byte, error) {
//		writeLine("+ " + base64.StdEncoding.EncodeToString(challenge))
//		return readLine()
//	})
//	switch {
//	case errors.Is(err, sasl.ErrCancelled): // "*"
//	case errors.Is(err, sasl.ErrMalformed): // bad base64, bad message
//	}
//	res, err := session.Login(ctx, cr, replayer)
//
// emersion/go-sasl was considered: its server mechanisms authenticate
// inside Next through a callback and it has no CRAM-MD5 server, while the
// MMP needs the credentials themselves (to replay them to the store, typed
// as logging.Secret) and the pipeline's own order of checks.
package sasl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
)

// Mechanism names.
const (
	Plain    = "PLAIN"
	Login    = "LOGIN"
	CramMD5  = "CRAM-MD5"
	External = "EXTERNAL"
)

// Credentials are what a client presented to log in, by a SASL mechanism
// or by its protocol's own command (IMAP LOGIN, POP USER/PASS and APOP).
type Credentials struct {
	// Mechanism is the SASL mechanism, or the protocol command: "LOGIN"
	// for IMAP LOGIN, "USER" for POP USER/PASS, "APOP".
	Mechanism string
	// SASL says the client used AUTHENTICATE or AUTH rather than a plain
	// command; a store is then replayed to with SASL where it offers it.
	SASL bool
	// AuthzID is the authorization identity the client asked to act as;
	// "" means the authentication identity itself.
	AuthzID string
	// User is the authentication identity (the login name); "" for
	// EXTERNAL, where the client certificate names the user.
	User string
	// Password is the password; "" for CRAM-MD5, APOP and EXTERNAL.
	Password logging.Secret
	// Verify checks a challenge response (CRAM-MD5, APOP) against the
	// user's clear-text password; nil for the other mechanisms.
	Verify func(password string) bool
	// Vouched says a third-party service ran the exchange (NewRelay): it
	// authenticated User, or refused with VouchErr. Only a relay sets it.
	Vouched  bool
	VouchErr error
}

// Mechanism is the server side of one SASL exchange.
type Mechanism interface {
	// Next takes the client's next response, already base64-decoded,
	// and returns the next challenge, or done once the client has said
	// everything. The first call gets the initial response, or nil when
	// the client sent none (an empty initial response is a non-nil empty
	// slice).
	Next(response []byte) (challenge []byte, done bool, err error)
	// Credentials are what the client presented, once Next is done.
	Credentials() Credentials
}

// Errors of an exchange; each protocol answers them in its own words.
var (
	// ErrCancelled: the client answered a challenge with "*".
	ErrCancelled = errors.New("sasl: authentication cancelled")
	// ErrMalformed: a response is not base64 or not what the mechanism
	// expects.
	ErrMalformed = errors.New("sasl: malformed response")
)

// maxSteps bounds an exchange: the mechanisms here take at most three
// steps, a relayed one (GSSAPI, NTLM) a few more.
const maxSteps = 16

// Options are what mechanisms need to know of the server.
type Options struct {
	// Host names the server in a CRAM-MD5 challenge.
	Host string
}

// New returns a fresh server for the mechanism name (any letter case),
// and false for a mechanism this package does not implement.
func New(name string, o Options) (Mechanism, bool) {
	switch strings.ToUpper(name) {
	case Plain:
		return &plain{}, true
	case Login:
		return &login{}, true
	case CramMD5:
		return &cramMD5{host: o.Host}, true
	case External:
		return &external{}, true
	}
	return nil, false
}

// Exchange runs m with a client. ir is the initial response as sent,
// base64 ("=" for an empty one), or nil when the client sent none. ask
// sends a challenge in the protocol's framing and returns the client's
// response line as sent. A "*" response gives ErrCancelled; a response
// that is not base64, or that the mechanism cannot read, ErrMalformed;
// errors of ask are returned as they are.
func Exchange(m Mechanism, ir []byte, ask func(challenge []byte) ([]byte, error)) (Credentials, error) {
	var resp []byte
	if ir != nil {
		var err error
		if resp, err = decode(ir); err != nil {
			return Credentials{}, err
		}
	}
	for range maxSteps {
		challenge, done, err := m.Next(resp)
		if err != nil {
			return Credentials{}, err
		}
		if done {
			cr := m.Credentials()
			cr.SASL = true
			return cr, nil
		}
		line, err := ask(challenge)
		if err != nil {
			return Credentials{}, err
		}
		if resp, err = decode(line); err != nil {
			return Credentials{}, err
		}
	}
	return Credentials{}, fmt.Errorf("%w: too many steps", ErrMalformed)
}

// Relay is a SASL exchange another service performs
// (account.SASLRelay has this method).
type Relay interface {
	Next(response []byte) (challenge []byte, done bool, login string, err error)
}

// NewRelay is the mechanism name performed by r: the challenges are r's,
// and the credentials say whom r authenticated, or why it did not.
func NewRelay(name string, r Relay) Mechanism { return &relay{name: strings.ToUpper(name), r: r} }

type relay struct {
	name string
	r    Relay
	cr   Credentials
}

func (m *relay) Next(resp []byte) ([]byte, bool, error) {
	challenge, done, login, err := m.r.Next(resp)
	switch {
	case err != nil:
		m.cr = Credentials{Mechanism: m.name, Vouched: true, VouchErr: err}
		return nil, true, nil
	case done:
		m.cr = Credentials{Mechanism: m.name, User: login, Vouched: true}
		return nil, true, nil
	}
	if challenge == nil {
		challenge = []byte{}
	}
	return challenge, false, nil
}

func (m *relay) Credentials() Credentials { return m.cr }

// decode reads one response line: base64, "=" for empty, "*" to cancel.
func decode(line []byte) ([]byte, error) {
	b, err := wire.DecodeBase64Line(line)
	switch {
	case errors.Is(err, wire.ErrCancelled):
		return nil, ErrCancelled
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}

// plain is PLAIN: one message "authzid NUL authcid NUL passwd".
type plain struct{ cr Credentials }

func (m *plain) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil // the client speaks first
	}
	defer clear(resp) // leave no copy of the password behind
	authz, authc, pass, err := wire.ParsePlain(resp)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	m.cr = Credentials{Mechanism: Plain, AuthzID: authz, User: authc, Password: logging.Secret(pass)}
	return nil, true, nil
}

func (m *plain) Credentials() Credentials { return m.cr }

// login is LOGIN: the user name, then the password, each in answer to
// its challenge; an initial response is the user name.
type login struct {
	step int
	cr   Credentials
}

// The LOGIN challenges; clients ignore the text, but some expect exactly
// these.
var (
	loginUser = []byte("Username:")
	loginPass = []byte("Password:")
)

func (m *login) Next(resp []byte) ([]byte, bool, error) {
	m.step++
	switch {
	case m.step == 1 && resp == nil:
		m.step = 0
		return loginUser, false, nil
	case m.step == 1:
		m.cr = Credentials{Mechanism: Login, User: string(resp)}
		return loginPass, false, nil
	}
	m.cr.Password = logging.Secret(resp)
	clear(resp)
	return nil, true, nil
}

func (m *login) Credentials() Credentials { return m.cr }

// cramMD5 is CRAM-MD5: the server's challenge, then "user SP digest",
// which only the user's clear-text password can verify.
type cramMD5 struct {
	host, challenge string
	cr              Credentials
}

func (m *cramMD5) Next(resp []byte) ([]byte, bool, error) {
	if m.challenge == "" {
		if resp != nil {
			return nil, false, fmt.Errorf("%w: CRAM-MD5 takes no initial response", ErrMalformed)
		}
		m.challenge = wire.CRAMChallenge(m.host)
		return []byte(m.challenge), false, nil
	}
	text := string(resp)
	user, err := wire.CRAMUser(text)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	challenge := m.challenge
	m.cr = Credentials{Mechanism: CramMD5, User: user, Verify: func(password string) bool {
		_, ok := wire.CheckCRAMMD5(challenge, text, password)
		return ok
	}}
	return nil, true, nil
}

func (m *cramMD5) Credentials() Credentials { return m.cr }

// external is EXTERNAL: the client certificate is the credential, and
// the one message is an authorization identity, usually empty.
type external struct{ cr Credentials }

func (m *external) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil
	}
	if bytes.IndexByte(resp, 0) >= 0 {
		return nil, false, fmt.Errorf("%w: NUL in the authorization identity", ErrMalformed)
	}
	m.cr = Credentials{Mechanism: External, AuthzID: string(resp)}
	return nil, true, nil
}

func (m *external) Credentials() Credentials { return m.cr }
