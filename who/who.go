// Package who is who is connected to the MMPs, what Sun's imsconnutil
// showed for a Messaging Server ("Sun Java System Messaging Server
// Administration Reference", imsconnutil): the record of a logged-in
// session, the last logins and logouts of users, and the admin socket
// through which an AService answers imsconnutil on its own machine.
//
// It is a leaf: the proxy fills its records, the daemon serves them, the
// fleet stores them in Redis and imsconnutil prints them.
package who

import (
	"container/list"
	"slices"
	"strings"
	"sync"
	"time"
)

// Session is one logged-in session (imsconnutil -c).
type Session struct {
	MMP        string    `json:"mmp,omitempty"` // which MMP: host/instance[pid]
	ID         uint64    `json:"id"`            // the "(id N)" of the MMP's log lines
	User       string    `json:"user"`          // the canonical login (user@domain with a domain)
	Service    string    `json:"service"`       // imap, pop or smtp
	Client     string    `json:"client"`        // the client's address:port
	Store      string    `json:"store"`         // the store's (or relay's) host:port
	Since      time.Time `json:"since"`         // when the login succeeded
	FromClient int64     `json:"from_client"`   // octets client → store so far
	FromStore  int64     `json:"from_store"`    // octets store → client so far
}

// Access is a user's last login and logout on one service (imsconnutil
// -a); a zero time is "not seen".
type Access struct {
	User    string    `json:"user"`
	Service string    `json:"service"`
	Login   time.Time `json:"login"`
	Logout  time.Time `json:"logout"`
}

// Services are the services imsconnutil -s names.
var Services = []string{"imap", "pop", "smtp"}

// Matcher selects users: the names given, in any letter case (a login is
// case-insensitive at the directory), or everybody for none.
type Matcher map[string]bool

// Match builds the Matcher of a list of names.
func Match(users []string) Matcher {
	if len(users) == 0 {
		return nil
	}
	m := Matcher{}
	for _, u := range users {
		if u = strings.TrimSpace(u); u != "" {
			m[strings.ToLower(u)] = true
		}
	}
	return m
}

// Has says whether user is selected.
func (m Matcher) Has(user string) bool { return m == nil || m[strings.ToLower(user)] }

// LastAccessSize is how many users a process remembers the last access
// of; beyond it the user seen least recently is forgotten. About 200
// octets each: 3 MiB at most. A fleet keeps them in Redis instead.
const LastAccessSize = 1 << 14

// LastAccess remembers the last login and logout of each user per
// service, bounded: the users seen least recently go first. Its methods
// are safe for concurrent use; the zero value is not, use NewLastAccess.
type LastAccess struct {
	mu    sync.Mutex
	size  int
	users map[string]*list.Element // of *lastUser, by lower-case name
	order list.List                // most recently seen first
}

type lastUser struct {
	key      string
	user     string            // as last seen
	services map[string]Access // by service
}

// NewLastAccess returns a table of at most size users (LastAccessSize if
// size <= 0).
func NewLastAccess(size int) *LastAccess {
	if size <= 0 {
		size = LastAccessSize
	}
	return &LastAccess{size: size, users: map[string]*list.Element{}}
}

// Login records a login of user on service at t.
func (t *LastAccess) Login(user, service string, at time.Time) {
	t.record(user, service, func(a *Access) { a.Login = at })
}

// Logout records the end of a session of user on service at t.
func (t *LastAccess) Logout(user, service string, at time.Time) {
	t.record(user, service, func(a *Access) { a.Logout = at })
}

func (t *LastAccess) record(user, service string, set func(*Access)) {
	key := strings.ToLower(user)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.users[key]
	if e == nil {
		if t.order.Len() >= t.size {
			old := t.order.Back()
			t.order.Remove(old)
			delete(t.users, old.Value.(*lastUser).key)
		}
		e = t.order.PushFront(&lastUser{key: key, services: map[string]Access{}})
		t.users[key] = e
	} else {
		t.order.MoveToFront(e)
	}
	u := e.Value.(*lastUser)
	u.user = user
	a := u.services[service]
	a.User, a.Service = user, service
	set(&a)
	u.services[service] = a
}

// Get returns the records of the users m selects, by user then service.
func (t *LastAccess) Get(m Matcher) []Access {
	t.mu.Lock()
	var out []Access
	if m != nil && len(m) < t.order.Len() {
		for key := range m {
			if e := t.users[key]; e != nil {
				for _, a := range e.Value.(*lastUser).services {
					out = append(out, a)
				}
			}
		}
	} else {
		for e := t.order.Front(); e != nil; e = e.Next() {
			if u := e.Value.(*lastUser); m.Has(u.user) {
				for _, a := range u.services {
					out = append(out, a)
				}
			}
		}
	}
	t.mu.Unlock()
	SortAccess(out)
	return out
}

// SortAccess orders records by user, then service.
func SortAccess(as []Access) {
	slices.SortFunc(as, func(a, b Access) int {
		if c := strings.Compare(strings.ToLower(a.User), strings.ToLower(b.User)); c != 0 {
			return c
		}
		return strings.Compare(a.Service, b.Service)
	})
}

// MergeAccess keeps, per user and service, the latest login and the
// latest logout of records from several MMPs.
func MergeAccess(as []Access) []Access {
	type k struct{ user, service string }
	m := map[k]Access{}
	for _, a := range as {
		key := k{strings.ToLower(a.User), a.Service}
		b, ok := m[key]
		if !ok {
			m[key] = a
			continue
		}
		if a.Login.After(b.Login) {
			b.Login = a.Login
		}
		if a.Logout.After(b.Logout) {
			b.Logout = a.Logout
		}
		m[key] = b
	}
	out := make([]Access, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	SortAccess(out)
	return out
}

// SortSessions orders sessions by user, service, MMP, then login time.
func SortSessions(ss []Session) {
	slices.SortFunc(ss, func(a, b Session) int {
		if c := strings.Compare(strings.ToLower(a.User), strings.ToLower(b.User)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		if c := strings.Compare(a.MMP, b.MMP); c != 0 {
			return c
		}
		return a.Since.Compare(b.Since)
	})
}

// Names are the names m selects, nil for everybody.
func (m Matcher) Names() []string {
	if m == nil {
		return nil
	}
	names := make([]string, 0, len(m))
	for u := range m {
		names = append(names, u)
	}
	slices.Sort(names)
	return names
}
