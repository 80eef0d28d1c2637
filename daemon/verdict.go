package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/tlsconf"
)

// This file is the one verdict on a configuration (docs/decisions.md):
// AService -check, AService at start and on every refresh, and the
// Netscape front ends all load through loadInstance or loadFrontEnd. What
// would stop the daemon or break a service is an error for all of them;
// what the daemon runs with is at most a warning.

// loadInstance reads and judges an instance directory. create applies
// the template rule to missing files (the daemon); the check command
// reads the templates in place instead.
func loadInstance(dir string, create bool) (*config.Instance, config.Problems) {
	inst, problems := config.Load(dir, config.Options{CreateMissing: create})
	return inst, judge(inst, problems)
}

// loadFrontEnd reads and judges the configuration of a Netscape front end.
func loadFrontEnd(fe config.FrontEnd) (*config.Instance, config.Problems) {
	inst, problems := config.LoadFrontEnd(fe)
	return inst, judge(inst, problems)
}

// judge adds to what package config found what only the daemon's other
// parts can tell: TLS that tlsconf cannot set up (the SSL ports would
// refuse every connection and STARTTLS would not be offered, or no store
// could be reached over SSLBacksidePort), and a BeTheUser or BeTheGroup
// the system does not know (AService started as root would stop).
func judge(inst *config.Instance, problems config.Problems) config.Problems {
	if _, _, bad, err := runAs(inst.Daemon); err != nil {
		o := inst.Daemon.Origin(bad)
		p := config.Problem{File: o.File, Line: o.Line, Param: bad.Name, Severity: config.Fatal,
			Msg: fmt.Sprintf("%v; AService started as root would stop", err)}
		if os.Geteuid() != 0 {
			// Only root switches users: run as anyone else, the daemon
			// ignores the setting.
			p.Severity = config.Warning
			p.Msg = fmt.Sprintf("%v; ignored unless AService is started as root, which would then stop", err)
		}
		// First: AService.cfg is the first file a check reports on.
		problems = append(config.Problems{p}, problems...)
	}
	for _, svc := range inst.Services {
		if sslReported(problems, svc) {
			continue // a missing certificate file is said once, by config
		}
		// Accepted but not used as written (Netscape cipher names).
		if _, warnings, err := tlsconf.CipherSuites(config.Get(svc.Values, param.SSLCipherSpecs)); err == nil {
			for _, w := range warnings {
				file, line := originOf(svc, param.SSLCipherSpecs.Param)
				problems = append(problems, config.Problem{File: file, Line: line, Param: param.SSLCipherSpecs.Name,
					Msg: w, Severity: config.Warning})
			}
		}
		if _, err := tlsconf.LoadService(svc); err != nil {
			p := tlsParam(svc.Values)
			file, line := originOf(svc, p)
			problems = append(problems, config.Problem{File: file, Line: line, Param: p.Name,
				Msg: fmt.Sprintf("TLS cannot be set up: %v", err), Severity: config.Fatal})
		}
	}
	// Sections of one file make several services with the same TLS
	// settings: one problem is said once.
	return problems.Sorted()
}

// tlsFiles are the parameters naming files that tlsconf reads.
var tlsFiles = []*param.Param{param.SSLCertPEM.Param, param.SSLKeyPEM.Param, param.SSLKeyPasswdFile.Param,
	param.SSLClientCAPEM.Param, param.SSLBacksideCAPEM.Param}

// sslReported reports whether config already found an error in one of
// the files tlsconf would read for svc.
func sslReported(problems config.Problems, svc *config.Service) bool {
	return slices.ContainsFunc(problems, func(p config.Problem) bool {
		if p.Severity < config.Fatal {
			return false
		}
		for _, tp := range tlsFiles {
			if file, _ := originOf(svc, tp); p.Param == tp.Name && p.File == file {
				return true
			}
		}
		return false
	})
}

// tlsParam is the parameter a TLS failure is reported at: SSLEnable when
// it is on, else SSLBacksidePort when set, else SSLCertPEM.
func tlsParam(v *config.Values) *param.Param {
	switch {
	case config.Get(v, param.SSLEnable):
		return param.SSLEnable.Param
	case config.Get(v, param.SSLBacksidePort) > 0:
		return param.SSLBacksidePort.Param
	}
	return param.SSLCertPEM.Param
}

// originOf is the file and line a service's parameter was set at: the
// service's file and no line when it was not set in a file.
func originOf(svc *config.Service, p *param.Param) (string, int) {
	if o := svc.Values.Origin(p); o.Kind == param.FromFile {
		return o.File, o.Line
	}
	return filepath.Base(svc.File), 0
}
