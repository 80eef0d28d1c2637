package proxy

import (
	"time"

	"github.com/openmmp/mmp/who"
)

// Who is connected (imsconnutil). The registry of a Server's logged-in
// sessions is its piped set, which exists anyway: a logged-in session
// (piped) carries its user, store and login time (a few words), and the
// pipe counts its octets. Listing and kicking walk the set; nothing runs per
// session, no goroutine, no timer.

// Watcher hears of every session that logs in and every logged-in session
// that ends: the last-access table, the fleet's registry. Its methods are
// called in the session's goroutines, after the client has its reply
// (login) or its connection is closed (logout); they must return at once
// and do no I/O.
type Watcher interface {
	LoggedIn(s who.Session)
	LoggedOut(s who.Session) // with the final octet counts
}

// Goodbyer is implemented by a Protocol that tells a logged-in client
// goodbye when an administrator ends its session (imsconnutil -k): IMAP
// "* BYE". A Protocol without it (POP, SMTP) just has the connection
// closed.
type Goodbyer interface {
	Goodbye(reason string) []byte
}

// KickReason is what a kicked IMAP client reads in its "* BYE".
const KickReason = "Disconnected by the administrator"

// record is the session as who-is-connected shows it; ok is false before
// the pipe starts and for a session without a user (SMTP handed to the
// relay without AUTH).
func (r *piped) record() (who.Session, bool) {
	r.mu.Lock()
	pipe, started := r.pipe, r.started
	r.mu.Unlock()
	if !started || r.user == "" {
		return who.Session{}, false
	}
	w := r.whoSession()
	w.FromClient, w.FromStore = pipe.Counts()
	return w, true
}

// whoSession is the record without the counts.
func (r *piped) whoSession() who.Session {
	return who.Session{ID: r.id, User: r.user, Service: r.serviceName(), Client: r.client.String(),
		Store: r.storeAddr, Since: time.Unix(0, r.since)}
}

// loggedIn returns the server's logged-in sessions that m selects, of
// service ("" any), with their records.
func (s *Server) loggedIn(m who.Matcher, service string) ([]*piped, []who.Session) {
	s.mu.Lock()
	all := make([]*piped, 0, len(s.piped))
	for r := range s.piped {
		all = append(all, r)
	}
	s.mu.Unlock()
	var sessions []*piped
	var records []who.Session
	for _, r := range all {
		w, ok := r.record()
		if !ok || !m.Has(w.User) || service != "" && w.Service != service {
			continue
		}
		sessions = append(sessions, r)
		records = append(records, w)
	}
	return sessions, records
}

// LoggedIn lists the logged-in sessions of the users m selects (nil:
// everybody) on service ("" any), in no particular order.
func (s *Server) LoggedIn(m who.Matcher, service string) []who.Session {
	_, r := s.loggedIn(m, service)
	return r
}

// Kick ends the logged-in sessions of the users m selects (nil:
// everybody), as an administrator does after a password change or a
// mailbox move: an IMAP client reads "* BYE" first, others are closed.
// It returns the sessions ended, with their counts so far; they are gone
// within a second.
func (s *Server) Kick(m who.Matcher) []who.Session {
	sessions, records := s.loggedIn(m, "")
	var bye []byte
	if g, ok := s.opts.Protocol.(Goodbyer); ok {
		bye = g.Goodbye(KickReason)
	}
	for _, r := range sessions {
		r.kicked.Store(true)
		r.mu.Lock()
		pipe := r.pipe // started: loggedIn lists no other
		r.mu.Unlock()
		if bye != nil {
			pipe.End(bye)
		} else {
			pipe.Stop()
		}
	}
	return records
}

// What the Watcher heard of a session (Session.watched).
const (
	watchedIn  = 1 // the login
	watchedOut = 2 // the end; or the session ended before the login was told
)

// watchLogin tells the Watcher of a login that just got its pipe, unless
// the session is already over. The Watcher is called under the session's
// lock, so that it hears of a login before its logout.
func (r *piped) watchLogin() {
	w := r.srv.opts.Watcher
	if w == nil {
		return
	}
	rec, ok := r.record()
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched != 0 || r.closed {
		return // over already
	}
	r.watched = watchedIn
	w.LoggedIn(rec)
}

// watchLogout tells the Watcher that a logged-in session it heard of
// ended.
func (r *piped) watchLogout(fromClient, fromStore int64) {
	w := r.srv.opts.Watcher
	if w == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.watched == watchedIn
	r.watched = watchedOut
	if !in {
		return
	}
	rec := r.whoSession()
	rec.FromClient, rec.FromStore = fromClient, fromStore
	w.LoggedOut(rec)
}
