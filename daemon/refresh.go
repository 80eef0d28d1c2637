package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/smtpproxy"
	"github.com/openmmp/mmp/tlsconf"
)

// serveOptions are what a program adds to serve besides the loaded
// instance.
type serveOptions struct {
	// reload reads the configuration again on SIGHUP, with the same
	// loader and inputs as at start (the directory for AService; the
	// --config file, environment and command line for the front ends).
	// Nil makes SIGHUP log that refresh is not available.
	reload func() (*config.Instance, config.Problems)

	// pidfile, if set, receives the process id once every listener is
	// open: start-msg waits for it as the signal that the MMP is ready.
	pidfile string

	// statusFile, if set, receives the outcome of each refresh ("ok: …"
	// or "failed: …" followed by the problems), which refresh(8) waits
	// for and prints.
	statusFile string

	// stderr, if not nil, receives every log line too (--log-stderr).
	stderr *syncWriter

	// adminSocket, if set, is where AService answers imsconnutil
	// (who.SocketPath).
	adminSocket string
}

// errUnsupported marks a service the MMP cannot run yet: it is skipped,
// the others run.
var errUnsupported = errors.New("not yet supported; skipped")

// service is one running ServiceList entry.
type service struct {
	key  string
	name string
	srv  *proxy.Server
	smtp *smtpproxy.Protocol  // the SMTP proxy's protocol, for refresh; nil for the others
	lns  map[string]*listener // by listening address
}

// listener remembers that refresh closed it on purpose, so that its
// Serve returning is not taken for a failure of the daemon.
type listener struct {
	net.Listener
	removed atomic.Bool
}

// supervisor owns the services of a process and changes them on refresh.
type supervisor struct {
	prog      string
	inst      *config.Instance
	logs      *logSet
	dir       *directory.Directory
	authCache *authsvc.Cache
	workers   *proxy.Workers // NumThreads, for every service; set at start
	caps      *proxy.Limits  // MaxConnections, MaxPreLoginConnections; set at start (limits)
	fleet     *fleet.Client  // FleetRedis; set at start, nil without
	who       *whoState      // who is connected: every service's Watcher

	// tickets are the TLS session ticket keys of each service (by
	// serviceKey), kept across refreshes so that clients resume.
	ticketsMu sync.Mutex
	tickets   map[string]*tlsconf.TicketKeys

	services []*service
	errs     chan error
	serving  sync.WaitGroup // Serve goroutines
	draining sync.WaitGroup // services removed by refresh, shutting down
	// started is false until serveAll: listeners opened before the
	// privilege switch are not served yet.
	started bool
}

// serviceKey identifies a service across refreshes: the same entry of
// ServiceList (module, instance name and section) is the same service.
func serviceKey(svc *config.Service) string {
	return svc.Protocol.ServiceName() + "|" + svc.Name + "|" + svc.Section
}

// listenAddr is the address net.Listen takes for a ServiceList item; a
// port alone listens on every address, as proxy.Server.Listen does.
func listenAddr(a cfgfmt.ListenAddr) string {
	if !a.IP.IsValid() {
		return ":" + a.String()
	}
	return a.String()
}

// start creates the server of svc and opens its listeners. It returns
// nil, nil for a protocol the MMP does not run (logged as skipped).
func (s *supervisor) start(svc *config.Service) (*service, error) {
	name := svc.Protocol.ServiceName()
	protocol := protocolFor(svc, s.inst, s.authCache)
	if protocol == nil {
		err := fmt.Errorf("%s (%s): %w", name, svc.Name, errUnsupported)
		s.logs.main.Slog().Warn(err.Error())
		return nil, err
	}
	srv := s.newServer(svc, protocol)
	r := &service{key: serviceKey(svc), name: name, srv: srv, lns: map[string]*listener{}}
	r.smtp, _ = protocol.(*smtpproxy.Protocol)
	if len(svc.Listen) == 0 {
		srv.Close()
		return nil, fmt.Errorf("%s: the service has no address to listen on", name)
	}
	for _, a := range svc.Listen {
		if err := s.listen(r, svc, a); err != nil {
			for _, ln := range r.lns {
				ln.Close()
			}
			srv.Close()
			return nil, err
		}
	}
	return r, nil
}

func (s *supervisor) listen(r *service, svc *config.Service, a cfgfmt.ListenAddr) error {
	addr := listenAddr(a)
	ln, err := proxy.ListenTCP(addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", r.name, addr, err)
	}
	l := &listener{Listener: ln}
	r.lns[addr] = l
	s.logs.main.Slog().Info(fmt.Sprintf("%s(%s): listening on %s", r.name, svc.File, ln.Addr()))
	if s.started {
		s.serve(r, l)
	}
	return nil
}

// serve runs Serve on one listener in its own goroutine.
func (s *supervisor) serve(r *service, l *listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		err := r.srv.Serve(l)
		if err == nil || errors.Is(err, proxy.ErrServerClosed) || l.removed.Load() {
			return
		}
		s.errs <- fmt.Errorf("%s on %s: %w", r.name, l.Addr(), err)
	}()
}

// serveAll starts serving every listener opened so far.
func (s *supervisor) serveAll() {
	s.started = true
	for _, r := range s.services {
		for _, l := range r.lns {
			s.serve(r, l)
		}
	}
}

// outcome is what one refresh did, for the log and the status file.
type outcome struct {
	summary  string   // counts of services and listeners; "" when refused
	changes  []string // what changed (changes), when applied
	failures []string // why it was refused, or what failed while applying
	warnings []string // the warnings of the configuration read
}

// refresh applies a configuration read again on SIGHUP (docs/reference.md §4.8). A
// configuration with errors changes nothing, and neither does one that
// would weaken a running service without saying so (judgeRefresh).
// Otherwise each service that stays gets the new values for its next
// sessions (proxy.Server.Update keeps BadGuys and connection counts);
// listeners and services are opened or closed as ServiceList now says;
// sessions already running keep going with the values they started with,
// even on a listener or service that was removed. The warnings of an
// applied configuration are logged as errors so that the default LogLevel
// 1 keeps them (a misspelt parameter is ignored, and the admin who just
// edited the file wants to know).
func (s *supervisor) refresh(inst *config.Instance, problems config.Problems) outcome {
	log := s.logs.main.Slog()
	if !problems.Fatal() {
		problems = append(problems, judgeRefresh(s.inst, inst)...).Sorted()
	}
	var o outcome
	if problems.Fatal() {
		for _, p := range problems {
			if p.Severity >= config.Fatal {
				o.failures = append(o.failures, p.String())
			} else {
				o.warnings = append(o.warnings, p.String())
			}
		}
		return o
	}
	for _, p := range problems {
		o.warnings = append(o.warnings, p.String())
		log.Error("refresh: " + p.String())
	}
	o.changes = changes(s.inst, inst)
	if len(o.changes) == 0 {
		// The edit went to a file the instance does not read, or was
		// not saved: worth saying.
		o.changes = []string{"no parameter or listener changed"}
	}
	var failures []string
	if err := s.logs.reopen(inst); err != nil {
		failures = append(failures, err.Error())
	}
	s.inst = inst
	// A POP service added by this refresh needs the AuthService cache;
	// one that exists keeps its memory and takes the new AuthServiceTTL.
	if s.authCache == nil {
		s.authCache = newAuthCache(inst, s.fleet)
	} else if opt, pop := authCacheOptions(inst, s.fleet); pop {
		s.authCache.Reconfigure(opt)
	}
	old := map[string]*service{}
	for _, r := range s.services {
		old[r.key] = r
	}
	var kept []*service
	var updated, added, removed, opened, closed int
	for _, svc := range inst.Services {
		r := old[serviceKey(svc)]
		if r == nil {
			nr, err := s.start(svc)
			if err != nil {
				failures = append(failures, err.Error())
				continue
			}
			for _, l := range nr.lns {
				s.serve(nr, l)
			}
			kept = append(kept, nr)
			added++
			continue
		}
		delete(old, r.key)
		r.srv.Update(svc)
		if r.smtp != nil {
			r.smtp.SetPopBeforeSMTP(popBeforeSMTP(svc, s.authCache))
		}
		// Certificates and keys are files too: a renewed certificate is
		// used from the next session on. The session ticket key rotates;
		// the previous one still resumes the sessions it issued.
		keys := s.ticketKeys(svc)
		keys.Rotate()
		r.srv.SetTLS(serviceTLS(svc, s.logs.main, keys))
		updated++
		want := map[string]bool{}
		for _, a := range svc.Listen {
			addr := listenAddr(a)
			want[addr] = true
			if r.lns[addr] != nil {
				continue
			}
			if err := s.listen(r, svc, a); err != nil {
				failures = append(failures, err.Error())
				continue
			}
			opened++
		}
		for addr, l := range r.lns {
			if !want[addr] {
				l.removed.Store(true)
				l.Close()
				delete(r.lns, addr)
				log.Info(fmt.Sprintf("%s: stopped listening on %s; its sessions go on", r.name, addr))
				closed++
			}
		}
		kept = append(kept, r)
	}
	for _, r := range old {
		removed++
		logging.Notice(log, fmt.Sprintf("%s: removed from ServiceList; stopping once its sessions end (at most %v)", r.name, ShutdownGrace))
		s.draining.Add(1)
		s.who.retire(r) // its sessions stay listed, and kickable, until they end
		go func() {
			defer s.draining.Done()
			defer s.who.forget(r)
			ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
			defer cancel()
			r.srv.Shutdown(ctx)
		}()
	}
	s.services = kept
	o.failures = failures
	o.summary = fmt.Sprintf("%d service(s): %d updated, %d added, %d removed; listeners: %d opened, %d closed",
		len(kept), updated, added, removed, opened, closed)
	return o
}

// writeStatus replaces the refresh status file in one rename, so that a
// reader never sees half of it.
func writeStatus(file, text string) error {
	if file == "" {
		return nil
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// writePidfile writes the pid the same way: start-msg takes the file's
// appearance as "every port is open".
func writePidfile(file string) error {
	if file == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return writeStatus(file, fmt.Sprintf("%d\n", os.Getpid()))
}

// statusText renders a refresh outcome for the status file: the first
// line is "ok: refreshed: SUMMARY" or "failed: WHY", then one line each
// for what changed, the failures and the warnings of the new
// configuration.
func statusText(o outcome) string {
	var b strings.Builder
	switch {
	case len(o.failures) == 0:
		b.WriteString("ok: refreshed: " + o.summary + "\n")
	case o.summary == "":
		b.WriteString("failed: the configuration has errors; the previous configuration is kept\n")
	default:
		b.WriteString("failed: refreshed with errors: " + o.summary + "\n")
	}
	for _, l := range slices.Concat(o.changes, o.failures, o.warnings) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// reopen points every log at the new LogDir and LogLevel, and opens the
// logs of services that refresh added.
func (ls *logSet) reopen(inst *config.Instance) error {
	var errs []error
	for proc, v := range ls.valuesFor(inst) {
		if lg := ls.byProc[proc]; lg != nil {
			if err := lg.Reopen(ls.options(proc, inst, v)); err != nil {
				errs = append(errs, fmt.Errorf("log files of %s: %w", proc, err))
			}
			continue
		}
		lg, err := logging.Open(ls.options(proc, inst, v))
		if err != nil {
			errs = append(errs, fmt.Errorf("log files of %s: %w", proc, err))
			continue
		}
		ls.byProc[proc] = lg
	}
	return errors.Join(errs...)
}

// paths returns the existing log directories of an instance and the log
// files in them: what BeTheUser must own to re-open them on refresh.
func (ls *logSet) paths(inst *config.Instance) []string {
	var out []string
	seen := map[string]bool{}
	for proc, v := range ls.valuesFor(inst) {
		dir := ls.options(proc, inst, v).Dir
		if fi, err := os.Stat(dir); dir == "" || seen[dir] || err != nil || !fi.IsDir() {
			continue
		}
		seen[dir] = true
		out = append(out, dir)
		files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		out = append(out, files...)
	}
	return out
}

// valuesFor maps each log of an instance to the values that set its
// LogDir and LogLevel.
func (ls *logSet) valuesFor(inst *config.Instance) map[string]*config.Values {
	m := map[string]*config.Values{}
	if ls.netscape {
		v := inst.Daemon
		if len(inst.Services) > 0 {
			v = inst.Services[0].Values
		}
		m["MMP"] = v
		return m
	}
	m["AService"] = inst.Daemon
	for _, svc := range inst.Services {
		p := svc.Protocol.ServiceName()
		if _, ok := m[p]; !ok {
			m[p] = svc.Values
		}
	}
	return m
}

// syncWriter serialises writes to standard error from several loggers.
type syncWriter struct {
	mu sync.Mutex
	w  interface{ Write([]byte) (int, error) }
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
