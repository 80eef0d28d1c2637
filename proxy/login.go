package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openmmp/mmp/access"
	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/sasl"
)

// Outcome is how a login ended. Each protocol maps it to its own reply in
// one table; the pipeline has already logged why.
type Outcome int

const (
	// LoggedIn: the user is logged in (to the store, when there is one).
	LoggedIn Outcome = iota
	// BadCredentials: an unknown user, a wrong password, or a login an
	// access filter or the store refused. One reply for all, so that a
	// client cannot tell which (docs/reference.md §4.2.4).
	BadCredentials
	// NotAuthorized: the client asked to act as another user and may not.
	NotAuthorized
	// Unavailable: the directory could not answer, the account is on
	// hold, or the store failed during the replay or asked to try later
	// (Result.Text then has its reason). The user may well be right.
	Unavailable
	// StoreDown: no mail host of the user could be reached.
	StoreDown
	// StoreRefused: the store refused for a reason the user should read,
	// in Result.Text (an expired password, a mailbox on hold ...).
	StoreRefused
	// TooManySessions: the user logged in but already holds
	// MaxUserSessions sessions of the service (across the fleet); the
	// store connection is closed. IMAP answers NO [LIMIT], POP -ERR
	// [IN-USE], SMTP 454.
	TooManySessions
)

var outcomeNames = [...]string{"logged in", "bad credentials", "not authorized", "unavailable", "store down", "store refused", "too many sessions"}

func (o Outcome) String() string { return outcomeNames[o] }

// Result is a login's outcome, with what the protocol needs to answer.
type Result struct {
	Outcome Outcome
	// Text is the store's reply text: its OK text on LoggedIn, its reason
	// on StoreRefused and Unavailable; "" when the store said nothing.
	Text string
	// Route is where the login went; nil when the user was not found.
	Route *Route
	// Store is the logged-in store connection (LoggedIn with a Replayer),
	// for the pipe. The protocol adds what the client pipelined.
	Store *Store
	// Close says the connection has had MaxLoginFailures failed logins:
	// the protocol answers, says goodbye and ends the session.
	Close bool
}

// MaxLoginFailures is how many failed logins (distinct credentials) one
// connection may make before it is closed, as Dovecot's login processes
// do: a guesser must reconnect, and BadGuys sees every attempt.
const MaxLoginFailures = 3

// Replayer is the store side of a protocol: it greets a store and replays
// a login there. The pipeline owns everything else.
type Replayer interface {
	// Greet reads and checks the greeting of a store just connected. An
	// error makes the pipeline try the user's next mail host.
	Greet(store net.Conn) (StoreLogin, error)
}

// StoreLogin is one greeted store connection, ready for the replay.
type StoreLogin interface {
	// Replay logs in at the store and returns its verdict with the text
	// of its reply. An error is a store that broke the protocol or the
	// connection, or ErrCannotReplay.
	Replay(r Replay) (Verdict, string, error)
	// Rest returns the octets read from the store beyond its reply; the
	// pipe delivers them first. It is the last call: the StoreLogin may
	// give its buffers back.
	Rest() []byte
}

// Replay is what a StoreLogin sends.
type Replay struct {
	// Mechanism and SASL are how the client logged in
	// (sasl.Credentials); a replayer may repeat SASL where the store
	// offers it.
	Mechanism string
	SASL      bool
	// AuthzID is "" for an ordinary login. For a proxy login (a client
	// certificate) it is the user to log in as, and User and Password are
	// StoreAdmin's (docs/reference.md §4.2.5).
	AuthzID  string
	User     string
	Password logging.Secret

	// Announce is StoreAnnounce: "id" (IMAP) or "xclient" (POP) ask the
	// replayer to tell the store, before the login, who the client is:
	// Client, the address the client reached (Server) and Session, the
	// id of the MMP's log lines. Otherwise "".
	Announce string
	Client   netip.AddrPort
	Server   netip.AddrPort
	Session  string
	// Warn logs what the store refused along the way (an announcement
	// from an address it does not trust); the login goes on.
	Warn func(msg string)
}

// Verdict is a store's answer to a replayed login.
type Verdict int

const (
	// Accepted: the user is logged in.
	Accepted Verdict = iota
	// Rejected: the credentials were refused (counts against BadGuys).
	Rejected
	// Deferred: the store asks to try later ([SYS/TEMP]).
	Deferred
	// Refused: refused for another reason, passed on to the client.
	Refused
)

// ErrCannotReplay: the credentials cannot be expressed in the commands
// the store offers (a POP name with a space and no SASL PLAIN). The client
// gets BadCredentials; nobody guessed anything, so BadGuys is not told.
var ErrCannotReplay = errors.New("proxy: the credentials cannot be replayed to this store")

// Login runs a whole login for a protocol (docs/architecture.md): the
// credentials' sanity, the client's BadGuys penalty, the route (vdmap,
// hosted domain, user entry, or a client certificate through
// certmap.conf), the access filters of the user and the domain, the
// authorization identity, the password check (PreAuth, the auth cache,
// or a challenge response against the clear-text password), and, with a
// Replayer, the store: connecting with fail-over and TLS, the greeting,
// the replay and the verdict. BadGuys hears of every failure and every
// success. Every outcome is logged here.
//
// Without a Replayer there is no store to ask (SMTP AUTH with SmtpAuth
// directory): the directory itself checks the password, PreAuth or not.
//
// The error is for a cancelled session or an I/O failure only; every
// refusal is a Result.
func (s *Session) Login(ctx context.Context, cr sasl.Credentials, rp Replayer) (*Result, error) {
	// What the directory finds about this login goes to this session's log.
	ctx = logging.NewContext(ctx, s.Log)
	began := time.Now()
	res, err := s.login(ctx, cr, rp)
	if err != nil {
		if res != nil && res.Store != nil {
			s.Release(res.Store.Conn)
		}
		return nil, err
	}
	if res.Outcome == LoggedIn {
		s.limitUser(ctx, res)
	}
	metrics.Login(s.serviceName(), res.Outcome.String())
	switch res.Outcome {
	case LoggedIn, TooManySessions:
		s.loginSucceeded()
	case BadCredentials:
		if !res.uncounted && !s.repeatedFailure(cr) {
			s.loginFailed()
			s.failures++
		}
	}
	if res.Outcome == BadCredentials || res.Outcome == NotAuthorized {
		// Whatever the cause, a failure is answered AuthFailureDelay
		// after the attempt began (a BadGuys wait counts towards it:
		// it is the address's and tells nothing of the user).
		if err := sleepUntil(ctx, began.Add(config.Get(s.Values, param.AuthFailureDelay))); err != nil {
			return nil, err
		}
	}
	res.Close = s.failures >= MaxLoginFailures
	if res.Close {
		logging.Notice(s.Log, fmt.Sprintf("client %s failed to log in %d times; closing", s.ClientAddr, s.failures))
	}
	return res.Result, nil
}

// sleepUntil waits for t on a timer (the session's goroutine parks; no
// worker slot is held), or returns ctx's error.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failureKey identifies credentials that failed, without keeping them: a
// hash under a key that is random per process.
type failureKey [sha256.Size]byte

var failureSalt = func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}()

// repeatedFailure says whether cr failed on this connection already, and
// remembers them (a connection closes after MaxLoginFailures distinct
// failures, so there are few to remember). Clients such as neomutt retry the same name and
// password with each mechanism they know (AUTHENTICATE PLAIN, then LOGIN,
// then the LOGIN command) on one connection: one mistyped password is one
// failure for BadGuys, not three. The retries still wait out the penalty.
func (s *Session) repeatedFailure(cr sasl.Credentials) bool {
	if cr.Verify != nil {
		return false // a challenge response differs every time
	}
	h := hmac.New(sha256.New, failureSalt)
	h.Write([]byte(cr.User))
	h.Write([]byte{0})
	h.Write([]byte(cr.Password))
	var k failureKey
	h.Sum(k[:0])
	if slices.Contains(s.failedCreds, k) {
		return true
	}
	s.failedCreds = append(s.failedCreds, k)
	return false
}

// result is a Result with the pipeline's own bookkeeping.
type result struct {
	*Result
	uncounted bool // BadCredentials that BadGuys must not count
}

func outcome(o Outcome, r *Route) *result { return &result{Result: &Result{Outcome: o, Route: r}} }

func (s *Session) login(ctx context.Context, cr sasl.Credentials, rp Replayer) (*result, error) {
	who := cr.User
	if cr.Mechanism == sasl.External {
		who = "(client certificate)"
	}
	if cr.Vouched && cr.VouchErr != nil {
		if err := s.waitPenalty(ctx); err != nil {
			return nil, err
		}
		return s.failed(ctx, "("+cr.Mechanism+")", "AuthenticationServer", nil, cr.VouchErr)
	}
	if why := malformed(cr); why != "" {
		logging.Notice(s.Log, fmt.Sprintf("login from %s refused: %s", s.ClientAddr, why))
		return outcome(BadCredentials, nil), nil
	}
	if err := s.waitPenalty(ctx); err != nil {
		return nil, err
	}
	if s.fleetClosed() {
		return outcome(Unavailable, nil), nil
	}
	// A proxy login: an administrator acting for the user it names
	// (RFC 4616 authzid), allowed by AdminPolicy.
	asAdmin := cr.Mechanism != sasl.External && cr.AuthzID != "" && cr.AuthzID != cr.User
	if asAdmin {
		if o := s.checkAdmin(cr); o != LoggedIn {
			return outcome(o, nil), nil
		}
	}
	var route *Route
	err := s.srv.opts.Workers.do(ctx, func() (err error) {
		switch {
		case cr.Mechanism == sasl.External:
			route, err = s.routeCertificate(ctx)
		case asAdmin:
			route, err = s.route(ctx, cr.AuthzID)
		default:
			route, err = s.route(ctx, cr.User)
		}
		return err
	})
	if err != nil {
		return s.failed(ctx, who, "lookup", nil, err)
	}
	who = route.Name.Orig
	if o := s.authorize(cr, route); o != LoggedIn {
		return outcome(o, route), nil
	}
	if cr.Vouched {
		route.ProxyAuth = true // the store is asked as StoreAdmin for the user
	}
	if asAdmin {
		// StoreAdmin's password is checked; the store is logged in to as
		// StoreAdmin on the user's behalf.
		route.ProxyAuth = true
		who = route.Name.Orig + " (by " + cr.User + ")"
	}
	password := string(cr.Password)
	switch {
	case cr.Verify != nil:
		err := s.srv.opts.Workers.do(ctx, func() (err error) {
			password, err = s.checkResponse(ctx, route, cr)
			return err
		})
		if err != nil {
			return s.failed(ctx, who, cr.Mechanism, route, err)
		}
	case cr.Mechanism == sasl.External || asAdmin || cr.Vouched:
		// No password of the user: a certificate, StoreAdmin's, or an
		// exchange the AuthenticationServer performed.
	case rp == nil || s.preAuthOn(route):
		err := s.srv.opts.Workers.do(ctx, func() error { return s.checkPassword(ctx, route, password) })
		if err != nil {
			return s.failed(ctx, who, "password", route, err)
		}
	}
	if rp == nil {
		logging.Noticef(s.Log, "user '%s' from %s authenticated (%s)", who, s.ClientAddr, cr.Mechanism)
		return outcome(LoggedIn, route), nil
	}
	replay := Replay{Mechanism: cr.Mechanism, SASL: cr.SASL, User: route.Replay, Password: logging.Secret(password),
		Client: s.ClientAddr, Server: s.ServerAddr, Session: strconv.FormatUint(s.ID, 10),
		Warn: func(msg string) { s.Log.Warn(fmt.Sprintf("user '%s': %s", who, msg)) }}
	if a := config.Get(s.Values, param.StoreAnnounce); a == "id" || a == "xclient" {
		replay.Announce = a
	}
	if route.ProxyAuth {
		admin, pass := config.Get(s.Values, param.StoreAdmin), config.Get(s.Values, param.StoreAdminPass)
		if admin == "" || pass == "" {
			s.Log.Error(fmt.Sprintf("proxy login of '%s': StoreAdmin or StoreAdminPass is not set; the store cannot be logged in to without a password", who))
			return outcome(Unavailable, route), nil
		}
		replay.AuthzID, replay.User, replay.Password = route.Replay, admin, logging.Secret(pass)
	}
	return s.replay(ctx, who, route, rp, replay)
}

// malformed says why credentials cannot be anybody's, "" if they can: an
// empty name or password, a NUL anywhere (no replay can carry it), or a
// CR or LF in the name (nobody has one; a password may, and goes in an
// IMAP literal or in POP AUTH PLAIN). Such a login counts against BadGuys
// like any other failure (docs/decisions.md).
func malformed(cr sasl.Credentials) string {
	switch {
	case cr.Mechanism == sasl.External:
		return ""
	case cr.Vouched:
		if strings.ContainsAny(cr.User, "\x00\r\n") {
			return "control characters in the name the AuthenticationServer gave"
		}
		return ""
	case cr.User == "":
		return "empty name"
	case strings.ContainsAny(cr.User, "\x00\r\n"):
		return "control characters in the name"
	case cr.Verify == nil && cr.Password == "":
		return "empty password"
	case strings.IndexByte(string(cr.Password), 0) >= 0:
		return "NUL in the password"
	}
	return ""
}

// authorize checks the authorization identity of a certificate login:
// empty, or the name it maps to, as the client would write it or as it is
// replayed. (A password login's is checked by checkAdmin.)
func (s *Session) authorize(cr sasl.Credentials, r *Route) Outcome {
	a := cr.AuthzID
	if cr.Mechanism != sasl.External || a == "" || a == r.Name.Orig || a == r.Replay {
		return LoggedIn
	}
	logging.Notice(s.Log, fmt.Sprintf("%s login of '%s' from %s as '%s' refused: logging in as another user is not allowed",
		cr.Mechanism, r.Name.Orig, s.ClientAddr, a))
	return NotAuthorized
}

// checkAdmin decides a proxy login, "authcid logs in as authzid": under
// AdminPolicy simple (docs/reference.md §4.2.3) only StoreAdmin may, with
// StoreAdminPass. Anyone else is NotAuthorized; StoreAdmin with a wrong
// password gets BadCredentials, as any wrong password does.
func (s *Session) checkAdmin(cr sasl.Credentials) Outcome {
	admin, pass := config.Get(s.Values, param.StoreAdmin), config.Get(s.Values, param.StoreAdminPass)
	switch {
	case admin == "" || pass == "" || cr.User != admin:
		logging.Notice(s.Log, fmt.Sprintf("%s login of '%s' from %s as '%s' refused: only StoreAdmin may log in as another user (AdminPolicy %s)",
			cr.Mechanism, cr.User, s.ClientAddr, cr.AuthzID, config.Get(s.Values, param.AdminPolicy)))
		return NotAuthorized
	case subtle.ConstantTimeCompare([]byte(cr.Password), []byte(pass)) != 1:
		logging.Notice(s.Log, fmt.Sprintf("user '%s' from %s: authentication failed: wrong StoreAdmin password", cr.User, s.ClientAddr))
		return BadCredentials
	}
	logging.Notice(s.Log, fmt.Sprintf("StoreAdmin '%s' from %s logs in as '%s'", cr.User, s.ClientAddr, cr.AuthzID))
	return LoggedIn
}

// failed turns a lookup or check error into an outcome, with its log
// line.
func (s *Session) failed(ctx context.Context, who, what string, r *Route, err error) (*result, error) {
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, account.ErrNoUser):
		logging.Notice(s.Log, fmt.Sprintf("user '%s' from %s: authentication failed: %v", who, s.ClientAddr, err))
		return outcome(BadCredentials, r), nil
	}
	s.Log.Warn(fmt.Sprintf("user '%s' from %s: %s failed: %v", who, s.ClientAddr, what, err))
	return outcome(Unavailable, r), nil
}

// checkResponse verifies a challenge response (CRAM-MD5, APOP) against
// the user's clear-text password from the directory, and returns that
// password for the replay.
func (s *Session) checkResponse(ctx context.Context, r *Route, cr sasl.Credentials) (string, error) {
	pw, err := s.srv.dir().ClearPassword(ctx, s.Values, r.User)
	if err != nil {
		if errors.Is(err, account.ErrNoUser) {
			s.Log.Warn(fmt.Sprintf("user '%s': %s login impossible: %v", r.Name.Orig, cr.Mechanism, err))
		}
		return "", err
	}
	if !cr.Verify(pw) {
		return "", fmt.Errorf("proxy: %s: wrong %s response: %w", r.User.DN, cr.Mechanism, account.ErrNoUser)
	}
	return pw, nil
}

// replay connects to the route's mail hosts in turn and replays the login
// at the first one that greets properly.
func (s *Session) replay(ctx context.Context, who string, r *Route, rp Replayer, rep Replay) (*result, error) {
	var sl StoreLogin
	nc, addr, err := s.ConnectStore(ctx, r, func(nc net.Conn) (err error) {
		sl, err = rp.Greet(nc)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.Log.Error(fmt.Sprintf("user '%s': no store reachable (%s): %v", who, strings.Join(r.Hosts, ", "), err))
		return outcome(StoreDown, r), nil
	}
	verdict, text, err := sl.Replay(rep)
	switch {
	case errors.Is(err, ErrCannotReplay):
		s.Release(nc)
		s.Log.Warn(fmt.Sprintf("user '%s' (as '%s'): %v", who, r.Replay, err))
		res := outcome(BadCredentials, r)
		res.uncounted = true
		return res, nil
	case err != nil:
		s.Release(nc)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.Log.Error(fmt.Sprintf("user '%s': replay to store %s failed: %v", who, addr, err))
		return outcome(Unavailable, r), nil
	case verdict != Accepted:
		s.Release(nc)
		logging.Notice(s.Log, fmt.Sprintf("user '%s' (as '%s') from %s: store %s refused the login: %s",
			who, r.Replay, s.ClientAddr, addr, text))
		o := StoreRefused
		switch verdict {
		case Rejected:
			o = BadCredentials
		case Deferred:
			o = Unavailable
		}
		res := outcome(o, r)
		if o != BadCredentials {
			res.Text = text
		}
		return res, nil
	}
	logging.Noticef(s.Log, "user '%s' (as '%s') from %s logged in to store %s", who, r.Replay, s.ClientAddr, addr)
	res := outcome(LoggedIn, r)
	res.Text = text
	res.Store = &Store{Conn: nc, Addr: addr, Login: who, User: r.Name.Canon, FromStore: sl.Rest()}
	return res, nil
}

// preAuthOn says whether a route's password is checked against the
// directory before the store: the domain's mailAccessProxyPreAuth when it
// has one, else the session's PreAuth (docs/reference.md §2.3).
func (s *Session) preAuthOn(r *Route) bool {
	if d := r.User.Domain; d != nil && d.PreAuth != nil {
		return *d.PreAuth
	}
	return config.Get(s.Values, param.PreAuth)
}

// checkPassword asks the directory whether password is the user's, and
// writes the Sun pre-authentication line on success.
func (s *Session) checkPassword(ctx context.Context, r *Route, password string) error {
	if err := s.srv.dir().CheckPassword(ctx, r.Query, r.User, password); err != nil {
		return err
	}
	if s.Log.Enabled(ctx, logging.LevelNotice) {
		n4 := s.Values.Context()&param.N4 != 0
		logging.Notice(s.Log, PreAuthLine(time.Now(), s.ID, r.Name.Canon, s.ClientAddr.Addr(), s.ServerAddr.Addr(), n4))
	}
	return nil
}

// loginFailed counts an authentication failure against the client's
// address (docs/reference.md §4.6).
func (s *Session) loginFailed() {
	ip := s.ClientAddr.Addr()
	if badness, counted := s.srv.guards.badGuys.Failure(ip); counted {
		if d, ok := s.fleetFailure(ip); ok {
			badness = d // the fleet's, which counts this MMP's too
		}
		logging.Notice(s.Log, fmt.Sprintf("badguy %s now has %d badness", ip, access.Seconds(badness)))
	}
}

// Refusals of Authenticate, each answered in the protocol's own words
// (as are sasl.ErrCancelled and sasl.ErrMalformed).
var (
	// ErrMechanism: the session does not offer the mechanism.
	ErrMechanism = errors.New("proxy: mechanism not offered")
	// ErrPrivacy: a clear-text mechanism without TLS while
	// RestrictPlainPasswords is on.
	ErrPrivacy = errors.New("proxy: clear-text passwords need TLS here")
)

// Authenticate runs the SASL exchange of a mechanism the session offers
// (Mechanisms) and returns the credentials for Login. ir is the initial
// response as sent (nil: none); ask sends a challenge in the protocol's
// framing and returns the client's response line.
//
// A mechanism of ExtraSASLMechanisms is relayed to the AuthenticationServer
// (account.Directory.RelaySASL); its credentials are then vouched for.
func (s *Session) Authenticate(ctx context.Context, name string, ir []byte, o sasl.Options, ask func(challenge []byte) ([]byte, error)) (sasl.Credentials, error) {
	if !s.Offers(name) {
		if (strings.EqualFold(name, sasl.Plain) || strings.EqualFold(name, sasl.Login)) && s.PlainDisabled() {
			return sasl.Credentials{}, ErrPrivacy
		}
		return sasl.Credentials{}, ErrMechanism
	}
	m, ok := sasl.New(name, o)
	if !ok && slices.ContainsFunc(s.extraMechanisms(), func(x string) bool { return strings.EqualFold(x, name) }) {
		r, err := s.srv.dir().RelaySASL(ctx, s.Values, strings.ToUpper(name), s.ClientAddr.Addr(), s.ServerAddr.Addr())
		if err != nil {
			// No exchange: the login is a temporary failure.
			return sasl.Credentials{Mechanism: strings.ToUpper(name), SASL: true, Vouched: true, VouchErr: err}, nil
		}
		defer r.Close()
		m, ok = sasl.NewRelay(name, r), true
	}
	if !ok {
		return sasl.Credentials{}, ErrMechanism
	}
	return sasl.Exchange(m, ir, ask)
}
