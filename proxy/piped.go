package proxy

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy/splice"
)

// piped is a session after its login: what the pipe's end, who is
// connected and Close need, and nothing of the login. It is most of what
// an idle logged-in session holds besides its two connections and the
// pipe's own state, so the Session of the login (its values, logger,
// pre-login and fleet state: 480 octets, and a logger of 136) is left
// behind at the hand-off and becomes garbage (docs/benchmarks.md, "The
// login's state left behind at the hand-off"). A piped is in its
// Server's piped set from the hand-off until its pipe ends.
type piped struct {
	srv    *Server
	id     uint64
	client netip.AddrPort // the client, as the session knew it (PROXY header included)
	pipe   splice.Pipe    // set under mu, with started

	since int64 // when the pipe started: Unix nanoseconds, for who is connected
	start int64 // the accept, on monotonic: nanoseconds since epoch, for the close line's duration

	user      string // the canonical login, for who is connected; "" for none
	name      string // the name the client logged in with, for the close line
	storeAddr string // host:port

	release     func() // the connection's slot (ConnLimits, the fleet's lease)
	userRelease func() // the user's (MaxUserSessions); nil for none
	counted     metrics.OpenSession
	metric      metrics.PipingSession

	mu       sync.Mutex
	kicked   atomic.Bool
	started  bool        // pipe is set
	closed   bool        // stop was called, or the pipe ended
	watched  uint8       // what the Watcher heard: watchedIn, watchedOut (who.go)
	protocol param.Where // for the service's name
}

// epoch is the origin of piped.start.
var epoch = time.Now()

// handOff gives the session to the pipe (splice.Start) and leaves the
// Session behind: from here the pipe owns the connections, its
// goroutines (or none, while idle) end the session, and the caller's
// goroutine returns so that its stack, grown during the login, is freed.
// The lock is not held while the pending octets are written, so a client
// that does not read cannot stall a Close; a close that races with the
// start ends the pipe through the sockets it closes, and stop makes sure.
func (s *Session) handOff(st *Store, counted metrics.OpenSession, release func()) {
	s.piping.Store(true)
	s.limits().loggedIn(s)
	s.mu.Lock()
	if s.graceTimer != nil {
		s.graceTimer.Stop()
		s.graceTimer = nil
	}
	s.mu.Unlock()
	// The pre-login deadlines do not apply to the pipe, which has its
	// own idle timer.
	s.Client.SetDeadline(time.Time{})
	st.Conn.SetDeadline(time.Time{})
	r := &piped{
		srv:         s.srv,
		id:          s.ID,
		protocol:    s.Service.Protocol,
		client:      s.ClientAddr,
		since:       time.Now().UnixNano(),
		start:       int64(s.start.Sub(epoch)),
		user:        st.User,
		name:        st.Login,
		storeAddr:   st.Addr,
		release:     release,
		userRelease: s.fleet.userRelease,
		counted:     counted,
		metric:      metrics.Piping(s.serviceName(), st.Addr),
	}
	s.srv.handOff(s, r)
	s.mu.Lock()
	closed := s.closed
	s.after = r
	// The session's context ends when run returns; an idle session
	// need not keep it.
	s.cancel = nil
	s.mu.Unlock()
	pipe := splice.Start(s.Client, st.Conn, s.Timeout(), st.FromClient, st.FromStore, r.end)
	r.mu.Lock()
	r.pipe, r.started = pipe, true
	closed = closed || r.closed
	r.mu.Unlock()
	if closed {
		pipe.Stop()
	}
	r.watchLogin()
}

// serviceName is the TCPAccess service: imap, pop or smtp.
func (r *piped) serviceName() string { return serviceName(r.protocol) }

// stop ends the pipe from outside (Close), which closes both
// connections; before the pipe has started, the hand-off stops it.
func (r *piped) stop() {
	r.mu.Lock()
	r.closed = true
	pipe, started := r.pipe, r.started
	r.mu.Unlock()
	if started {
		pipe.Stop()
	}
}

// end is the pipe's done: the close line, the releases, the Watcher, the
// metrics, and the server forgets the session.
func (r *piped) end(res splice.Result) {
	how := "closed"
	switch {
	case r.kicked.Load():
		how = "ended by the administrator"
	case res.Idle:
		how = "closed after idle timeout"
	case res.Err != nil:
		how = fmt.Sprintf("closed on error (%v)", res.Err)
	}
	took := time.Since(epoch) - time.Duration(r.start)
	logging.Noticef(r.srv.sessionLog(r.id), "session of user '%s' %s: client %s, store %s, %d bytes from client, %d bytes from store, %s",
		r.name, how, r.client, r.storeAddr, res.FromClient, res.FromStore, took.Round(time.Millisecond))
	r.release()
	if r.userRelease != nil {
		r.userRelease()
	}
	r.watchLogout(res.FromClient, res.FromStore)
	r.metric.End(r.serviceName(), res.FromClient, res.FromStore)
	r.counted.Close()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.srv.endPiped(r)
}
