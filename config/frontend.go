package config

import (
	"path/filepath"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// FrontEnd is a Netscape 4.x style run of ImapProxy, PopProxy or SmtpProxy:
// one service, configured by a file, the environment and the command line,
// in increasing order of precedence (docs/reference.md §5.1).
type FrontEnd struct {
	Protocol param.Where     // param.IMAP, POP or SMTP
	File     string          // optional: an ImapMMP.config-style file or a *AService.cfg
	Env      []param.Setting // Netscape environment variables
	Flags    []param.Setting // the command line, in order

	// WaitSettled reads File once it has stopped changing (see
	// Options.WaitSettled).
	WaitSettled bool
}

// LoadFrontEnd resolves a Netscape-style configuration into an Instance
// with one Service, translating the Netscape-only parameters: LDAPHost and
// BaseDN make LdapUrl, ListenPort and SSLListenPort make the listening
// addresses and SSLPorts, UidAttr makes ReplayFormat (docs/reference.md §7.26–7.28).
// Defaults are the Netscape ones where they differ (§7.1, §7.14, §4.2.1).
func LoadFrontEnd(fe FrontEnd) (*Instance, Problems) {
	r := &report{}
	l := &loader{dir: ".", r: r, settle: fe.WaitSettled}
	ctx := fe.Protocol | param.N4
	inst := &Instance{Dir: ".", Daemon: newValues(param.AService | param.N4)}
	svc := &Service{Dir: ".", Name: fe.Protocol.ServiceName(), Protocol: fe.Protocol, Section: "default",
		File: "command line", Values: newValues(ctx)}

	apply := func(s param.Setting) {
		for _, v := range []*Values{svc.Values, inst.Daemon} {
			if v == inst.Daemon && s.Param.Where&param.AService == 0 {
				continue
			}
			if err := v.set(s); err != nil {
				r.add(Fatal, s.Origin.File, s.Origin.Line, s.Param.Name, "%v", err)
				return
			}
		}
	}
	if fe.File != "" {
		inst.Dir = filepath.Dir(fe.File)
		svc.Dir = inst.Dir
		l.dir = inst.Dir
		svc.File = fe.File
		l.frontEndFile(fe.File, ctx, apply)
	}
	for _, s := range fe.Env {
		apply(s)
	}
	for _, s := range fe.Flags {
		apply(s)
	}
	l.translateN4(svc)
	inst.Services = []*Service{svc}
	l.service(inst, svc)
	inst.Empty = l.empty
	return inst, r.sorted()
}

// frontEndFile reads the --config file: Sun cfg syntax when the name ends
// in .cfg, else Netscape shell assignments (ImapMMP.config).
func (l *loader) frontEndFile(name string, ctx param.Where, apply func(param.Setting)) {
	data, err := l.readFile(name)
	if err != nil {
		l.r.add(Fatal, name, 0, "", "%v", unwrapPathError(err))
		return
	}
	if strings.HasSuffix(name, ".cfg") {
		f, errs := cfgfmt.Parse(name, data, "")
		for _, e := range errs {
			l.r.addErr(Fatal, name, e)
		}
		if len(errs) == 0 && len(f.Settings()) == 0 {
			l.empty = append(l.empty, name)
		}
		seen := map[*param.Param]int{}
		for _, ln := range f.Settings() {
			if strings.EqualFold(ln.Prefix, "default") {
				l.settingWith(name, ln.Num, ln.Name, ln.Value, ctx, seen, apply)
			}
		}
		return
	}
	f, errs := cfgfmt.ParseEnv(name, data)
	for _, e := range errs {
		l.r.addErr(Fatal, name, e)
	}
	if len(errs) == 0 && len(f.Vars()) == 0 {
		l.empty = append(l.empty, name)
	}
	seen := map[*param.Param]int{}
	for _, ln := range f.Vars() {
		l.settingWith(name, ln.Num, ln.Var, ln.Value, ctx, seen, apply)
	}
}

// translateN4 derives the Sun 6 parameters from the Netscape ones.
func (l *loader) translateN4(svc *Service) {
	v := svc.Values
	derive := func(p *param.Param, raw, from string) {
		s := param.Setting{Param: p, Raw: raw, Origin: param.Origin{Kind: param.FromDerived, Name: from}}
		if err := v.set(s); err != nil {
			l.r.add(Fatal, "", 0, p.Name, "made from %s: %v", from, err)
		}
	}
	if !v.IsSet(param.LdapUrl.Param) {
		u, err := cfgfmt.FromN4(v.Raw(param.LDAPHost.Param), v.Raw(param.BaseDN.Param))
		if err != nil {
			l.r.add(Fatal, v.Origin(param.LDAPHost.Param).String(), 0, "LDAPHost", "%v", err)
		} else {
			derive(param.LdapUrl.Param, u.String(), "LDAPHost and BaseDN")
		}
	}
	if attr := v.Raw(param.UidAttr.Param); attr != "" && !v.IsSet(param.ReplayFormat.Param) {
		derive(param.ReplayFormat.Param, "%A["+attr+"]", "UidAttr")
	}
	svc.Listen = Get(v, param.ListenPort)
	if Get(v, param.SSLEnable) {
		ssl := Get(v, param.SSLListenPort)
		svc.Listen = append(svc.Listen, ssl...)
		if !v.IsSet(param.SSLPorts.Param) {
			derive(param.SSLPorts.Param, v.Raw(param.SSLListenPort.Param), "SSLListenPort")
		}
	}
}
