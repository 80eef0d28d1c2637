package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/tlsconf"
)

// Accept backoff after an error such as EMFILE: waiting gives sessions the
// chance to close descriptors instead of spinning on a full table
// (go-imap server.go, net/http Server.Serve).
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("proxy: server closed")

// Options configure a Server. Service and Protocol are required.
type Options struct {
	// Service is the configuration the server starts with: listening
	// addresses, service values and vdmap blocks. Update replaces it for
	// sessions that start later.
	Service *config.Service

	// Protocol runs the pre-login dialogue of every session.
	Protocol Protocol

	// Directory finds users and checks passwords. Nil makes every lookup
	// fail with account.ErrUnavailable, which lets a server run (and
	// answer CAPABILITY) without a directory.
	Directory account.Directory

	// Log receives connection, login and close lines. Nil discards them.
	Log *logging.Logger

	// Dial connects to stores. Nil means a net.Dialer with ConnectTimeout;
	// tests use it to count or fail connections.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Workers bounds concurrent TLS handshakes and directory operations
	// across the services that share it (NumThreads). Nil bounds
	// nothing.
	Workers *Workers

	// Resolver looks up client host names (access filters with names,
	// ClientLookup). Nil means net.DefaultResolver.
	Resolver *net.Resolver

	// Limits caps the connections of the process (MaxConnections,
	// MaxPreLoginConnections); every server of a process shares one. Nil
	// means ProcessLimits, caps derived from the descriptor limit.
	Limits *Limits

	// TLS is the service's TLS setup (tlsconf.Load): SSLPorts,
	// STARTTLS/STLS and TLS to the stores. Nil means no TLS towards
	// clients; SSLBacksidePort then still connects to stores with TLS,
	// verified against the system's roots. SetTLS replaces it.
	TLS *tlsconf.Config

	// Watcher hears of logins and of the end of logged-in sessions (who
	// is connected). Nil: nobody.
	Watcher Watcher

	// Fleet shares BadGuys, ConnLimits and MaxUserSessions with the other
	// MMPs of a fleet through Redis (docs/reference.md §4.9). Nil keeps
	// them in this process.
	Fleet *fleet.Client
}

// Server accepts the connections of one service. Its methods are safe for
// concurrent use.
type Server struct {
	opts   Options
	cfg    atomic.Pointer[configured]
	guards *guards // BadGuys and connection counts; survive Update
	limits *Limits // the process's caps
	log    *slog.Logger
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	tls    atomic.Pointer[tlsconf.Config]

	// base is cancelled by Close, so that directory lookups and store
	// connections in progress give up at once.
	base   context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*Session]struct{} // before the hand-off to the pipe
	piped     map[*piped]struct{}   // after it: the logged-in sessions
	closing   bool
	wg        sync.WaitGroup // sessions, until they end

	// runq hands a new session to a goroutine that has served one and
	// waits for the next (runner).
	runq chan *Session
}

// configured is what Update installs at once: the service and the files
// its configuration names that are read with it.
type configured struct {
	svc      *config.Service
	certmaps certmaps
}

func newConfigured(svc *config.Service) *configured {
	return &configured{svc: svc, certmaps: loadCertmaps(svc)}
}

// resolver is Options.Resolver or the default one.
func (s *Server) resolver() *net.Resolver {
	if s.opts.Resolver != nil {
		return s.opts.Resolver
	}
	return net.DefaultResolver
}

// dir is the directory, or one that is always unavailable.
func (s *Server) dir() account.Directory {
	if s.opts.Directory == nil {
		return noDirectory{}
	}
	return s.opts.Directory
}

// noDirectory answers every question with account.ErrUnavailable.
type noDirectory struct{}

var errNoDirectory = fmt.Errorf("proxy: no directory configured: %w", account.ErrUnavailable)

func (noDirectory) Lookup(context.Context, account.Query) (*account.User, error) {
	return nil, errNoDirectory
}
func (noDirectory) LookupCertificate(context.Context, *config.Values, *x509.Certificate, *cfgfmt.Map) (*account.User, error) {
	return nil, errNoDirectory
}
func (noDirectory) CheckPassword(context.Context, account.Query, *account.User, string) error {
	return errNoDirectory
}
func (noDirectory) ClearPassword(context.Context, *config.Values, *account.User) (string, error) {
	return "", errNoDirectory
}
func (noDirectory) RelaySASL(context.Context, *config.Values, string, netip.Addr, netip.Addr) (account.SASLRelay, error) {
	return nil, errNoDirectory
}

// sessionIDs numbers sessions process-wide, so that the "(id N)" of two
// services in one AService process never collide in a shared log.
var sessionIDs atomic.Uint64

// NewServer returns a server for opts. It does not listen yet.
func NewServer(opts Options) *Server {
	if opts.Service == nil || opts.Protocol == nil {
		panic("proxy: NewServer needs a Service and a Protocol")
	}
	s := &Server{
		opts:      opts,
		listeners: map[net.Listener]struct{}{},
		runq:      make(chan *Session),
		sessions:  map[*Session]struct{}{},
		piped:     map[*piped]struct{}{},
	}
	s.cfg.Store(newConfigured(opts.Service))
	s.tls.Store(withSlots(opts.TLS))
	s.guards = newGuards(opts.Service)
	s.guards.fleet = opts.Fleet
	s.limits = opts.Limits
	if s.limits == nil {
		s.limits = ProcessLimits()
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	if opts.Log != nil {
		s.log = opts.Log.Slog()
	} else {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.dial = opts.Dial
	if s.dial == nil {
		d := &net.Dialer{Timeout: ConnectTimeout}
		s.dial = d.DialContext
	}
	return s
}

// Update makes svc the configuration of sessions accepted from now on
// (refresh, docs/reference.md §4.8). Sessions already running keep the values they
// started with; listening addresses are not changed.
func (s *Server) Update(svc *config.Service) {
	if svc != nil {
		s.guards.update(svc)
		s.cfg.Store(newConfigured(svc))
	}
}

// Service returns the configuration new sessions start with.
func (s *Server) Service() *config.Service { return s.cfg.Load().svc }

// Listen opens a listener on every address of the service. If one fails,
// those already opened are closed and the error names the address. The
// listeners belong to the server: Close and Shutdown close them.
func (s *Server) Listen() ([]net.Listener, error) {
	var lns []net.Listener
	for _, a := range s.cfg.Load().svc.Listen {
		addr := a.String()
		if !a.IP.IsValid() {
			addr = ":" + addr
		}
		ln, err := ListenTCP(addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("proxy: listen on %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return nil, errors.New("proxy: the service has no address to listen on")
	}
	return lns, nil
}

// ListenAndServe opens every listening address and serves them until Close
// or Shutdown. It returns once every listener has stopped: the first
// listener's result, ErrServerClosed after Close or Shutdown.
func (s *Server) ListenAndServe() error {
	lns, err := s.Listen()
	if err != nil {
		return err
	}
	errs := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errs <- s.Serve(ln) }()
	}
	err = <-errs
	for range lns[1:] {
		<-errs
	}
	return err
}

// Serve accepts connections on ln until the server is closed, running
// each in its own goroutine. It returns ErrServerClosed after Close or
// Shutdown. Temporary accept errors (EMFILE, ECONNABORTED) are retried
// with a backoff from 5 ms to 1 s.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrack(ln)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			s.log.Error(fmt.Sprintf("accept on %s: %v; retrying in %v", ln.Addr(), err, backoff))
			select {
			case <-time.After(backoff):
			case <-s.base.Done():
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		sess := s.newSession(c)
		if sess == nil {
			c.Close()
			continue
		}
		victim, ok := s.limits.admit(sess)
		if victim != nil {
			victim.evict(s.limits)
		}
		if !ok {
			sess.turnAway(s.limits)
			s.endSession(sess)
			continue
		}
		s.start(sess)
	}
}

// runnerIdle is how long a goroutine that has served a session waits for
// the next one before it ends.
const runnerIdle = 2 * time.Second

// start runs a session on a goroutine that has served one before and is
// waiting (runner), or on a new one. The login (lookup, store dial,
// replay) grows a goroutine's stack well beyond the few KiB it starts
// with, and the stack is copied each time it doubles: that was a tenth of
// the CPU time of a login (runtime.newstack in the profile,
// docs/benchmarks.md).
// A goroutine that served a session keeps its stack for the next.
func (s *Server) start(sess *Session) {
	select {
	case s.runq <- sess:
	default:
		go s.runner(sess)
	}
}

// runner serves sess, then the sessions start hands it, until none came
// for runnerIdle or the server is closed. Its stack, once grown, is
// given back by the GC only (it shrinks the stacks of goroutines that
// use little of theirs), or when it ends: idle runners are at most the
// logins that were in progress at once a moment ago.
func (s *Server) runner(sess *Session) {
	t := time.NewTimer(runnerIdle)
	defer t.Stop()
	for {
		s.serveConn(sess)
		t.Reset(runnerIdle)
		select {
		case sess = <-s.runq:
		case <-t.C:
			return
		case <-s.base.Done():
			return
		}
	}
}

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// newSession registers a connection, or returns nil if the server is
// closing. The effective values are resolved here, once: a session keeps
// them even if Update installs a new configuration while it runs.
func (s *Server) newSession(c net.Conn) *Session {
	cfg := s.cfg.Load()
	svc := cfg.svc
	local := addrPort(c.LocalAddr())
	remote := addrPort(c.RemoteAddr())
	id := sessionIDs.Add(1)
	lg := s.sessionLog(id)
	sess := &Session{
		ID:         id,
		Client:     c,
		ClientAddr: remote,
		ServerAddr: local,
		Values:     svc.ForLocal(local.Addr()),
		Service:    svc,
		Log:        lg,
		srv:        s,
		start:      time.Now(),
		tlsc:       s.tls.Load(),
		certmaps:   cfg.certmaps,
	}
	sess.implicit = sess.tlsc.Implicit(local)
	sess.startGrace()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return sess
}

// sessionLog is the logger of session id, whose lines carry "(id N)".
func (s *Server) sessionLog(id uint64) *slog.Logger {
	if s.opts.Log != nil {
		return s.opts.Log.Session(id)
	}
	return s.log
}

// handOff moves a session that logged in from the sessions set to the
// piped set (Session.handOff).
func (s *Server) handOff(sess *Session, r *piped) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.piped[r] = struct{}{}
	s.mu.Unlock()
}

// endPiped forgets a logged-in session whose pipe ended.
func (s *Server) endPiped(r *piped) {
	s.limits.endPiped()
	s.mu.Lock()
	delete(s.piped, r)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) endSession(sess *Session) {
	if sess.graceTimer != nil {
		sess.graceTimer.Stop()
	}
	s.limits.end(sess)
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

// serveConn runs one session. A panic in a protocol is logged with the
// session id, answered with the protocol's internal-error reply when the
// client is still in the MMP's hands, and costs only that connection.
func (s *Server) serveConn(sess *Session) {
	handedOff := false
	defer func() {
		if !handedOff { // else the pipe ends the session when it is over
			sess.closeAll()
			s.endSession(sess)
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			sess.Log.Error(fmt.Sprintf("internal error, closing the connection: %v", v))
			if !sess.piping.Load() {
				func() {
					defer func() { recover() }()
					s.opts.Protocol.InternalError(sess)
				}()
			}
		}
	}()
	handedOff = sess.run(s.base, s.opts.Protocol)
}

// Close stops the server at once: listeners and every session, logged in
// or not, are closed, and lookups and store connections in progress are
// cancelled. It returns when every session goroutine has finished.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	sessions := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	piped := make([]*piped, 0, len(s.piped))
	for r := range s.piped {
		piped = append(piped, r)
	}
	s.mu.Unlock()
	s.cancel()
	for _, sess := range sessions {
		sess.closeAll()
	}
	for _, r := range piped {
		r.stop()
	}
	s.wg.Wait()
	return nil
}

// Shutdown stops accepting connections and lets running sessions finish
// until ctx is done, then closes those left as Close does (stop-msg's
// grace period, docs/reference.md §4.8). It returns nil if every session ended on its
// own, else ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Sessions returns how many sessions are running, for tests and status.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions) + len(s.piped)
}

// addrPort converts a net.Addr of a TCP connection; other kinds (net.Pipe
// in tests) give the zero AddrPort.
func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case interface{ AddrPort() netip.AddrPort }:
		return a.AddrPort()
	}
	if a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap
		}
	}
	return netip.AddrPort{}
}
