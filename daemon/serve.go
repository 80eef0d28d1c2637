package daemon

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
)

// ShutdownGrace is how long SIGTERM or SIGINT lets running sessions go on
// before they are closed (stop-msg, spec §4.8).
const ShutdownGrace = 30 * time.Second

// Compile-time check that the directory is a Router (style guide,
// example 10).
var _ proxy.Router = (*directory.Directory)(nil)

// serve runs the services of an instance until SIGTERM or SIGINT, then
// drains them for ShutdownGrace. prog is "AService" for the Sun 6.x
// daemon, else a Netscape front end (ImapProxy, PopProxy, SmtpProxy).
func serve(stdio IO, prog string, inst *config.Instance) int {
	// Signals first: a SIGTERM that arrives once the ports are open must
	// reach the shutdown below, not kill the process.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	logs, err := openLogs(prog, inst)
	if err != nil {
		fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
		return ExitRuntime
	}
	defer logs.close()
	daemonLog := logs.main

	dir := directory.New(directory.Options{Logger: daemonLog.Slog().With(logging.Category("LDAP"))})
	defer dir.Close()

	// The POP-before-SMTP memory is the process's: every POP service
	// records into it, and an SMTP proxy in the same process reads it
	// directly (spec §4.3.3).
	authCache := newAuthCache(inst)

	type running struct {
		name string
		srv  *proxy.Server
	}
	var servers []running
	closeAll := func() {
		for _, r := range servers {
			r.srv.Close()
		}
	}
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for _, svc := range inst.Services {
		name := svc.Protocol.ServiceName()
		protocol := protocolFor(svc, inst, dir, authCache)
		if protocol == nil {
			msg := fmt.Sprintf("%s (%s): not yet supported; skipped", name, svc.Name)
			fmt.Fprintf(stdio.Err, "%s: %s\n", prog, msg)
			daemonLog.Slog().Warn(msg)
			continue
		}
		srv := proxy.NewServer(proxy.Options{
			Service:  svc,
			Protocol: protocol,
			Router:   dir,
			Log:      logs.forService(svc),
		})
		lns, err := srv.Listen()
		if err != nil {
			fmt.Fprintf(stdio.Err, "%s: %s: %v\n", prog, name, err)
			logging.Critical(daemonLog.Slog(), fmt.Sprintf("%s(%s): %v", name, svc.File, err))
			srv.Close()
			closeAll()
			return ExitRuntime
		}
		servers = append(servers, running{name, srv})
		for _, ln := range lns {
			daemonLog.Slog().Info(fmt.Sprintf("%s(%s): listening on %s", name, svc.File, ln.Addr()))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := srv.Serve(ln); err != nil && !errors.Is(err, proxy.ErrServerClosed) {
					errs <- fmt.Errorf("%s on %s: %w", name, ln.Addr(), err)
				}
			}()
		}
	}
	if len(servers) == 0 {
		fmt.Fprintf(stdio.Err, "%s: no service that can run is configured\n", prog)
		return ExitRuntime
	}

	code := ExitOK
	select {
	case <-ctx.Done():
		logging.Notice(daemonLog.Slog(), fmt.Sprintf("%s: stopping; sessions have %v to finish", prog, ShutdownGrace))
	case err := <-errs:
		fmt.Fprintf(stdio.Err, "%s: %v\n", prog, err)
		logging.Critical(daemonLog.Slog(), err.Error())
		code = ExitRuntime
	}
	stop() // a second signal now kills the process, as users expect

	grace, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	var drain sync.WaitGroup
	for _, r := range servers {
		drain.Add(1)
		go func() {
			defer drain.Done()
			if err := r.srv.Shutdown(grace); err != nil {
				daemonLog.Slog().Warn(fmt.Sprintf("%s: sessions still open after %v were closed", r.name, ShutdownGrace))
			}
		}()
	}
	drain.Wait()
	wg.Wait()
	for _, r := range servers {
		logging.Notice(daemonLog.Slog(), fmt.Sprintf("%s: exiting", r.name))
	}
	return code
}

// protocolFor returns the front end of a service, or nil for a protocol
// the MMP does not know.
func protocolFor(svc *config.Service, inst *config.Instance, dir *directory.Directory, authCache *authsvc.Cache) proxy.Protocol {
	switch svc.Protocol {
	case param.IMAP:
		return imapproxy.New(imapproxy.Options{})
	case param.POP:
		// Dir: a relative SpoofMessageFile is relative to the instance
		// directory, as every other file name is.
		return popproxy.New(popproxy.Options{AuthCache: authCache, Dir: inst.Dir})
	case param.SMTP:
		return smtpProtocol(svc, dir, authCache)
	}
	return nil
}

// newAuthCache returns the AuthService cache of an instance that has a
// POP service, nil otherwise. AuthServiceTTL is a service parameter (not
// vdmap), and the cache has one lifetime: with several POP services the
// longest wins. A service whose own TTL is zero or less records nothing
// (popproxy checks it per session, with AuthService).
func newAuthCache(inst *config.Instance) *authsvc.Cache {
	var ttl time.Duration
	pop := false
	for _, svc := range inst.Services {
		if svc.Protocol == param.POP {
			pop = true
			ttl = max(ttl, config.Get(svc.Values, param.AuthServiceTTL))
		}
	}
	if !pop {
		return nil
	}
	return authsvc.New(authsvc.Options{TTL: ttl})
}

// logSet holds the log files of a process: the Netscape front ends write
// everything to MMP_yyyymmdd.log; AService writes its own lines to
// AService_yyyymmdd.log and each service's to ImapProxy_..., PopProxy_...
// (spec §3.10, §7.29).
type logSet struct {
	main     *logging.Logger
	byProc   map[string]*logging.Logger
	netscape bool
}

func openLogs(prog string, inst *config.Instance) (*logSet, error) {
	ls := &logSet{byProc: map[string]*logging.Logger{}, netscape: prog != "AService"}
	open := func(proc string, v *config.Values) (*logging.Logger, error) {
		if lg := ls.byProc[proc]; lg != nil {
			return lg, nil
		}
		dir := config.Get(v, param.LogDir)
		if dir != "" && !filepath.IsAbs(dir) {
			dir = filepath.Join(inst.Dir, dir)
		}
		lg, err := logging.Open(logging.Options{Dir: dir, Level: config.Get(v, param.LogLevel), Proc: proc})
		if err != nil {
			return nil, fmt.Errorf("log files: %w", err)
		}
		ls.byProc[proc] = lg
		return lg, nil
	}
	var err error
	if ls.netscape {
		v := inst.Daemon
		if len(inst.Services) > 0 {
			v = inst.Services[0].Values
		}
		ls.main, err = open("MMP", v)
		return ls, err
	}
	if ls.main, err = open("AService", inst.Daemon); err != nil {
		return ls, err
	}
	for _, svc := range inst.Services {
		if _, err := open(svc.Protocol.ServiceName(), svc.Values); err != nil {
			ls.close()
			return ls, err
		}
	}
	return ls, nil
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
