package proxy

import "github.com/openmmp/mmp/who"

// Who is connected (imsconnutil). The registry of a Server's logged-in
// sessions is its sessions set, which exists anyway: a logged-in session
// carries its user, store and login time (a few words), and the pipe
// counts its octets. Listing and kicking walk the set; nothing runs per
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
func (s *Session) record() (who.Session, bool) {
	s.mu.Lock()
	pipe, user, store, since := s.pipe, s.user, s.storeAddr, s.since
	s.mu.Unlock()
	if pipe == nil || user == "" {
		return who.Session{}, false
	}
	r := who.Session{ID: s.ID, User: user, Service: s.serviceName(), Client: s.ClientAddr.String(),
		Store: store, Since: since}
	r.FromClient, r.FromStore = pipe.Counts()
	return r, true
}

// loggedIn returns the server's logged-in sessions that m selects, of
// service ("" any), with their records.
func (s *Server) loggedIn(m who.Matcher, service string) ([]*Session, []who.Session) {
	s.mu.Lock()
	all := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		if sess.piping.Load() {
			all = append(all, sess)
		}
	}
	s.mu.Unlock()
	var sessions []*Session
	var records []who.Session
	for _, sess := range all {
		r, ok := sess.record()
		if !ok || !m.Has(r.User) || service != "" && r.Service != service {
			continue
		}
		sessions = append(sessions, sess)
		records = append(records, r)
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
	for _, sess := range sessions {
		sess.kicked.Store(true)
		sess.mu.Lock()
		pipe := sess.pipe
		sess.mu.Unlock()
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
func (s *Session) watchLogin() {
	w := s.srv.opts.Watcher
	if w == nil {
		return
	}
	r, ok := s.record()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watched != 0 || s.closed {
		return // over already
	}
	s.watched = watchedIn
	w.LoggedIn(r)
}

// watchLogout tells the Watcher that a logged-in session it heard of
// ended.
func (s *Session) watchLogout(fromClient, fromStore int64) {
	w := s.srv.opts.Watcher
	if w == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.watched == watchedIn
	s.watched = watchedOut
	if !in {
		return
	}
	w.LoggedOut(who.Session{ID: s.ID, User: s.user, Service: s.serviceName(), Client: s.ClientAddr.String(),
		Store: s.storeAddr, Since: s.since, FromClient: fromClient, FromStore: fromStore})
}
