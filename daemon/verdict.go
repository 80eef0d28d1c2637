package daemon

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/tlsconf"
)

// This file is the one verdict on a configuration (docs/decisions.md):
// AService -check, AService at start and on every refresh, and the
// Netscape front ends all load through loadInstance or loadFrontEnd. What
// would stop the daemon or break a service is an error for all of them;
// what the daemon runs with is at most a warning.

// loadInstance reads and judges an instance directory, each file once
// it has stopped changing. create applies the template rule to missing
// files (the daemon); the check command reads the templates in place
// instead.
func loadInstance(dir string, create bool) (*config.Instance, config.Problems) {
	inst, problems := config.Load(dir, config.Options{CreateMissing: create, WaitSettled: true})
	return inst, judge(inst, problems)
}

// loadFrontEnd reads and judges the configuration of a Netscape front end.
func loadFrontEnd(fe config.FrontEnd) (*config.Instance, config.Problems) {
	fe.WaitSettled = true
	inst, problems := config.LoadFrontEnd(fe)
	return inst, judge(inst, problems)
}

// judge adds to what package config found what only the daemon's other
// parts can tell: a configuration file with no setting (config reports
// it; the daemon will not run on built-in defaults in its place), TLS
// that tlsconf cannot set up (the SSL ports would refuse every connection
// and STARTTLS would not be offered, or no store could be reached over
// SSLBacksidePort), and a BeTheUser or BeTheGroup the system does not
// know (AService started as root would stop).
func judge(inst *config.Instance, problems config.Problems) config.Problems {
	for _, file := range inst.Empty {
		problems = append(problems, config.Problem{File: file, Severity: config.Fatal, Msg: errNoSetting})
	}
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
		if ids, err := tlsconf.KeyExchangeGroups(config.Get(svc.Values, param.SSLKeyExchangeGroups)); err == nil {
			if w := tlsconf.KeyExchangeWarning(ids); w != "" {
				file, line := originOf(svc, param.SSLKeyExchangeGroups.Param)
				problems = append(problems, config.Problem{File: file, Line: line, Param: param.SSLKeyExchangeGroups.Name,
					Msg: strings.TrimPrefix(w, "SSLKeyExchangeGroups: "), Severity: config.Warning})
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

// errNoSetting is said of a configuration file with no setting line
// (config.Instance.Empty): a file caught half-written, truncated or
// emptied by mistake. Run with it, the MMP would fall back to built-in
// defaults for all it set, its SSL ports, STARTTLS and
// RestrictPlainPasswords included.
const errNoSetting = "the file has no setting (it is empty or only comments: truncated, or caught while being written?); " +
	"the MMP will not run on built-in defaults in its place"

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

// judgeRefresh is the verdict on a configuration that a refresh read,
// against the one running: what a file caught half-written or emptied
// would do without an error of its own (docs/reference.md §4.8). A
// refresh never silently weakens what clients meet:
//   - a file the running configuration took parameters from and that now
//     sets none of them is refused (a truncated file, another file);
//   - a listening address that served TLS from the first byte and would
//     now greet in clear text is refused, unless the new configuration
//     says so: SSLEnable no, or SSLPorts written without it;
//   - a guard (see guards) that a file set and that is now unset, so that
//     its weaker default would apply, is refused; writing the weaker
//     value is the way to change it.
//
// Only services that the refresh keeps are compared; the configuration
// must already be free of errors (judge).
func judgeRefresh(running, next *config.Instance) config.Problems {
	ps := lostFiles(running, next)
	old := map[string]*config.Service{}
	for _, svc := range running.Services {
		old[serviceKey(svc)] = svc
	}
	for _, svc := range next.Services {
		o := old[serviceKey(svc)]
		if o == nil {
			continue
		}
		ps = append(ps, lostTLS(o, svc)...)
		ps = append(ps, lostGuards(o, svc)...)
	}
	return ps.Sorted()
}

// guards are the parameters whose default is weaker than what a file may
// set: STARTTLS (and the SSL ports), plain passwords in clear text, TLS
// to the stores, and who may connect.
var guards = []*param.Param{param.SSLEnable.Param, param.RestrictPlainPasswords.Param,
	param.SSLBacksidePort.Param, param.TCPAccess.Param}

// fileParams maps each file an instance took values from to the
// parameters it set.
func fileParams(inst *config.Instance) map[string]map[*param.Param]bool {
	m := map[string]map[*param.Param]bool{}
	add := func(v *config.Values) {
		for _, p := range param.All() {
			if o := v.Origin(p); o.Kind == param.FromFile {
				if m[o.File] == nil {
					m[o.File] = map[*param.Param]bool{}
				}
				m[o.File][p] = true
			}
		}
	}
	add(inst.Daemon)
	for _, svc := range inst.Services {
		add(svc.Values)
	}
	return m
}

// lostFiles reports each file that the running configuration took
// parameters from, that the new one still reads, and that now sets none
// of them.
func lostFiles(running, next *config.Instance) config.Problems {
	read := map[string]bool{}
	if next.Daemon.Context()&param.N4 == 0 {
		read[param.AService.FileName()] = true
	}
	for _, svc := range next.Services {
		read[svc.File] = true
	}
	now := fileParams(next)
	var ps config.Problems
	before := fileParams(running)
	for _, file := range slices.Sorted(maps.Keys(before)) {
		set := before[file]
		if !read[file] {
			continue
		}
		var names []string
		kept := false
		for _, p := range param.All() {
			if set[p] {
				names = append(names, p.Name)
				kept = kept || now[file][p]
			}
		}
		if !kept {
			ps = append(ps, config.Problem{File: file, Severity: config.Fatal, Msg: fmt.Sprintf(
				"sets none of the %d parameter(s) the running configuration took from it (%s): truncated, or caught while being written?",
				len(names), strings.Join(names, ", "))})
		}
	}
	return ps
}

// sslEntries are the SSLPorts items that make a listening address start
// with TLS under v: none when SSLEnable is off.
func sslEntries(v *config.Values, la cfgfmt.ListenAddr) []cfgfmt.ListenAddr {
	if !config.Get(v, param.SSLEnable) {
		return nil
	}
	var out []cfgfmt.ListenAddr
	for _, e := range config.Get(v, param.SSLPorts) {
		if e.Port == la.Port && (!e.IP.IsValid() || !la.IP.IsValid() || e.IP == la.IP) {
			out = append(out, e)
		}
	}
	return out
}

// tlsLost reports whether an address that started with TLS under old
// would, for some of its local addresses, no longer do so under next.
func tlsLost(old, next *config.Values, la cfgfmt.ListenAddr) bool {
	now := sslEntries(next, la)
	for _, e := range sslEntries(old, la) {
		if !slices.ContainsFunc(now, func(n cfgfmt.ListenAddr) bool {
			return n.Port == e.Port && (!n.IP.IsValid() || n.IP == e.IP)
		}) {
			return true
		}
	}
	return false
}

// tlsOffExplicitly reports whether values say in words that TLS is off
// for some ports: SSLEnable no, or SSLEnable and SSLPorts both given.
func tlsOffExplicitly(v *config.Values) bool {
	return v.IsSet(param.SSLEnable.Param) && (!config.Get(v, param.SSLEnable) || v.IsSet(param.SSLPorts.Param))
}

// lostTLS reports each listening address kept by the refresh that served
// TLS from the first byte and would greet in clear text, without the new
// configuration saying so.
func lostTLS(old, next *config.Service) config.Problems {
	if tlsOffExplicitly(next.Values) {
		return nil
	}
	var ps config.Problems
	for _, la := range next.Listen {
		if !slices.Contains(old.Listen, la) || !tlsLost(old.Values, next.Values, la) {
			continue
		}
		ps = append(ps, config.Problem{File: next.File, Param: param.SSLPorts.Name, Severity: config.Fatal, Msg: fmt.Sprintf(
			"%s served TLS from the first byte and would now greet in clear text: SSLEnable and SSLPorts no longer say TLS for it "+
				"(the file lost its SSL settings?); to serve clear text there, write SSLEnable no, or SSLPorts without it",
			listenAddr(la))})
	}
	return ps
}

// lostGuards reports each guard a file set that is now unset, when its
// default differs from the running value.
func lostGuards(old, next *config.Service) config.Problems {
	var ps config.Problems
	for _, p := range guards {
		o := old.Values.Origin(p)
		if p.Where&next.Protocol == 0 || o.Kind != param.FromFile || next.Values.IsSet(p) ||
			sameValue(p, old.Values.Raw(p), next.Values.Raw(p)) {
			continue
		}
		def := next.Values.Raw(p)
		ps = append(ps, config.Problem{File: next.File, Param: p.Name, Severity: config.Fatal, Msg: fmt.Sprintf(
			"was %s (%s) and is no longer set, so its default %s would apply; "+
				"a refresh does not weaken a service for a missing line: to change it, write default:%s %s",
			config.Quote(old.Values.Raw(p)), o, config.Quote(def), p.Name, config.Quote(def))})
	}
	return ps
}

// sameValue reports whether two raw values of p mean the same.
func sameValue(p *param.Param, a, b string) bool {
	if a == b {
		return true
	}
	va, errA := p.Check(a)
	vb, errB := p.Check(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}
