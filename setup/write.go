package setup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// This file turns accepted answers into files. Everything goes through
// cfgfmt's lossless models: a new instance's files start from the
// *-def.cfg templates of config.Template, an existing instance's files are
// parsed as they are, and in both cases only the settings the answers
// decide are edited with Set or Delete, so that comments, blank lines,
// unrelated settings and the administrator's spelling survive.

// output is one file to write.
type output struct {
	path string
	data []byte
	mode fs.FileMode // for a new file; an existing one keeps its mode
}

// change is one parameter value decided by the answers.
type change struct {
	p     *param.Param
	value string
	reset bool // back to the table's default: unset, or the default value

	// keys are the answers the value is made of. In a file that already
	// exists the change is made only when one of them differs from what
	// the instance had, so that settings the administrator did not
	// change keep their spelling, and values that differ between the
	// services' files (offered from the first one) are not levelled.
	keys []string

	// inherit marks LogDir and LogLevel: in a Sun 6 service file they
	// are set only where the file sets them already, since the file
	// otherwise inherits AService.cfg's.
	inherit bool
}

// changes lists what the answers decide for one protocol's file, in the
// order they are written to a new Netscape file. A question that was not
// asked (SSL certificates when SSL is off) decides nothing, so that the
// instance's setting stays as it is.
func (s *session) changes(pr protocol) []change {
	a := s.ans
	n4 := s.n4()
	var cs []change
	set := func(p *param.Param, v string, keys ...string) {
		cs = append(cs, change{p: p, value: v, keys: keys})
	}
	reset := func(p *param.Param, keys ...string) {
		cs = append(cs, change{p: p, reset: true, keys: keys})
	}
	// gated follows a y/n question: yes sets the value, no puts the
	// parameter back to its default, not asked leaves it alone.
	gated := func(gate string, p *param.Param, value string, keys ...string) {
		switch a.get(gate) {
		case "y":
			set(p, value, append(keys, gate)...)
		case "n":
			reset(p, gate)
		}
	}
	yes := "yes"
	if n4 {
		yes = "y" // as the Netscape installer wrote its flags
	}

	if n4 {
		// The Netscape front end switches to this user itself once its
		// ports are open, as AService does with AService.cfg's.
		set(param.BeTheUser.Param, a.get("user"), "user")
	}
	cs = append(cs, change{p: param.LogDir.Param, value: a.get("logdir"), keys: []string{"logdir"}, inherit: true},
		change{p: param.LogLevel.Param, value: a.get("loglevel"), keys: []string{"loglevel"}, inherit: true})
	if n4 {
		set(param.LDAPHost.Param, a.get("ldap.host"), "ldap.host")
		set(param.BaseDN.Param, a.get("ldap.basedn"), "ldap.basedn")
		gated("bind", param.LDAPAuth.Param, yes)
		set(param.NumThreads.Param, a.get("threads"), "threads")
		set(param.ListenPort.Param, cfgfmt.FormatPortSpec(s.listen(pr)), pr.key+".port.custom", pr.key+".port")
	} else {
		set(param.LdapUrl.Param, s.ldapURL().String(), "ldap.host", "ldap.basedn")
	}
	gated("bind", param.BindDN.Param, a.get("bind.dn"), "bind.dn")
	gated("bind", param.BindPass.Param, a.get("bind.password"), "bind.password")
	if pr.where != param.SMTP {
		port := param.BacksidePort.DefaultFor(pr.where)
		if a.get(pr.key+".storeport.custom") == "y" {
			port = a.get(pr.key + ".storeport")
		}
		set(param.BacksidePort.Param, port, pr.key+".storeport.custom", pr.key+".storeport")
	}
	gated("capability.custom", param.Capability.Param, a.get("capability"), "capability")
	gated("banner.custom", param.Banner.Param, a.get("banner"), "banner")
	gated("search.custom", param.SearchFormat.Param, a.get("search"), "search")
	if n4 {
		gated("replay.custom", param.UidAttr.Param, a.get("replay.attr"), "replay.attr")
	} else {
		// docs/reference.md §7.26: UidAttr a is ReplayFormat %A[a].
		gated("replay.custom", param.ReplayFormat.Param, "%A["+a.get("replay.attr")+"]", "replay.attr")
	}
	gated("mailhost.custom", param.MailHostAttrs.Param, a.get("mailhost"), "mailhost")
	gated("vdmap", param.VirtualDomainFile.Param, a.get("vdmap.file"), "vdmap.file")
	gated("delims.custom", param.VirtualDomainDelim.Param, a.get("delims"), "delims")
	gated("canonical.custom", param.CanonicalVirtualDomainDelim.Param, a.get("canonical"), "canonical")
	gated("spoof", param.SpoofMessageFile.Param, a.get("spoof.file"), "spoof.file")
	gated("alert.custom", param.ServerDownAlert.Param, a.get("alert"), "alert")

	ssl := pr.key + ".ssl"
	ports := []string{pr.key + ".sslport.custom", pr.key + ".sslport"}
	gated(ssl, param.SSLEnable.Param, yes)
	if n4 {
		gated(ssl, param.SSLListenPort.Param, cfgfmt.FormatPortSpec(s.sslListen(pr)), ports...)
	} else {
		gated(ssl, param.SSLPorts.Param, cfgfmt.FormatPortSpec(s.sslListen(pr)), ports...)
	}
	if a.get(ssl) == "y" {
		set(param.SSLCertPEM.Param, a.get("ssl.cert"), ssl, "ssl.cert")
		set(param.SSLKeyPEM.Param, a.get("ssl.key"), ssl, "ssl.key")
		gated("ssl.encrypted", param.SSLKeyPasswdFile.Param, s.keyPassFile(), ssl)
		gated("certlogin", param.SSLClientCAPEM.Param, a.get("certlogin.ca"), ssl, "certlogin.ca")
		gated("certlogin", param.StoreAdmin.Param, a.get("storeadmin"), ssl, "storeadmin")
		gated("certlogin", param.StoreAdminPass.Param, a.get("storeadmin.password"), ssl, "storeadmin.password")
		gated("certlogin", param.CertmapFile.Param, a.get("certmap.file"), ssl, "certmap.file")
	}
	gated("preauth", param.PreAuth.Param, yes)

	if pr.where == param.SMTP {
		set(param.SmtpRelays.Param, a.get("smtp.relays"), "smtp.relays")
		set(param.SmtpProxyPassword.Param, a.get("smtp.password"), "smtp.password")
		if ch := a.get("smtp.channel"); ch != "" {
			set(param.PopBeforeSmtpKludgeChannel.Param, ch, "smtp.channel")
		} else {
			reset(param.PopBeforeSmtpKludgeChannel.Param, "smtp.channel")
		}
	}
	return cs
}

// changed reports whether any of the answers differs from what the
// instance being changed had; for a new instance everything is new.
func (s *session) changed(keys []string) bool {
	if s.cur == nil {
		return true
	}
	for _, k := range keys {
		if s.ans.get(k) != s.cur.answers[k] {
			return true
		}
	}
	return false
}

// ldapURL is LdapUrl made of LDAP Host and Base DN (docs/reference.md §7.27), with the
// scheme of the instance being changed.
func (s *session) ldapURL() cfgfmt.LDAPURL {
	u, _ := cfgfmt.FromN4(s.ans.get("ldap.host"), s.ans.get("ldap.basedn"))
	if s.cur != nil && s.cur.scheme != "" {
		u.Scheme = s.cur.scheme
	}
	return u
}

// keyPassFile is the sslpassword.conf that holds the key password: the
// instance's own, or sslpassword.conf in the instance directory.
func (s *session) keyPassFile() string {
	if s.cur != nil && s.cur.keyPassFile != "" {
		return s.cur.keyPassFile
	}
	return "sslpassword.conf"
}

// serviceList is ServiceList for the answers. An existing instance's
// entries keep their module paths, instance names and sections; the first
// entry of each protocol gets the answered addresses, entries of services
// no longer chosen are dropped and new services are appended.
func (s *session) serviceList() ([]cfgfmt.ServiceEntry, error) {
	addrs := func(pr protocol) []cfgfmt.ListenAddr {
		return append(s.listen(pr), s.sslListen(pr)...)
	}
	want := map[string]protocol{}
	for _, pr := range s.protocols() {
		want[pr.key] = pr
	}
	var out []cfgfmt.ServiceEntry
	done := map[string]bool{}
	if s.cur != nil {
		for _, e := range s.cur.entries {
			pr, ok := want[e.Protocol()]
			if !ok {
				continue
			}
			if !done[pr.key] {
				e.Addrs = addrs(pr)
				done[pr.key] = true
			}
			out = append(out, e)
		}
	}
	for _, pr := range s.protocols() {
		if !done[pr.key] {
			out = append(out, cfgfmt.ServiceEntry{DLL: pr.module, Module: pr.module, Instance: pr.module,
				Section: "default", Addrs: addrs(pr)})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no service chosen")
	}
	return out, nil
}

// entryOf returns the ServiceList entry whose file holds a protocol's
// settings.
func entryOf(entries []cfgfmt.ServiceEntry, pr protocol) cfgfmt.ServiceEntry {
	for _, e := range entries {
		if e.Protocol() == pr.key {
			return e
		}
	}
	return cfgfmt.ServiceEntry{DLL: pr.module, Module: pr.module, Instance: pr.module, Section: "default"}
}

// outputs builds every file the answers call for, without writing any.
func (s *session) outputs() ([]output, []string, error) {
	var outs []output
	var notes []string
	add := func(o *output, n []string, err error) error {
		if err != nil {
			return err
		}
		if o != nil {
			outs = append(outs, *o)
		}
		notes = append(notes, n...)
		return nil
	}
	var err error
	if s.n4() {
		err = s.n4Outputs(add)
	} else {
		err = s.s6Outputs(add)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := add(s.vdmapOutput()); err != nil {
		return nil, nil, err
	}
	if err := add(s.certmapOutput()); err != nil {
		return nil, nil, err
	}
	if err := add(s.keyPassOutput()); err != nil {
		return nil, nil, err
	}
	return outs, notes, nil
}

type adder func(*output, []string, error) error

// s6Outputs builds AService.cfg and one *AService.cfg per service.
func (s *session) s6Outputs(add adder) error {
	entries, err := s.serviceList()
	if err != nil {
		return err
	}
	a := s.ans
	listKeys := []string{"service"}
	for _, pr := range protocols {
		listKeys = append(listKeys, pr.key+".port.custom", pr.key+".port", pr.key+".ssl", pr.key+".sslport.custom", pr.key+".sslport")
	}
	daemon := []change{
		{p: param.ServiceList.Param, value: cfgfmt.FormatServiceList(entries), keys: listKeys},
		{p: param.NumThreads.Param, value: a.get("threads"), keys: []string{"threads"}},
		{p: param.BeTheUser.Param, value: a.get("user"), keys: []string{"user"}},
		{p: param.LogDir.Param, value: a.get("logdir"), keys: []string{"logdir"}},
		{p: param.LogLevel.Param, value: a.get("loglevel"), keys: []string{"loglevel"}},
	}
	if err := add(s.cfgOutput(param.AService.FileName(), param.AService, "default", daemon)); err != nil {
		return err
	}
	for _, pr := range s.protocols() {
		e := entryOf(entries, pr)
		if err := add(s.cfgOutput(e.Instance+".cfg", pr.where, e.Section, s.changes(pr))); err != nil {
			return err
		}
	}
	return nil
}

// cfgOutput edits (or creates from its template) one *.cfg file.
func (s *session) cfgOutput(name string, ctx param.Where, prefix string, cs []change) (*output, []string, error) {
	path := filepath.Join(s.dir(), name)
	data, err := os.ReadFile(path)
	fresh := errors.Is(err, fs.ErrNotExist)
	if fresh {
		data = s.fromTemplate(name, ctx)
	} else if err != nil {
		return nil, nil, err
	}
	f, _ := cfgfmt.Parse(name, data, "") // bad lines are kept as they are; config.Load reports them
	for _, c := range cs {
		if c.p.Where&ctx == 0 || !fresh && !s.changed(c.keys) {
			continue
		}
		if c.inherit && ctx != param.AService && !hasSetting(f, prefix, c.p) {
			continue
		}
		if err := setCfg(f, prefix, ctx, c); err != nil {
			return nil, nil, err
		}
	}
	return &output{path: path, data: f.Bytes(), mode: 0o640}, nil, nil
}

// fromTemplate is the *-def.cfg template of a file with a first comment
// that says what the file is: the template's own says "Edit X, not this
// file", which would be wrong in X.
func (s *session) fromTemplate(name string, ctx param.Where) []byte {
	t := config.Template(ctx)
	if i := bytes.Index(t, []byte("\n\n")); i >= 0 && bytes.HasPrefix(t, []byte("#")) {
		t = t[i+1:]
	}
	var what string
	switch ctx {
	case param.AService:
		what = "daemon-wide settings"
	default:
		what = protocolOf(ctx).name + " proxy"
	}
	def := strings.TrimSuffix(ctx.FileName(), ".cfg") + "-def.cfg"
	head := fmt.Sprintf("# %s -- %s of MMP instance %s.\n# Written by mmp-setup from %s; edit it freely, mmp-setup keeps your changes.\n",
		name, what, s.ans.get("instance"), def)
	return append([]byte(head), t...)
}

// names are every spelling a parameter may have in a file.
func names(p *param.Param) []string {
	ns := p.Names()
	if p.Env != "" {
		ns = append(ns, p.Env)
	}
	return ns
}

// hasSetting reports whether the file sets the parameter under prefix.
func hasSetting(f *cfgfmt.File, prefix string, p *param.Param) bool {
	for _, n := range names(p) {
		if f.Lookup(prefix, n) != nil {
			return true
		}
	}
	return false
}

// setCfg applies one change to a *.cfg file under prefix.
func setCfg(f *cfgfmt.File, prefix string, ctx param.Where, c change) error {
	var line *cfgfmt.Line
	for _, n := range names(c.p) {
		if l := f.Lookup(prefix, n); l != nil && (line == nil || l.Num > line.Num) {
			line = l
		}
	}
	value := c.value
	if c.reset {
		def := c.p.DefaultFor(ctx)
		if def == "" {
			for _, n := range names(c.p) {
				f.Delete(prefix, n)
			}
			return nil
		}
		if line == nil {
			return nil // the default is in force already
		}
		value = def
	}
	if line != nil && sameValue(c.p, line.Value, value) {
		return nil
	}
	if line == nil && sameValue(c.p, value, c.p.DefaultFor(ctx)) {
		return nil // the default is in force already
	}
	name := c.p.Name
	if line != nil {
		name = line.Name
	}
	_, err := f.Set(prefix, name, value)
	return err
}

// n4Outputs builds ImapMMP.config/PopMMP.config (and SmtpMMP.config for
// the Go SMTP front end) and, where missing, their start scripts.
func (s *session) n4Outputs(add adder) error {
	for _, pr := range s.protocols() {
		if err := add(s.envOutput(pr)); err != nil {
			return err
		}
		if err := add(s.scriptOutput(pr)); err != nil {
			return err
		}
	}
	return nil
}

// appliesN4 reports whether a parameter belongs in a Netscape front end's
// file: its own service's parameters and the Netscape-only ones it
// translates (LDAPHost, ListenPort, ...).
func appliesN4(p *param.Param, w param.Where) bool {
	return p.Where&w != 0 || p.Where&param.N4 != 0 && p.Where&param.Proxies == 0
}

func (s *session) envOutput(pr protocol) (*output, []string, error) {
	name := pr.n4 + ".config"
	path := filepath.Join(s.dir(), name)
	data, err := os.ReadFile(path)
	fresh := errors.Is(err, fs.ErrNotExist)
	if fresh {
		data = fmt.Appendf(nil, "# %s -- settings of the %s Multiplexor of instance %s,\n# written by mmp-setup and read by the %s script; see ImapMMP.config(5).\n",
			name, pr.name, s.ans.get("instance"), pr.n4)
	} else if err != nil {
		return nil, nil, err
	}
	f, _ := cfgfmt.ParseEnv(name, data)
	for _, c := range s.changes(pr) {
		if !appliesN4(c.p, pr.where) || !fresh && !s.changed(c.keys) {
			continue
		}
		if err := setEnv(f, c, fresh, pr.where|param.N4); err != nil {
			return nil, nil, err
		}
	}
	return &output{path: path, data: f.Bytes(), mode: 0o640}, nil, nil
}

// setEnv applies one change to an ImapMMP.config, under the Netscape name.
// A new file gets every value, as the Netscape installer wrote them; an
// existing one is not given a line for a value that is the default.
func setEnv(f *cfgfmt.EnvFile, c change, fresh bool, ctx param.Where) error {
	var line *cfgfmt.EnvLine
	for _, n := range names(c.p) {
		if l := f.Lookup(n); l != nil && (line == nil || l.Num > line.Num) {
			line = l
		}
	}
	if c.reset {
		// Unset means absent: the front end then uses the default.
		kept := f.Lines[:0]
		for _, l := range f.Lines {
			if l.HasAssign && matchesAny(l.Var, names(c.p)) {
				continue
			}
			kept = append(kept, l)
		}
		f.Lines = kept
		for i, l := range f.Lines {
			l.Num = i + 1
		}
		return nil
	}
	if line != nil && sameValue(c.p, line.Value, c.value) {
		return nil
	}
	if line == nil && !fresh && sameValue(c.p, c.value, c.p.DefaultFor(ctx)) {
		return nil
	}
	name := c.p.EnvName()
	if line != nil {
		name = line.Var
	}
	_, err := f.Set(name, c.value)
	return err
}

func matchesAny(name string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// scriptOutput writes the ImapMMP/PopMMP start script of docs/reference.md §3.12 when
// the instance has none; an existing script may have been adapted by hand
// and is left alone.
func (s *session) scriptOutput(pr protocol) (*output, []string, error) {
	path := filepath.Join(s.dir(), pr.n4)
	if _, err := os.Stat(path); err == nil {
		return nil, nil, nil
	}
	prog := filepath.Join(s.ans.get("bindir"), pr.prog)
	script := fmt.Sprintf(`#!/bin/sh
# %s -- starts the %s Multiplexor of instance %s with the settings
# of %s.config. Written by mmp-setup; it may be linked into the init
# directory to start the Multiplexor at boot. Started as root, the
# Multiplexor opens its ports and then runs as BeTheUser of that file.
cd %s || exit 1
. ./%s.config
exec %s "$@"
`, pr.n4, pr.name, s.ans.get("instance"), pr.n4, cfgfmt.ShellQuote(s.dir()), pr.n4, cfgfmt.ShellQuote(prog))
	return &output{path: path, data: []byte(script), mode: 0o755}, nil, nil
}

// vdmapOutput adds the answered virtual domain to the mapping file
// (creating it if need be): a "vdmap NAME IP" block with DefaultDomain.
func (s *session) vdmapOutput() (*output, []string, error) {
	a := s.ans
	if a.get("vdmap") != "y" || a.get("vdmap.create") != "y" {
		return nil, nil, nil
	}
	label, ip := a.get("vdmap.name"), a.get("vdmap.ip")
	f, path, err := s.blockFile(a.get("vdmap.file"), "vdmap", "virtual domains by server address, see vdmap(5)")
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	if h := header(f, label); h == nil {
		if _, err := f.AddHeader("vdmap", label, ip); err != nil {
			return nil, nil, err
		}
	} else if h.Arg != ip {
		notes = append(notes, fmt.Sprintf("%s: vdmap %s keeps its address %s (not %s); edit the file to change it", path, label, h.Arg, ip))
	}
	if err := setBlock(f, label, param.DefaultDomain.Param, "DefaultDomain", a.get("vdmap.domain")); err != nil {
		return nil, nil, err
	}
	return &output{path: path, data: f.Bytes(), mode: 0o640}, notes, nil
}

// certmapOutput writes a default map to certmap.conf (docs/reference.md §3.7): search
// the whole tree (empty DNComps) for the entry named by the answered
// subject attributes (FilterComps).
func (s *session) certmapOutput() (*output, []string, error) {
	a := s.ans
	if a.get("certlogin") != "y" || a.get("certmap.create") != "y" {
		return nil, nil, nil
	}
	f, path, err := s.blockFile(a.get("certmap.file"), "certmap", "maps client certificates to directory entries, see certmap.conf(5)")
	if err != nil {
		return nil, nil, err
	}
	if header(f, "default") == nil {
		if _, err := f.AddHeader("certmap", "default", "default"); err != nil {
			return nil, nil, err
		}
		if _, err := f.Set("default", "DNComps", ""); err != nil {
			return nil, nil, err
		}
	}
	if err := setBlock(f, "default", nil, "FilterComps", a.get("certmap.filter")); err != nil {
		return nil, nil, err
	}
	return &output{path: path, data: f.Bytes(), mode: 0o640}, nil, nil
}

// blockFile reads a vdmap or certmap.conf, or starts one with a comment.
func (s *session) blockFile(name, keyword, what string) (*cfgfmt.File, string, error) {
	path := s.path(name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data = fmt.Appendf(nil, "# %s -- %s.\n# Written by mmp-setup for MMP instance %s.\n", filepath.Base(name), what, s.ans.get("instance"))
	} else if err != nil {
		return nil, "", err
	}
	f, _ := cfgfmt.Parse(path, data, keyword)
	return f, path, nil
}

func header(f *cfgfmt.File, label string) *cfgfmt.Line {
	for _, h := range f.Headers() {
		if strings.EqualFold(h.Label, label) {
			return h
		}
	}
	return nil
}

// setBlock sets a property of a vdmap or certmap block unless it already
// has that value.
func setBlock(f *cfgfmt.File, label string, p *param.Param, name, value string) error {
	if l := f.Lookup(label, name); l != nil && sameValue(p, l.Value, value) {
		return nil
	}
	_, err := f.Set(label, name, value)
	return err
}

// keyPassOutput writes the key password to sslpassword.conf as the
// Internal (Software) Token's line (docs/reference.md §3.11), the one SSLKeyPEM's
// encrypted key is opened with; other modules' lines are kept.
func (s *session) keyPassOutput() (*output, []string, error) {
	a := s.ans
	if !anySSL(s) || a.get("ssl.encrypted") != "y" {
		return nil, nil, nil
	}
	path := s.path(s.keyPassFile())
	pw := a.get("ssl.keypass")
	want := cfgfmt.InternalToken + ":" + pw
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &output{path: path, data: []byte(want + "\n"), mode: 0o600}, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	if old, ok := readKeyPassword(path); ok && old == pw {
		return nil, nil, nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	replaced := false
	for i, l := range lines {
		module, _, ok := strings.Cut(strings.TrimLeft(l, " \t"), ":")
		if ok && strings.TrimSpace(module) == cfgfmt.InternalToken {
			eol := l[len(strings.TrimRight(l, "\r\n")):]
			lines[i] = want + eol
			replaced = true
		}
	}
	out := strings.Join(lines, "")
	if !replaced {
		out = want + "\n" + out
	}
	return &output{path: path, data: []byte(out), mode: 0o600}, nil, nil
}

// writeAll writes the outputs, each through a temporary file renamed into
// place so that a daemon reading it on refresh never sees half a file. A
// file whose content is unchanged is not touched. It returns the paths
// written.
func writeAll(outs []output) ([]string, error) {
	var written []string
	for _, o := range outs {
		mode := o.mode
		if fi, err := os.Stat(o.path); err == nil {
			if old, err := os.ReadFile(o.path); err == nil && bytes.Equal(old, o.data) {
				continue
			}
			mode = fi.Mode().Perm()
		}
		if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
			return written, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(o.path), "."+filepath.Base(o.path)+".*")
		if err != nil {
			return written, err
		}
		_, err = tmp.Write(o.data)
		if err == nil {
			err = tmp.Chmod(mode)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), o.path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return written, fmt.Errorf("setup: writing %s: %w", o.path, err)
		}
		written = append(written, o.path)
	}
	return written, nil
}

// prepareDirs creates the instance directory and the log directory. When
// run as root it gives the log directory to the run-as user and the
// written files to that user's group: the daemon drops privileges after
// opening its ports and must still write logs and re-read its files on
// refresh.
func (s *session) prepareDirs(written []string) []string {
	var notes []string
	logdir := s.path(s.ans.get("logdir"))
	if err := os.MkdirAll(logdir, 0o750); err != nil {
		notes = append(notes, fmt.Sprintf("cannot create the log directory: %v", err))
	}
	if os.Geteuid() != 0 {
		return notes
	}
	u, err := user.Lookup(s.ans.get("user"))
	if err != nil {
		return append(notes, fmt.Sprintf("user %s: %v; set the owner of %s yourself", s.ans.get("user"), err, logdir))
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(logdir, uid, gid); err != nil {
		notes = append(notes, err.Error())
	}
	for _, p := range written {
		if err := os.Chown(p, -1, gid); err != nil {
			notes = append(notes, err.Error())
		}
	}
	return notes
}
