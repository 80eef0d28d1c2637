package proxy

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmmp/mmp/logging"
)

// Limits caps the client connections of a process, across all its
// services (MaxConnections, MaxPreLoginConnections), so that descriptors
// never run out: accept failing with EMFILE would stall every service,
// logged-in users' new logins included. A logged-in session holds two
// descriptors (client and store), a connection not logged in one until it
// connects to the store; both count against MaxConnections, which is
// derived so that every connection can hold two. Connections not logged
// in have a cap of their own, so that they cannot take the room of
// logged-in sessions.
//
// When a new connection finds either cap reached, the connection not yet
// logged in that has waited longest for its client (idle longest: its
// last command, or its accept, is the oldest) is closed to admit it, with
// the protocol's refusal when that costs one write; a connection whose
// login is being decided (directory, store) is spared. Only when no
// connection can be closed so is the new one turned away. A flood of idle
// connections thus cycles through the cap instead of filling the
// descriptor table, and each connection gets its turn to log in.
//
// A Limits is safe for concurrent use; one is shared by every Server of a
// process (Options.Limits).
type Limits struct {
	max, maxPre int

	mu    sync.Mutex
	conns int     // connections admitted and not ended
	pre   int     // of them, not logged in
	idle  Session // sentinel of the list of pre-login sessions waiting for their client, least recently active first

	closedIdle atomic.Int64 // idle connections closed for a new one
	refused    atomic.Int64 // new connections turned away
	lastWarn   atomic.Int64 // unix nanoseconds of the last warning line
}

// Session states in Limits, changed under Limits.mu.
const (
	capNone     = iota // not admitted
	capIdle            // pre-login, waiting for the client: in the idle list
	capBusy            // pre-login, its login being decided: not closable
	capLoggedIn        // piping
	capGone            // ended, or closed for a new connection
)

// DescriptorReserve is the part of the descriptor limit that derived caps
// leave to what is not a client connection: listeners, log files,
// directory connections, the pipes of the splice while data moves, and
// the connection accepted only to be refused.
func DescriptorReserve(nofile int) int { return max(64, nofile/10) }

// DescriptorLimit is the process's descriptor limit (RLIMIT_NOFILE) that
// derived caps follow.
func DescriptorLimit() int { return descriptorLimit() }

// DerivedCaps returns the caps for a descriptor limit nofile: half of
// what the reserve leaves for connections (a logged-in session holds
// two), and half of that for connections not logged in.
func DerivedCaps(nofile int) (maxConns, maxPreLogin int) {
	maxConns = max((nofile-DescriptorReserve(nofile))/2, 2)
	return maxConns, max(maxConns/2, 1)
}

// NewLimits returns caps of maxConns connections and maxPreLogin not
// logged in. Zero derives a cap from the process's descriptor limit
// (RLIMIT_NOFILE, DerivedCaps); MaxPreLogin is at most maxConns.
func NewLimits(maxConns, maxPreLogin int) *Limits {
	dConns, dPre := DerivedCaps(descriptorLimit())
	if maxConns <= 0 {
		maxConns = dConns
	}
	if maxPreLogin <= 0 {
		maxPreLogin = max(min(dPre, maxConns/2), 1)
	}
	l := &Limits{max: maxConns, maxPre: min(maxPreLogin, maxConns)}
	l.idle.capPrev, l.idle.capNext = &l.idle, &l.idle
	return l
}

var processLimits = sync.OnceValue(func() *Limits { return NewLimits(0, 0) })

// ProcessLimits is the Limits of servers whose Options.Limits is nil:
// caps derived from the descriptor limit when first asked for.
func ProcessLimits() *Limits { return processLimits() }

// Caps returns the caps in force.
func (l *Limits) Caps() (maxConns, maxPreLogin int) { return l.max, l.maxPre }

// Counts returns how many connections are held, and how many of them are
// not logged in.
func (l *Limits) Counts() (conns, preLogin int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns, l.pre
}

// Closed returns how many idle connections were closed to admit new ones,
// and how many new connections were turned away.
func (l *Limits) Closed() (idle, refused int64) { return l.closedIdle.Load(), l.refused.Load() }

// admit counts a new connection. When a cap is reached it takes out the
// pre-login session idle longest, which the caller closes; ok is false
// when there was none and the new connection must be turned away.
func (l *Limits) admit(s *Session) (victim *Session, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns >= l.max || l.pre >= l.maxPre {
		if v := l.idle.capNext; v != &l.idle {
			l.unlink(v)
			v.capState = capGone
			l.conns--
			l.pre--
			victim = v
		}
	}
	if l.conns >= l.max || l.pre >= l.maxPre {
		return victim, false
	}
	l.conns++
	l.pre++
	s.capState = capIdle
	l.pushIdle(s)
	return victim, true
}

// active moves a pre-login session to the end of the idle list: it is
// waiting for its client's next command.
func (l *Limits) active(s *Session) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s.capState {
	case capIdle:
		l.unlink(s)
	case capBusy:
	default:
		return
	}
	s.capState = capIdle
	l.pushIdle(s)
}

// busy takes a pre-login session out of the idle list while its login is
// being decided.
func (l *Limits) busy(s *Session) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.capState == capIdle {
		l.unlink(s)
		s.capState = capBusy
	}
}

// loggedIn counts a session as logged in.
func (l *Limits) loggedIn(s *Session) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s.capState {
	case capIdle:
		l.unlink(s)
	case capBusy:
	default:
		return
	}
	l.pre--
	s.capState = capLoggedIn
}

// end forgets a session that has ended.
func (l *Limits) end(s *Session) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s.capState {
	case capIdle:
		l.unlink(s)
		fallthrough
	case capBusy:
		l.pre--
		l.conns--
	case capLoggedIn:
		l.conns--
	}
	s.capState = capGone
}

// endPiped forgets a logged-in session that has ended after its hand-off
// (its Session, counted capLoggedIn, is gone).
func (l *Limits) endPiped() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.conns--
	l.mu.Unlock()
}

func (l *Limits) pushIdle(s *Session) {
	s.capPrev, s.capNext = l.idle.capPrev, &l.idle
	s.capPrev.capNext, l.idle.capPrev = s, s
	s.lastActive = time.Now()
}

func (l *Limits) unlink(s *Session) {
	s.capPrev.capNext, s.capNext.capPrev = s.capNext, s.capPrev
	s.capPrev, s.capNext = nil, nil
}

// warnEvery is how often at most a server logs that a cap was reached; each
// closed or refused connection has its own line at Notice level.
const warnEvery = 10 * time.Second

// warn logs, at most every warnEvery, that the caps are at work, at Error
// level so that the default LogLevel keeps it.
func (l *Limits) warn(s *Session) {
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(warnEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	conns, pre := l.Counts()
	idle, refused := l.Closed()
	s.Log.Error(fmt.Sprintf("connection caps reached: %d connections, %d of them not logged in (MaxConnections %d, MaxPreLoginConnections %d); %d idle connections closed for new ones and %d new ones refused so far",
		conns, pre, l.max, l.maxPre, idle, refused))
}

// evict closes a pre-login session that admit took out for a new
// connection: the protocol's refusal if it costs one write, then the
// sockets, at once, so that the descriptor is free for the new one.
func (s *Session) evict(l *Limits) {
	l.closedIdle.Add(1)
	logging.Notice(s.Log, fmt.Sprintf("closing the connection from %s, idle for %v before login, to admit a new one (MaxConnections %d, MaxPreLoginConnections %d)",
		s.ClientAddr, time.Since(s.lastActive).Round(time.Millisecond), l.max, l.maxPre))
	l.warn(s)
	s.goodbye("Too many connections; closing the one idle longest")
	s.closeRaw()
	s.closeAll()
}

// turnAway refuses a new connection no cap has room for.
func (s *Session) turnAway(l *Limits) {
	l.refused.Add(1)
	conns, pre := l.Counts()
	logging.Notice(s.Log, fmt.Sprintf("connection from %s refused: %d connections, %d of them not logged in and none idle (MaxConnections %d, MaxPreLoginConnections %d)",
		s.ClientAddr, conns, pre, l.max, l.maxPre))
	l.warn(s)
	s.goodbye("Too many connections; try again later")
	s.closeAll()
}

// goodbye sends the protocol's refusal when the client connection is
// plain TCP and the line fits in its socket buffer: one write that never
// waits. Inside TLS it would take a record, and perhaps a handshake.
func (s *Session) goodbye(msg string) {
	s.mu.Lock()
	c := s.Client
	s.mu.Unlock()
	if s.implicit {
		return
	}
	w, ok := oneWrite(c)
	if !ok {
		return
	}
	// Refuse writes to Client only; it gets a session of its own whose
	// Client is w, since the session's may be in use by its goroutine.
	func() {
		defer func() { recover() }() // best effort, as Refuse is
		s.srv.opts.Protocol.Refuse(&Session{ID: s.ID, Client: w, ClientAddr: s.ClientAddr, ServerAddr: s.ServerAddr,
			Values: s.Values, Service: s.Service, Log: s.Log, srv: s.srv, start: s.start, tlsc: s.tlsc}, msg)
	}()
}
