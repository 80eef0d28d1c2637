package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
)

// ShutdownGrace is how long SIGTERM or SIGINT lets running sessions go on
// before they are closed (stop-msg, docs/reference.md §4.8).
const ShutdownGrace = 30 * time.Second

// Compile-time check that the directory is the login pipeline's
// account.Directory (style guide, example 10).
var _ account.Directory = (*directory.Directory)(nil)

// serve runs the services of an instance until SIGTERM or SIGINT, then
// drains them for ShutdownGrace. prog is "AService" for the Sun 6.x
// daemon, else a Netscape front end (ImapProxy, PopProxy, SmtpProxy).
// SIGHUP re-reads the configuration (refresh, docs/reference.md §4.8).
func serve(stdio IO, prog string, inst *config.Instance, opts serveOptions) int {
	// Signals first: a SIGTERM that arrives once the ports are open must
	// reach the shutdown below, not kill the process; a SIGHUP must
	// refresh, not end it.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	logs, err := openLogs(prog, inst, opts.stderr)
	if err != nil {
		fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
		return ExitRuntime
	}
	defer logs.close()
	daemonLog := logs.main

	dir := directory.New(directory.Options{Logger: daemonLog.Slog().With(logging.Category("LDAP")), StartTLS: startTLS(inst),
		Observe: metrics.DirectoryLookup})
	defer dir.Close()

	// The POP-before-SMTP memory is the process's: every POP service
	// records into it, and an SMTP proxy in the same process reads it
	// directly (docs/reference.md §4.3.3).
	// The fleet's Redis (docs/reference.md §4.9), read at start like
	// NumThreads. An unreachable Redis is no reason not to start: the
	// client starts down and finds Redis when it answers.
	fl, err := fleet.Open(fleetConfig(inst, daemonLog))
	if err != nil {
		fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
		return ExitRuntime
	}
	defer fl.Close()
	sup := &supervisor{prog: prog, inst: inst, logs: logs, dir: dir, authCache: newAuthCache(inst, fl), errs: make(chan error, 16),
		workers: proxy.NewWorkers(config.Get(inst.Daemon, param.NumThreads)), fleet: fl,
		who: newWhoState(inst.Dir)}
	logCaps(daemonLog, sup.limits())
	closeAll := func() {
		for _, r := range sup.services {
			r.srv.Close()
		}
	}
	for _, svc := range inst.Services {
		r, err := sup.start(svc)
		if errors.Is(err, errUnsupported) {
			fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
			continue
		}
		if err != nil {
			fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
			logging.Critical(daemonLog.Slog(), fmt.Sprintf("%s(%s): %v", svc.Protocol.ServiceName(), svc.File, err))
			closeAll()
			return ExitRuntime
		}
		sup.services = append(sup.services, r)
	}
	if len(sup.services) == 0 {
		fmt.Fprintf(stdio.Err, "%s: no service that can run is configured\n", prog)
		return ExitRuntime
	}
	mon, err := listenMonitor(inst, dir)
	if err != nil {
		fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
		logging.Critical(daemonLog.Slog(), err.Error())
		closeAll()
		return ExitRuntime
	}
	defer mon.close()
	var own []string
	defer sup.who.close() // before the fleet's client closes (deferred earlier)
	if opts.adminSocket != "" {
		if err := sup.who.listen(opts.adminSocket); err != nil {
			fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
			logging.Critical(daemonLog.Slog(), err.Error())
			closeAll()
			return ExitRuntime
		}
		// BeTheUser removes it at the end, and owns it.
		own = append(own, filepath.Dir(opts.adminSocket), opts.adminSocket)
	}
	// Every port is open: give up root before the first session.
	for _, f := range []string{opts.pidfile, opts.statusFile} {
		if f != "" {
			os.MkdirAll(filepath.Dir(f), 0o755) // a failure shows when writing
			own = append(own, filepath.Dir(f))
		}
	}
	// A refresh re-opens the logs as BeTheUser.
	own = append(own, logs.paths(inst)...)
	if warning, err := dropPrivileges(inst.Daemon, own...); err != nil {
		fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
		logging.Critical(daemonLog.Slog(), err.Error())
		closeAll()
		return ExitRuntime
	} else if warning != "" {
		daemonLog.Slog().Warn(warning)
	}
	// Before the first session: the Watcher reads who.fleet unlocked.
	sup.who.joinFleet(sup.fleet, daemonLog)
	sup.serveAll()
	sup.who.publish(sup)
	sup.who.serve(daemonLog)
	if mon != nil {
		mon.publish(sup)
		mon.serve()
	}
	// What the configuration points at, checked once in the background:
	// a relay that refuses the introduction is found at start, not by
	// the first client.
	go sup.logProbe(ctx)
	if err := writePidfile(opts.pidfile); err != nil {
		fmt.Fprintf(stdio.Err, "%s: pid file: %v\n", prog, err)
		logging.Critical(daemonLog.Slog(), fmt.Sprintf("pid file: %v", err))
		closeAll()
		sup.serving.Wait()
		return ExitRuntime
	}
	if opts.pidfile != "" {
		defer os.Remove(opts.pidfile)
	}
	if opts.statusFile != "" {
		defer os.Remove(opts.statusFile)
	}

	code := ExitOK
loop:
	for {
		select {
		case <-ctx.Done():
			logging.Notice(daemonLog.Slog(), fmt.Sprintf("%s: stopping; sessions have %v to finish", prog, ShutdownGrace))
			break loop
		case err := <-sup.errs:
			fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
			logging.Critical(daemonLog.Slog(), err.Error())
			code = ExitRuntime
			break loop
		case <-hup:
			refresh(sup, opts)
			mon.publish(sup)
			sup.who.publish(sup)
		}
	}
	mon.stop()
	stop() // a second signal now kills the process, as users expect

	grace, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	var drain sync.WaitGroup
	for _, r := range sup.services {
		drain.Add(1)
		go func() {
			defer drain.Done()
			if err := r.srv.Shutdown(grace); err != nil {
				daemonLog.Slog().Warn(fmt.Sprintf("%s: sessions still open after %v were closed", r.name, ShutdownGrace))
			}
		}()
	}
	drain.Wait()
	sup.draining.Wait()
	sup.serving.Wait()
	for _, r := range sup.services {
		logging.Notice(daemonLog.Slog(), fmt.Sprintf("%s: exiting", r.name))
	}
	return code
}

// refresh handles one SIGHUP: it reads the configuration again, applies
// it unless it has errors, and logs and records the outcome.
func refresh(sup *supervisor, opts serveOptions) {
	log := sup.logs.main.Slog()
	if opts.reload == nil {
		log.Warn("SIGHUP: this program cannot refresh its configuration")
		return
	}
	logging.Notice(log, "SIGHUP: reading the configuration again")
	o := sup.refresh(opts.reload())
	// The outcome and what changed are logged as errors, the level the
	// default LogLevel 1 keeps: a change of configuration is what an admin
	// looks for in the log first. A refused configuration's warnings stay
	// warnings; its errors are the reasons.
	switch {
	case o.summary == "":
		log.Error("refresh failed: the configuration has errors; the previous configuration is kept")
	case len(o.failures) == 0:
		log.Error("refreshed: " + o.summary)
	default:
		log.Error("refreshed with errors: " + o.summary)
	}
	for _, l := range slices.Concat(o.changes, o.failures) {
		log.Error("refresh: " + l)
	}
	if o.summary == "" { // when applied, supervisor.refresh logged them as errors
		for _, w := range o.warnings {
			log.Warn("refresh: " + w)
		}
	}
	if err := writeStatus(opts.statusFile, statusText(o)); err != nil {
		log.Warn(fmt.Sprintf("refresh status file: %v", err))
	}
}

// newServer builds the proxy.Server of one service.
func (s *supervisor) newServer(svc *config.Service, protocol proxy.Protocol) *proxy.Server {
	opts := proxy.Options{
		Service:  svc,
		Protocol: protocol,
		Workers:  s.workers,
		Limits:   s.limits(),
		Log:      s.logs.forService(svc),
		TLS:      serviceTLS(svc, s.logs.main, s.ticketKeys(svc)),
		Fleet:    s.fleet,
	}
	if s.who != nil {
		opts.Watcher = s.who
	}
	if s.dir != nil { // a nil *Directory in the interface would not be a nil interface
		opts.Directory = s.dir
	}
	return proxy.NewServer(opts)
}

// limits are the connection caps of the process: one proxy.Limits shared
// by its services, from the MaxConnections and MaxPreLoginConnections of
// AService.cfg (or the command line) as they were at start.
func (s *supervisor) limits() *proxy.Limits {
	if s.caps == nil {
		s.caps = proxy.NewLimits(config.Get(s.inst.Daemon, param.MaxConnections),
			config.Get(s.inst.Daemon, param.MaxPreLoginConnections))
	}
	return s.caps
}

// logCaps says what the caps are, and warns when they exceed what the
// descriptor limit can hold.
func logCaps(lg *logging.Logger, l *proxy.Limits) {
	conns, pre := l.Caps()
	nofile := proxy.DescriptorLimit()
	logging.Notice(lg.Slog(), fmt.Sprintf("connection caps: %d connections (MaxConnections), %d of them not logged in (MaxPreLoginConnections); descriptor limit %d", conns, pre, nofile))
	if 2*conns+proxy.DescriptorReserve(nofile) > nofile {
		lg.Slog().Error(fmt.Sprintf("MaxConnections %d needs up to %d descriptors and the limit (ulimit -n) is %d: accept may fail with \"too many open files\"; raise the limit or set MaxConnections 0",
			conns, 2*conns+proxy.DescriptorReserve(nofile), nofile))
	}
}

// protocolFor returns the front end of a service, or nil for a protocol
// the MMP does not know.
func protocolFor(svc *config.Service, inst *config.Instance, authCache *authsvc.Cache) proxy.Protocol {
	switch svc.Protocol {
	case param.IMAP:
		return imapproxy.New(imapproxy.Options{})
	case param.POP:
		// Dir: a relative SpoofMessageFile is relative to the instance
		// directory, as every other file name is.
		return popproxy.New(popproxy.Options{AuthCache: authCache, Dir: inst.Dir})
	case param.SMTP:
		return smtpProtocol(svc, authCache)
	}
	return nil
}

// newAuthCache returns the AuthService cache of an instance that has a
// POP service, nil otherwise. AuthServiceTTL is a service parameter (not
// vdmap), and the cache has one lifetime: with several POP services the
// longest wins. A service whose own TTL is zero or less records nothing
// (popproxy checks it per session, with AuthService). With a fleet an
// SMTP proxy without a POP service beside it gets a cache too: it
// answers from Redis, where the fleet's POP proxies record.
func newAuthCache(inst *config.Instance, fl *fleet.Client) *authsvc.Cache {
	opt, pop := authCacheOptions(inst, fl)
	if !pop && !fl.Enabled() {
		return nil
	}
	return authsvc.New(opt)
}

// authCacheOptions are the AuthService cache's options for an instance
// (the longest AuthServiceTTL of its POP services), and whether it has a
// POP service. A refresh applies them to the cache it keeps.
func authCacheOptions(inst *config.Instance, fl *fleet.Client) (opt authsvc.Options, pop bool) {
	opt.Fleet = fl
	for _, svc := range inst.Services {
		if svc.Protocol == param.POP {
			pop = true
			opt.TTL = max(opt.TTL, config.Get(svc.Values, param.AuthServiceTTL))
		}
	}
	return opt, pop
}

// fleetConfig reads the fleet parameters, with the daemon's log for the
// outage lines and the metrics' hooks.
func fleetConfig(inst *config.Instance, lg *logging.Logger) fleet.Config {
	cfg := fleet.ConfigFrom(inst.Daemon, lg.Slog())
	cfg.OnError = metrics.FleetError
	cfg.OnState = metrics.FleetUp
	return cfg
}

// logSet holds the log files of a process: the Netscape front ends write
// everything to MMP_yyyymmdd.log; AService writes its own lines to
// AService_yyyymmdd.log and each service's to ImapProxy_..., PopProxy_...
// (docs/reference.md §3.10, §7.29).
type logSet struct {
	main     *logging.Logger
	byProc   map[string]*logging.Logger
	netscape bool
	stderr   *syncWriter // --log-stderr, or nil
}

func openLogs(prog string, inst *config.Instance, stderr *syncWriter) (*logSet, error) {
	ls := &logSet{byProc: map[string]*logging.Logger{}, netscape: prog != "AService", stderr: stderr}
	for proc, v := range ls.valuesFor(inst) {
		lg, err := logging.Open(ls.options(proc, inst, v))
		if err != nil {
			ls.close()
			return ls, fmt.Errorf("log files: %w", err)
		}
		ls.byProc[proc] = lg
	}
	ls.main = ls.byProc["AService"]
	if ls.netscape {
		ls.main = ls.byProc["MMP"]
	}
	return ls, nil
}

// options are the logging options of one log file; a relative LogDir is
// relative to the instance directory.
func (ls *logSet) options(proc string, inst *config.Instance, v *config.Values) logging.Options {
	dir := config.Get(v, param.LogDir)
	if dir != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join(inst.Dir, dir)
	}
	o := logging.Options{Dir: dir, Level: config.Get(v, param.LogLevel), Proc: proc}
	if ls.stderr != nil {
		o.Stderr = ls.stderr
	}
	return o
}

// forService is the log of a service's sessions.
func (ls *logSet) forService(svc *config.Service) *logging.Logger {
	if ls.netscape {
		return ls.main
	}
	if lg := ls.byProc[svc.Protocol.ServiceName()]; lg != nil {
		return lg
	}
	return ls.main
}

func (ls *logSet) close() {
	for _, lg := range ls.byProc {
		lg.Close()
	}
}

// startTLS says whether the process's directory connections start TLS:
// LdapStartTLS in AService.cfg or in any service's file, since one
// directory serves them all.
func startTLS(inst *config.Instance) bool {
	on := config.Get(inst.Daemon, param.LdapStartTLS)
	for _, svc := range inst.Services {
		on = on || config.Get(svc.Values, param.LdapStartTLS)
	}
	return on
}
