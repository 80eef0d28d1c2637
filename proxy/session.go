package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/sasl"
	"github.com/openmmp/mmp/tlsconf"
)

// Protocol is the pre-login half of a proxy protocol (IMAP, POP, SMTP).
// The Server calls Login once per connection, in the connection's own
// goroutine.
type Protocol interface {
	// Login greets the client, runs the dialogue until the user is logged
	// in to a store, and returns that store connection. It returns a nil
	// Store and a nil error when the client left (LOGOUT, QUIT, idle
	// timeout, too many errors); an error only for what deserves a log line
	// (I/O errors, cancellation). Store connections it opened with
	// Session.DialStore and does not return are closed with the session.
	Login(ctx context.Context, s *Session) (*Store, error)

	// Refuse tells a client the MMP will not serve it (an access filter or
	// the connection limit said no) in the protocol's own words: IMAP
	// "* BYE", POP "-ERR", SMTP "421". The server closes the connection
	// afterwards. It is best effort.
	Refuse(s *Session, msg string)

	// InternalError writes the protocol's canned internal-error reply
	// (IMAP "* BYE", POP "-ERR", SMTP "421") to a client whose session
	// is being closed after a panic. It is best effort.
	InternalError(s *Session)
}

// Store is a logged-in store connection, handed from the protocol to the
// pipe.
type Store struct {
	Conn  net.Conn // the store connection, unwrapped (*net.TCPConn) where possible so that it splices
	Addr  string   // host:port, for log lines
	Login string   // the name the client logged in with, for log lines
	User  string   // the canonical login (account.Name.Canon), for who is connected; "" for none

	// Octets already read but not yet delivered: client commands pipelined
	// behind the login command, and store data behind its reply. The pipe
	// sends them first.
	FromClient []byte
	FromStore  []byte
}

// Session is one client connection. Protocols read and write Client and
// use the helpers (Route, ConnectStore, SetIdleDeadline); the fields are
// set by the Server before Login is called and must not be changed,
// except Client through SetClient.
type Session struct {
	ID         uint64         // "(id N)" in log lines
	Client     net.Conn       // the client connection
	ClientAddr netip.AddrPort // zero if the connection is not TCP
	ServerAddr netip.AddrPort // the local address the client reached

	// Values are the session's effective parameters: the service's,
	// overlaid with the vdmap block of ServerAddr. They are resolved once,
	// when the connection is accepted, and kept for the whole session even
	// if the server's configuration is refreshed meanwhile.
	Values  *config.Values
	Service *config.Service

	Log *slog.Logger // carries "(id N)"

	srv    *Server
	start  time.Time
	piping atomic.Bool

	// loginBy is when LoginGraceTime runs out (zero: no limit); graceTimer
	// closes a session still not piping a little after it (it is set before
	// the session runs, then changed only under mu). inLogin is set
	// from the BadGuys wait until the next command: a login being decided
	// is let finish.
	loginBy    time.Time
	graceTimer *time.Timer
	inLogin    atomic.Bool

	// The session's place in the process's Limits, under Limits.mu.
	capState         int
	capPrev, capNext *Session
	lastActive       time.Time // when it last waited for its client (pre-login)

	tlsc        *tlsconf.Config // the TLS setup the session started with; may be nil
	certmaps    certmaps        // the certmap.conf files the session started with
	failedCreds []failureKey    // the credentials of the failed logins (repeatedFailure)
	failures    int             // failed logins counted so far, against MaxLoginFailures
	implicit    bool            // accepted on an SSLPorts port: TLS from the start

	fleet fleetState // the session's share of the fleet (fleet.go)

	// The client's reverse DNS name, looked up at most once (ClientName).
	nameDone bool
	name     string
	nameOK   bool
	nameTemp bool

	mu     sync.Mutex
	stores []net.Conn // store connections opened and not released (one or two: a slice is smaller than a map)
	closed bool
	after  *piped             // the session after login (handOff), nil before
	cancel context.CancelFunc // ends the session's context before the pipe (a BadGuys wait, a lookup)
}

// Timeout is the session's idle Timeout (docs/reference.md §4.7).
func (s *Session) Timeout() time.Duration { return config.Get(s.Values, param.Timeout) }

// IsConnError tells a broken, closed or timed-out connection from a
// failure of the MMP's own: the first ends the session quietly, the
// second is logged and answered with the protocol's internal error.
func IsConnError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed)
}

// SetIdleDeadline gives the client Timeout from now to send something,
// but never beyond LoginGraceTime after the accept: protocols call it
// before each read of the pre-login dialogue (docs/reference.md §4.7:
// Timeout applies to client idle time before login). A client past
// LoginGraceTime finds its read failing at once, and the protocol tells
// it goodbye as it tells an idle client.
func (s *Session) SetIdleDeadline() error {
	s.inLogin.Store(false)
	s.limits().active(s)
	var d time.Time
	if t := s.Timeout(); t > 0 {
		d = time.Now().Add(t)
	}
	if !s.loginBy.IsZero() && (d.IsZero() || s.loginBy.Before(d)) {
		d = s.loginBy
	}
	return s.Client.SetReadDeadline(d)
}

// limits is the Limits the session counts in; nil for a session made
// outside a Server (tests of a protocol's replies).
func (s *Session) limits() *Limits {
	if s.srv == nil {
		return nil
	}
	return s.srv.limits
}

// loginGraceSlack is how long after LoginGraceTime a session that has
// not ended by itself is closed: its own goroutine ends it at
// LoginGraceTime if it waits for the client, but not if it is stuck
// writing to a client that does not read, or in a handshake.
const loginGraceSlack = 2 * time.Second

// startGrace arms the LoginGraceTime of a session just accepted.
func (s *Session) startGrace() {
	g := config.Get(s.Values, param.LoginGraceTime)
	if g <= 0 {
		return
	}
	s.loginBy = s.start.Add(g)
	s.graceTimer = time.AfterFunc(g+loginGraceSlack, s.graceOver)
}

// graceOver closes a session that is still not logged in, unless its
// login is being decided (BadGuys wait, directory, store), which ends
// by itself within its own timeouts: it is looked at again later.
func (s *Session) graceOver() {
	if s.piping.Load() {
		return
	}
	if s.inLogin.Load() {
		s.mu.Lock()
		if s.graceTimer != nil { // nil once piping
			s.graceTimer.Reset(loginGraceSlack)
		}
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	logging.Notice(s.Log, fmt.Sprintf("client %s did not log in within LoginGraceTime (%v); closing the connection",
		s.ClientAddr, config.Get(s.Values, param.LoginGraceTime)))
	s.closeRaw()
	s.closeAll()
}

// closeRaw closes the socket under a TLS client connection first, so that
// closing the session cannot block sending a TLS close_notify to a client
// that does not read.
func (s *Session) closeRaw() {
	s.mu.Lock()
	c := s.Client
	s.mu.Unlock()
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		nc.NetConn().Close()
	}
}

// PlainDisabled says whether clear-text passwords must be refused:
// RestrictPlainPasswords without TLS. Every protocol's capability list
// and login commands follow this one function.
func (s *Session) PlainDisabled() bool {
	return config.Get(s.Values, param.RestrictPlainPasswords) && !s.TLS()
}

// Mechanisms lists the SASL mechanisms this session offers, in the order
// the capability lists give them: PLAIN and LOGIN while clear-text
// passwords are allowed, EXTERNAL when a client certificate can log in
// (docs/reference.md §3.7), CRAM-MD5 with CRAMs, which sends no
// clear-text password and so is offered before TLS too, and the
// ExtraSASLMechanisms the AuthenticationServer performs.
func (s *Session) Mechanisms() []string {
	var m []string
	if !s.PlainDisabled() {
		m = append(m, sasl.Plain, sasl.Login)
	}
	if s.TLS() && s.CertificateLoginOffered() {
		m = append(m, sasl.External)
	}
	if config.Get(s.Values, param.CRAMs) {
		m = append(m, sasl.CramMD5)
	}
	for _, x := range s.extraMechanisms() {
		if !slices.ContainsFunc(m, func(have string) bool { return strings.EqualFold(have, x) }) {
			m = append(m, strings.ToUpper(x))
		}
	}
	return m
}

// extraMechanisms are the ExtraSASLMechanisms this session offers: those
// the AuthenticationServer performs, so only with AuthenticationServer
// and PreAuth set (docs/reference.md §2.3), which for SMTP is SmtpAuth
// directory (the MMP checks every SMTP login itself there).
func (s *Session) extraMechanisms() []string {
	preAuth := config.Get(s.Values, param.PreAuth)
	if s.Service != nil && s.Service.Protocol == param.SMTP {
		preAuth = config.Get(s.Values, param.SmtpAuth) == "directory"
	}
	if config.Get(s.Values, param.AuthenticationServer) == "" || !preAuth {
		return nil
	}
	return config.Get(s.Values, param.ExtraSASLMechanisms)
}

// Offers says whether mechanism (any letter case) is in Mechanisms.
func (s *Session) Offers(mechanism string) bool {
	return slices.ContainsFunc(s.Mechanisms(), func(m string) bool { return strings.EqualFold(m, mechanism) })
}

// SetClient replaces the client connection, for a STARTTLS upgrade: the
// *tls.Conn wraps the original connection. The server then closes the
// new connection when it closes the session.
func (s *Session) SetClient(c net.Conn) {
	s.mu.Lock()
	s.Client = c
	closed := s.closed
	s.mu.Unlock()
	if closed {
		c.Close()
	}
}

// Release closes a store connection the protocol gives up on (a refused
// login) and forgets it.
func (s *Session) Release(c net.Conn) {
	if c == nil {
		return
	}
	s.mu.Lock()
	if i := slices.Index(s.stores, c); i >= 0 {
		s.stores = slices.Delete(s.stores, i, i+1)
	}
	s.mu.Unlock()
	c.Close()
}

// trackStore remembers a store connection so that Close and Shutdown can
// close it; false if the session is already closed (the caller closes c).
func (s *Session) trackStore(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if !slices.Contains(s.stores, c) {
		s.stores = append(s.stores, c)
	}
	return true
}

// closeAll closes the client and every store connection. It may run
// concurrently with the session (Server.Close): closing the sockets is
// what makes the session's goroutines return.
func (s *Session) closeAll() {
	s.mu.Lock()
	s.closed = true
	client := s.Client
	stores := s.stores
	s.stores = nil
	after, cancel := s.after, s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if after != nil {
		after.stop() // a parked pipe has no goroutine to notice the close
	}
	client.Close()
	for _, c := range stores {
		c.Close()
	}
}

// run is the life of a session: the protocol's dialogue, then the pipe.
func (s *Session) run(base context.Context, p Protocol) (handedOff bool) {
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	counted := metrics.SessionOpened(s.serviceName())
	defer func() {
		if !handedOff {
			counted.Close()
		}
	}()
	if !s.acceptProxyHeader() {
		return false
	}
	logging.Infof(s.Log, "connection from %s to %s", s.ClientAddr, s.ServerAddr)
	release, refusal, reason := s.admit(ctx)
	if refusal != "" {
		metrics.Refused(s.serviceName(), reason)
		// On an SSL port the refusal is only readable inside TLS.
		if !s.implicit || s.implicitTLS(ctx) {
			p.Refuse(s, refusal)
		}
		return false
	}
	defer func() {
		if !handedOff {
			release()
			if r := s.fleet.userRelease; r != nil {
				r()
			}
		}
	}()
	if s.implicit && !s.implicitTLS(ctx) {
		return false
	}
	st, err := p.Login(ctx, s)
	if err != nil {
		if st != nil && st.Conn != nil {
			s.Release(st.Conn)
		}
		logging.Infof(s.Log, "client %s closed before login: %v", s.ClientAddr, err)
		return false
	}
	if st == nil {
		logging.Infof(s.Log, "client %s left before login", s.ClientAddr)
		return false
	}
	s.handOff(st, counted, release)
	return true
}
