package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// Instance is a loaded configuration: the daemon's values and one Service
// per ServiceList entry.
type Instance struct {
	Dir      string // configuration directory; relative paths are relative to it
	Daemon   *Values
	Services []*Service

	// Empty names the configuration files read that hold no setting at
	// all (empty, or only comments): a file truncated or caught while
	// being written looks like that. The daemon's verdict refuses them;
	// Load itself only reports them, for tools that build instances.
	Empty []string
}

// Service is one ServiceList entry with its resolved configuration.
type Service struct {
	Dir      string      // the instance directory: relative file names are relative to it
	Name     string      // instance name, e.g. "ImapProxyAService"
	Protocol param.Where // param.IMAP, param.POP or param.SMTP
	Section  string      // cfg section it reads besides "default"
	File     string      // its *.cfg file
	Listen   []cfgfmt.ListenAddr
	Values   *Values
	Domains  []*Domain // vdmap entries, in file order

	// ConnLimits and BGExcluded resolved from inline values or their files.
	ConnLimits []cfgfmt.ConnLimit
	BGExcluded []netip.Prefix
}

// Domain is a vdmap block: settings for connections that arrive on one
// server address (docs/reference.md §3.5).
type Domain struct {
	Name   string
	Addr   netip.Addr
	Values *Values // the service's values overlaid with the block's properties
	File   string
	Line   int
}

// Path resolves a file name given in the configuration: relative names are
// relative to the instance directory, as everywhere in the MMP's files.
func (s *Service) Path(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(s.Dir, name)
}

// ForLocal returns the values for a connection that arrived on the server
// address local: the vdmap block of that address, or the service's own.
func (s *Service) ForLocal(local netip.Addr) *Values {
	local = local.Unmap()
	for _, d := range s.Domains {
		if d.Addr == local {
			return d.Values
		}
	}
	return s.Values
}

// Options change how Load treats a directory.
type Options struct {
	// CreateMissing copies X-def.cfg to X.cfg for every missing
	// configuration file, writing X-def.cfg from the table first if it is
	// missing too (docs/reference.md §3.1 template rule). The daemon sets it; the check
	// command does not, and reads the templates in place instead.
	CreateMissing bool

	// WaitSettled reads each file only once it has stopped changing
	// (settledReader): a refresh may come while an editor or a tool
	// rewrites a file in place. The daemon and the check set it; a file
	// written just before costs one pause of 100 ms. Other loaders
	// (mmp-setup, test fixtures) read each file at once.
	WaitSettled bool
}

// Load reads and validates the instance in dir. It always returns an
// Instance (possibly partial) together with every problem found; the
// caller decides by severity whether to use it.
func Load(dir string, opt Options) (*Instance, Problems) {
	r := &report{}
	inst := &Instance{Dir: dir, Daemon: newValues(param.AService)}
	l := &loader{dir: dir, opt: opt, r: r, checkedSections: map[string]bool{}, settle: opt.WaitSettled}

	aFile := l.read(param.AService.FileName(), "AService")
	if aFile != nil {
		l.apply(inst.Daemon, aFile, param.AService, "default")
	}
	entries := Get(inst.Daemon, param.ServiceList)
	if len(entries) == 0 { // an empty value; the default has two entries
		r.add(Fatal, param.AService.FileName(), lineOf(inst.Daemon, param.ServiceList.Param), "ServiceList", "names no service: AService would have nothing to run")
	}
	sectionsOf := map[string][]string{} // file -> sections its instances read
	for _, e := range entries {
		sectionsOf[e.Instance] = append(sectionsOf[e.Instance], e.Section)
	}
	seenAddr := map[string]string{}
	for _, e := range entries {
		proto := protocolOf(e)
		svc := &Service{Dir: dir, Name: e.Instance, Protocol: proto, Section: e.Section, Listen: e.Addrs,
			File: e.Instance + ".cfg"}
		for _, a := range e.Addrs {
			k := a.String()
			if other, dup := seenAddr[k]; dup {
				r.add(Fatal, param.AService.FileName(), lineOf(inst.Daemon, param.ServiceList.Param), "ServiceList",
					"%s is listed for both %s and %s", k, other, e.Instance)
			}
			seenAddr[k] = e.Instance
		}
		svc.Values = newValues(proto)
		// Parameters valid both daemon-wide and per service (LogDir,
		// LogLevel) are inherited when the service file does not set them.
		for _, p := range param.In(param.AService) {
			if p.Where&proto != 0 && inst.Daemon.IsSet(p) {
				svc.Values.vals[p.Index()] = inst.Daemon.vals[p.Index()]
			}
		}
		if f := l.read(svc.File, e.Standard()); f != nil {
			l.apply(svc.Values, f, proto, e.Section)
			if !l.checkedSections[f.Name] {
				l.checkedSections[f.Name] = true
				l.unusedSections(f, sectionsOf[e.Instance])
			}
		}
		l.service(inst, svc)
		inst.Services = append(inst.Services, svc)
	}
	inst.Empty = l.empty
	return inst, r.sorted()
}

// protocolOf maps a ServiceList module to its protocol.
func protocolOf(e cfgfmt.ServiceEntry) param.Where {
	switch e.Protocol() {
	case "imap":
		return param.IMAP
	case "pop":
		return param.POP
	case "smtp":
		return param.SMTP
	}
	return 0
}

type loader struct {
	dir             string
	opt             Options
	r               *report
	checkedSections map[string]bool // files whose sections were checked
	empty           []string        // Instance.Empty
	settle          bool            // Options.WaitSettled
}

// path resolves a file name relative to the configuration directory.
func (l *loader) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(l.dir, name)
}

// read loads name, applying the template rule when it is missing. module
// is the Sun 6 module name (ImapProxyAService, ...) whose template serves
// when the instance has a name of its own.
func (l *loader) read(name, module string) *cfgfmt.File {
	data, err := l.readFile(l.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		data, err = l.fromTemplate(name, module)
	}
	if err != nil {
		l.r.add(Fatal, name, 0, "", "%v", unwrapPathError(err))
		return nil
	}
	f, errs := cfgfmt.Parse(name, data, "")
	for _, e := range errs {
		l.r.addErr(Fatal, name, e)
	}
	if len(errs) == 0 && len(f.Settings()) == 0 && !slices.Contains(l.empty, name) {
		l.empty = append(l.empty, name)
	}
	return f
}

// fromTemplate implements the template rule for a missing file X.cfg:
// X-def.cfg is copied to X.cfg; without X-def.cfg, the module's template
// is used, and without that, the template generated from the table.
func (l *loader) fromTemplate(name, module string) ([]byte, error) {
	base := strings.TrimSuffix(name, ".cfg")
	var data []byte
	var err error
	for _, t := range []string{base + "-def.cfg", module + "-def.cfg"} {
		if data, err = os.ReadFile(l.path(t)); err == nil {
			break
		}
	}
	if err != nil {
		ctx := contextOfModule(module)
		if ctx == 0 {
			return nil, fmt.Errorf("file not found, and no %s-def.cfg to create it from", base)
		}
		data = Template(ctx)
		if l.opt.CreateMissing {
			if err := os.WriteFile(l.path(base+"-def.cfg"), data, 0o640); err != nil {
				return nil, err
			}
		}
	}
	if l.opt.CreateMissing {
		if err := os.WriteFile(l.path(name), data, 0o640); err != nil {
			return nil, err
		}
	} else {
		l.r.add(Warning, name, 0, "", "file not found; it will be created from its template when the MMP starts")
	}
	return data, nil
}

func contextOfModule(module string) param.Where {
	switch strings.ToLower(module) {
	case "aservice":
		return param.AService
	case "imapproxyaservice":
		return param.IMAP
	case "popproxyaservice":
		return param.POP
	case "smtpproxyaservice":
		return param.SMTP
	}
	return 0
}

// apply sets the values of one cfg file: the "default:" lines first, then
// the lines of the instance's own section (docs/reference.md §3.1; an openmmp decision); within
// a section the last line wins.
func (l *loader) apply(v *Values, f *cfgfmt.File, ctx param.Where, section string) {
	sections := []string{"default"}
	if !strings.EqualFold(section, "default") {
		sections = append(sections, section)
	}
	for _, sec := range sections {
		seen := map[*param.Param]int{}
		for _, ln := range f.Settings() {
			if strings.EqualFold(ln.Prefix, sec) {
				l.setting(v, f.Name, ln, ctx, seen)
			}
		}
	}
}

// setting applies one "prefix:Name value" line of a cfg file.
func (l *loader) setting(v *Values, file string, ln *cfgfmt.Line, ctx param.Where, seen map[*param.Param]int) {
	l.settingWith(file, ln.Num, ln.Name, ln.Value, ctx, seen, func(s param.Setting) {
		v.set(s) // already checked
		l.valueWarnings(v, s.Param, file, ln.Num, ctx)
	})
}

// settingWith checks one name and raw value found in a file for the
// context ctx, reports what is wrong with it, and hands a good one to apply.
func (l *loader) settingWith(file string, line int, name, raw string, ctx param.Where, seen map[*param.Param]int, apply func(param.Setting)) {
	p := param.Lookup(name)
	if p == nil {
		msg := "unknown parameter; ignored"
		if s := param.Suggest(name); s != "" {
			msg = fmt.Sprintf("unknown parameter (did you mean %s?); ignored", s)
		}
		l.r.add(Warning, file, line, name, "%s", msg)
		return
	}
	netscapeOnly := ctx&param.N4 != 0 && p.Where&param.N4 != 0 && p.Where&param.Proxies == 0
	if p.Where&ctx == 0 && p.Inert&ctx != 0 {
		if !isDefault(p, raw, ctx) {
			l.r.add(Warning, file, line, p.Name, "has no effect in %s (only %s uses it); ignored", filepath.Base(file), placesOf(p))
		}
		return
	}
	if p.Where&ctx == 0 && !netscapeOnly {
		l.r.add(Warning, file, line, p.Name, "does not apply to %s (it belongs in %s); ignored", filepath.Base(file), placesOf(p))
		return
	}
	if !strings.EqualFold(name, p.Name) && !strings.EqualFold(name, p.EnvName()) {
		l.r.add(Warning, file, line, name, "old name of %s", p.Name)
	}
	if p.Deprecated != "" {
		l.r.add(Warning, file, line, p.Name, "deprecated: %s", p.Deprecated)
	}
	if prev, ok := seen[p]; ok {
		l.r.add(Warning, file, line, p.Name, "also set on line %d; this line wins", prev)
	}
	seen[p] = line
	if _, err := p.Check(raw); err != nil {
		l.r.add(Fatal, file, line, p.Name, "%v", err)
		return
	}
	apply(param.Setting{Param: p, Raw: raw, Origin: param.Origin{Kind: param.FromFile, File: file, Line: line}})
}

// isDefault reports whether raw parses to the parameter's default in ctx.
func isDefault(p *param.Param, raw string, ctx param.Where) bool {
	v, err := p.Check(raw)
	d, derr := p.Check(p.DefaultFor(ctx))
	return err == nil && derr == nil && reflect.DeepEqual(v, d)
}

// valueWarnings reports what parses but deserves attention.
func (l *loader) valueWarnings(v *Values, p *param.Param, file string, line int, ctx param.Where) {
	if f, ok := v.vals[p.Index()].parsed.(param.Filter); ok {
		for _, w := range f.Warnings {
			l.r.add(Warning, file, line, p.Name, "%s", w)
		}
	}
	if lo, ok := p.MinAdvised[ctx&^param.VDMap]; ok {
		if d := Get(v, param.Timeout); p == param.Timeout.Param && int64(d.Seconds()) < lo {
			l.r.add(Warning, file, line, p.Name, "%d seconds is below the %d the protocol standard asks for", int64(d.Seconds()), lo)
		}
	}
}

// placesOf names the files a parameter belongs in, for messages.
func placesOf(p *param.Param) string {
	var files []string
	for _, w := range []param.Where{param.AService, param.IMAP, param.POP, param.SMTP} {
		if p.Where&w != 0 {
			files = append(files, w.FileName())
		}
	}
	if p.Where&param.VDMap != 0 {
		files = append(files, "the vdmap file")
	}
	if p.Where&param.N4 != 0 {
		files = append(files, "the Netscape ImapMMP.config/PopMMP.config")
	}
	return strings.Join(files, ", ")
}

// unusedSections flags sections no ServiceList entry reads.
func (l *loader) unusedSections(f *cfgfmt.File, sections []string) {
	warned := map[string]bool{}
	for _, ln := range f.Settings() {
		pre := strings.ToLower(ln.Prefix)
		if pre == "default" || warned[pre] || slices.ContainsFunc(sections, func(s string) bool { return strings.EqualFold(s, pre) }) {
			continue
		}
		warned[pre] = true
		l.r.add(Warning, f.Name, ln.Num, "", "section %q is not read by any ServiceList entry", ln.Prefix)
	}
}

// lineOf returns the line a value came from, 0 if not from a file.
func lineOf(v *Values, p *param.Param) int { return v.Origin(p).Line }

// service resolves what a service's values refer to: vdmap, limit and
// exclusion files, spoof message, certmap; and checks combinations.
func (l *loader) service(inst *Instance, svc *Service) {
	v := svc.Values
	where := func(p *param.Param) (string, int) {
		o := v.Origin(p)
		if o.Kind == param.FromFile {
			return o.File, o.Line
		}
		return svc.File, 0
	}

	cl := Get(v, param.ConnLimits)
	svc.ConnLimits = cl.Limits
	if cl.File != "" {
		file, line := where(param.ConnLimits.Param)
		svc.ConnLimits = l.readLines(file, line, "ConnLimits", cl.File, func(data []byte) (any, []error) {
			return cfgfmt.ParseConnLimitLines(bytes.NewReader(data))
		}).([]cfgfmt.ConnLimit)
	}
	bg := Get(v, param.BGExcluded)
	svc.BGExcluded = bg.Nets
	if bg.File != "" {
		file, line := where(param.BGExcluded.Param)
		svc.BGExcluded = l.readLines(file, line, "BGExcluded", bg.File, func(data []byte) (any, []error) {
			return cfgfmt.ParseAddrListLines(bytes.NewReader(data))
		}).([]netip.Prefix)
	}

	for _, p := range []*param.Param{param.SpoofMessageFile.Param, param.SSLKeyPasswdFile.Param, param.SSLClientCAPEM.Param, param.SSLBacksideCAPEM.Param} {
		if name := v.Raw(p); name != "" && p.Where&svc.Protocol != 0 {
			file, line := where(p)
			l.mustExist(file, line, p.Name, name)
		}
	}
	for _, p := range []*param.Param{param.SSLCertPEM.Param, param.SSLKeyPEM.Param} {
		for _, name := range strings.Fields(v.Raw(p)) {
			file, line := where(p)
			l.mustExist(file, line, p.Name, name)
		}
	}
	if name := v.Raw(param.CertmapFile.Param); name != "" {
		// The Netscape default names certmap.conf whether or not it
		// exists; only a file someone asked for must exist.
		if _, err := os.Stat(l.path(name)); err == nil || v.IsSet(param.CertmapFile.Param) {
			file, line := where(param.CertmapFile.Param)
			l.certmap(file, line, name)
		}
	}
	if name := v.Raw(param.VirtualDomainFile.Param); name != "" {
		file, line := where(param.VirtualDomainFile.Param)
		svc.Domains = l.vdmap(file, line, name, svc)
	}

	if svc.Protocol == param.SMTP {
		if len(Get(v, param.SmtpRelays)) == 0 {
			l.r.add(Fatal, svc.File, 0, "SmtpRelays", "the SMTP proxy needs at least one relay")
		}
		if Get(v, param.SmtpRelayAnnounce) == "xpehlo" && v.Raw(param.SmtpProxyPassword.Param) == "" {
			l.r.add(Fatal, svc.File, 0, "SmtpProxyPassword", "XPEHLO needs the relay's PROXY_PASSWORD (or set SmtpRelayAnnounce)")
		}
	}
	if svc.Protocol == param.POP {
		l.authServiceOff(svc)
	}
	for _, a := range Get(v, param.SSLPorts) {
		if !listed(append(inst.listenOf(svc.Protocol), svc.Listen...), a) {
			file, line := where(param.SSLPorts.Param)
			l.r.add(Warning, file, line, "SSLPorts", "%s is not in ServiceList for %s, so it is never opened", a, svc.Name)
		}
	}
}

// authServiceOff warns where AuthService is switched on (for the service
// or a vdmap block) while AuthServiceTTL, a service parameter, is zero or
// less: the POP proxy then records no login and POP-before-SMTP is off
// without a word. Its default, -1, does that (Administration Reference:
// "If AuthService is set to yes and AuthServiceTTL is non-zero ...").
func (l *loader) authServiceOff(svc *Service) {
	ttl := Get(svc.Values, param.AuthServiceTTL)
	if ttl > 0 {
		return
	}
	why := fmt.Sprintf("AuthServiceTTL is %d (the default)", int64(ttl.Seconds()))
	if o := svc.Values.Origin(param.AuthServiceTTL.Param); o.Kind == param.FromFile {
		why = fmt.Sprintf("AuthServiceTTL is %d (%s)", int64(ttl.Seconds()), o)
	}
	warn := func(o param.Origin) {
		l.r.add(Warning, o.File, o.Line, "AuthService", "POP-before-SMTP is off: %s, so no POP login is recorded; set AuthServiceTTL above 0 in %s", why, filepath.Base(svc.File))
	}
	if Get(svc.Values, param.AuthService) {
		warn(svc.Values.Origin(param.AuthService.Param))
	}
	for _, d := range svc.Domains {
		if o := d.Values.Origin(param.AuthService.Param); o.File == d.File && Get(d.Values, param.AuthService) {
			warn(o)
		}
	}
}

// listenOf gathers the listening addresses of every ServiceList entry of
// a protocol.
func (inst *Instance) listenOf(proto param.Where) []cfgfmt.ListenAddr {
	var all []cfgfmt.ListenAddr
	for _, e := range Get(inst.Daemon, param.ServiceList) {
		if protocolOf(e) == proto {
			all = append(all, e.Addrs...)
		}
	}
	return all
}

// listed reports whether a listening address appears in a service's list.
func listed(list []cfgfmt.ListenAddr, a cfgfmt.ListenAddr) bool {
	for _, b := range list {
		if b.Port == a.Port && (!a.IP.IsValid() || b.IP == a.IP || !b.IP.IsValid()) {
			return true
		}
	}
	return false
}

// mustExist reports a missing file named by a parameter.
func (l *loader) mustExist(file string, line int, name, path string) bool {
	if _, err := os.Stat(l.path(path)); err != nil {
		l.r.add(Fatal, file, line, name, "%s: %v", path, unwrapPathError(err))
		return false
	}
	return true
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readLines reads a file named by a parameter (ConnLimits, BGExcluded) and
// parses it, reporting the file's own line numbers.
func (l *loader) readLines(file string, line int, name, path string, parse func([]byte) (any, []error)) any {
	data, err := l.readFile(l.path(path))
	if err != nil {
		l.r.add(Fatal, file, line, name, "%s: %v", path, unwrapPathError(err))
		data = nil
	}
	v, errs := parse(data)
	for _, e := range errs {
		var ce *cfgfmt.Error
		if errors.As(e, &ce) {
			l.r.add(Fatal, path, ce.Line, name, "%v", ce.Err)
		} else {
			l.r.add(Fatal, path, 0, name, "%v", e)
		}
	}
	return v
}
