package daemon

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/who"
)

// whoState is who is connected to this process (imsconnutil): it hears
// of every login and logout of its services (proxy.Watcher), keeps the
// last access of each user, and answers the admin socket of AService
// from its services' registries.
type whoState struct {
	mmp  string // this MMP as imsconnutil names it: host/instance[pid]
	last *who.LastAccess
	ln   *net.UnixListener // the admin socket; nil for a front end

	fleet *fleet.Sessions // this MMP's sessions in the fleet's Redis; nil without a fleet

	mu       sync.Mutex
	services []*service        // published by the main loop, as for the monitor
	retired  map[*service]bool // removed by a refresh, their sessions still running
}

// mmpName names this process for imsconnutil: the host, the instance
// directory's name and the pid.
func mmpName(dir string) string {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if dir == "" {
		return fmt.Sprintf("%s[%d]", host, os.Getpid())
	}
	return fmt.Sprintf("%s/%s[%d]", host, filepath.Base(dir), os.Getpid())
}

func newWhoState(dir string) *whoState {
	return &whoState{mmp: mmpName(dir), last: who.NewLastAccess(0)}
}

// LoggedIn is proxy.Watcher's.
func (w *whoState) LoggedIn(s who.Session) {
	w.last.Login(s.User, s.Service, s.Since)
	w.fleet.LoggedIn(s)
}

// LoggedOut is proxy.Watcher's.
func (w *whoState) LoggedOut(s who.Session) {
	w.last.Logout(s.User, s.Service, time.Now())
	w.fleet.LoggedOut(s)
}

// joinFleet registers this MMP's sessions in the fleet's Redis and
// makes it hear kicks there (nothing without a fleet).
func (w *whoState) joinFleet(fl *fleet.Client, log *logging.Logger) {
	w.fleet = fl.StartSessions(w.mmp,
		func() []who.Session { return w.handle(who.Request{Op: who.OpList}).Sessions },
		func(users []string) { w.kick(users, log, "a kick through the fleet") })
}

// kick ends users' sessions on this MMP and logs each.
func (w *whoState) kick(users []string, log *logging.Logger, how string) who.Reply {
	rep := w.handle(who.Request{Op: who.OpKick, Users: users})
	for _, s := range rep.Sessions {
		logging.Notice(log.Slog(), fmt.Sprintf("imsconnutil -k (%s): ending the %s session (id %d) of user '%s' from %s", how, s.Service, s.ID, s.User, s.Client))
	}
	return rep
}

// listen opens the admin socket at path (before the privilege switch,
// with the service ports; the run directory is then given to BeTheUser).
func (w *whoState) listen(path string) error {
	ln, err := who.Listen(path)
	if err != nil {
		return err
	}
	w.ln = ln
	return nil
}

// retire keeps a service that a refresh removed in the answers while its
// sessions drain; forget drops it once they have ended.
func (w *whoState) retire(r *service) {
	if w == nil {
		return
	}
	w.mu.Lock()
	if w.retired == nil {
		w.retired = map[*service]bool{}
	}
	w.retired[r] = true
	w.mu.Unlock()
}

func (w *whoState) forget(r *service) {
	if w == nil {
		return
	}
	w.mu.Lock()
	delete(w.retired, r)
	w.mu.Unlock()
}

// publish installs the services the socket answers for.
func (w *whoState) publish(sup *supervisor) {
	w.mu.Lock()
	w.services = append([]*service(nil), sup.services...)
	w.mu.Unlock()
}

// serve answers the admin socket until close.
func (w *whoState) serve(log *logging.Logger) {
	if w.ln == nil {
		return
	}
	go who.Serve(w.ln, func(req who.Request) who.Reply {
		if req.Op == who.OpKick {
			return w.kick(req.Users, log, "admin socket")
		}
		return w.handle(req)
	})
}

// handle runs one request of imsconnutil.
func (w *whoState) handle(req who.Request) who.Reply {
	rep := who.Reply{MMP: w.mmp}
	m := who.Match(req.Users)
	w.mu.Lock()
	services := w.services
	for r := range w.retired {
		services = append(services[:len(services):len(services)], r)
	}
	w.mu.Unlock()
	switch req.Op {
	case who.OpList:
		for _, r := range services {
			rep.Sessions = append(rep.Sessions, r.srv.LoggedIn(m, req.Service)...)
		}
	case who.OpKick:
		if m == nil {
			rep.Error = "kick: name the users"
			return rep
		}
		for _, r := range services {
			rep.Sessions = append(rep.Sessions, r.srv.Kick(m)...)
		}
	case who.OpLast:
		rep.Access = w.last.Get(m)
	default:
		rep.Error = fmt.Sprintf("unknown request %q", req.Op)
	}
	for i := range rep.Sessions {
		rep.Sessions[i].MMP = w.mmp
	}
	return rep
}

// close removes the admin socket and this MMP's sessions in the fleet.
func (w *whoState) close() {
	if w.ln != nil {
		w.ln.Close()
	}
	w.fleet.Close()
}
