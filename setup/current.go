package setup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// instance is an instance directory found under the installation root.
type instance struct {
	name string
	dir  string
	n4   bool // Netscape files (ImapMMP.config ...) rather than AService.cfg
}

// scanInstances lists the subdirectories of root that hold an instance:
// AService.cfg (Sun 6 style) or an ImapMMP.config, PopMMP.config or
// SmtpMMP.config (Netscape 4.x style), in name order. A root that does not
// exist yet has none.
func scanInstances(root string) ([]instance, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []instance
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if isFile(filepath.Join(dir, param.AService.FileName())) {
			out = append(out, instance{name: e.Name(), dir: dir})
			continue
		}
		for _, p := range protocols {
			if isFile(filepath.Join(dir, p.n4+".config")) {
				out = append(out, instance{name: e.Name(), dir: dir, n4: true})
				break
			}
		}
	}
	return out, nil
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// current is what an existing instance holds, as answers: the defaults of
// the dialogue when it is changed.
type current struct {
	inst    instance
	answers map[string]string

	// scheme is LdapUrl's scheme, which the LDAP Host prompt cannot
	// express: an ldaps:// instance stays ldaps://.
	scheme string

	// entries is the instance's ServiceList (Sun 6 style), whose module
	// paths, instance names and sections are kept when ports change.
	entries []cfgfmt.ServiceEntry

	// keyPassFile is SSLKeyPasswdFile as set, "" when unset.
	keyPassFile string

	foreignReplay bool
}

// loadCurrent reads an instance with package config, the way the daemon
// would, and turns its values back into answers. Problems in the files
// are returned as notes: the administrator is about to change them.
func loadCurrent(in instance) (*current, []string) {
	c := &current{inst: in, answers: map[string]string{}, scheme: "ldap"}
	var notes []string
	note := func(ps config.Problems) {
		for _, p := range ps {
			if p.Severity >= config.Fatal {
				notes = append(notes, p.String())
			}
		}
	}
	vals := map[param.Where]*config.Values{}
	var order []protocol
	if in.n4 {
		for _, pr := range protocols {
			file := filepath.Join(in.dir, pr.n4+".config")
			if !isFile(file) {
				continue
			}
			inst, ps := config.LoadFrontEnd(config.FrontEnd{Protocol: pr.where, File: file})
			note(ps)
			vals[pr.where] = inst.Services[0].Values
			order = append(order, pr)
			if d := inst.Daemon; d.IsSet(param.BeTheUser.Param) && c.answers["user"] == "" {
				c.answers["user"] = d.Raw(param.BeTheUser.Param)
			}
		}
		if b := bindirOf(in.dir, order); b != "" {
			c.answers["bindir"] = b
		}
	} else {
		inst, ps := config.Load(in.dir, config.Options{})
		note(ps)
		d := inst.Daemon
		if d.IsSet(param.BeTheUser.Param) {
			c.answers["user"] = d.Raw(param.BeTheUser.Param)
		}
		c.answers["threads"] = d.Raw(param.NumThreads.Param)
		c.entries = config.Get(d, param.ServiceList)
		for _, pr := range protocols {
			for _, svc := range inst.Services {
				if svc.Protocol == pr.where {
					vals[pr.where] = svc.Values
					order = append(order, pr)
					c.listenAnswers(pr, svc)
					break
				}
			}
		}
		if len(order) == 0 {
			return c, notes
		}
		c.answers["logdir"] = d.Raw(param.LogDir.Param)
		c.answers["loglevel"] = d.Raw(param.LogLevel.Param)
	}
	if len(order) == 0 {
		return c, notes
	}
	c.answers["service"] = serviceOf(order)
	c.common(vals[order[0].where], order[0].where|n4ctx(in.n4))
	for _, pr := range order {
		c.perService(pr, vals[pr.where], pr.where|n4ctx(in.n4))
	}
	return c, notes
}

func n4ctx(n4 bool) param.Where {
	if n4 {
		return param.N4
	}
	return 0
}

// serviceOf is the service answer for a set of protocols.
func serviceOf(ps []protocol) string {
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.key)
	}
	switch k := strings.Join(keys, "+"); k {
	case svcIMAP, svcPOP, svcIMAPPOP, svcAll:
		return k
	case "pop+smtp", "imap+smtp", "smtp":
		// Not one of the installer's choices: offer the one that keeps
		// every service running.
		return svcAll
	}
	return svcIMAPPOP
}

var replayAttr = regexp.MustCompile(`^%A\[([A-Za-z][A-Za-z0-9;-]*)\]$`)

// common fills the answers every service shares from the first one's values.
func (c *current) common(v *config.Values, ctx param.Where) {
	a := c.answers
	raw := func(p *param.Param) string { return v.Raw(p) }
	n4 := ctx&param.N4 != 0
	if n4 && v.Origin(param.LdapUrl.Param).Kind == param.FromDerived {
		a["ldap.host"], a["ldap.basedn"] = raw(param.LDAPHost.Param), raw(param.BaseDN.Param)
		a["logdir"], a["loglevel"], a["threads"] = raw(param.LogDir.Param), raw(param.LogLevel.Param), raw(param.NumThreads.Param)
	} else {
		u := config.Get(v, param.LdapUrl)
		a["ldap.host"], a["ldap.basedn"], c.scheme = strings.Join(u.Hosts, " "), u.BaseDN, u.Scheme
		if n4 {
			a["logdir"], a["loglevel"], a["threads"] = raw(param.LogDir.Param), raw(param.LogLevel.Param), raw(param.NumThreads.Param)
		}
	}
	if dn := raw(param.BindDN.Param); dn != "" {
		a["bind"], a["bind.dn"], a["bind.password"] = "y", dn, raw(param.BindPass.Param)
	} else {
		a["bind"] = "n"
	}
	c.custom("banner", param.Banner.Param, v, ctx)
	c.custom("search", param.SearchFormat.Param, v, ctx)
	c.custom("mailhost", param.MailHostAttrs.Param, v, ctx)
	c.custom("delims", param.VirtualDomainDelim.Param, v, ctx)
	c.custom("canonical", param.CanonicalVirtualDomainDelim.Param, v, ctx)

	switch rf := raw(param.ReplayFormat.Param); {
	case n4 && raw(param.UidAttr.Param) != "":
		a["replay.custom"], a["replay.attr"] = "y", raw(param.UidAttr.Param)
	case sameValue(param.ReplayFormat.Param, rf, param.ReplayFormat.DefaultFor(ctx)):
		a["replay.custom"] = "n"
	case replayAttr.MatchString(rf):
		a["replay.custom"], a["replay.attr"] = "y", replayAttr.FindStringSubmatch(rf)[1]
	default:
		c.foreignReplay = true
	}

	if f := raw(param.VirtualDomainFile.Param); f != "" {
		a["vdmap"], a["vdmap.file"] = "y", f
	} else {
		a["vdmap"] = "n"
	}

	if f := raw(param.SSLCertPEM.Param); f != "" {
		a["ssl.cert"] = f
	}
	if f := raw(param.SSLKeyPEM.Param); f != "" {
		a["ssl.key"] = f
	}
	c.keyPassFile = raw(param.SSLKeyPasswdFile.Param)
	a["ssl.encrypted"] = yn(c.keyPassFile != "")
	if c.keyPassFile != "" {
		if pw, ok := readKeyPassword(c.path(c.keyPassFile)); ok {
			a["ssl.keypass"] = pw
		}
	}
	if f := raw(param.CertmapFile.Param); f != "" && v.IsSet(param.CertmapFile.Param) {
		a["certlogin"], a["certmap.file"] = "y", f
		a["certmap.create"] = "n"
	} else {
		a["certlogin"] = "n"
	}
	if f := raw(param.SSLClientCAPEM.Param); f != "" {
		a["certlogin.ca"] = f
	}
	if u := raw(param.StoreAdmin.Param); u != "" {
		a["storeadmin"], a["storeadmin.password"] = u, raw(param.StoreAdminPass.Param)
	}
	a["preauth"] = yn(config.Get(v, param.PreAuth))
}

// perService fills the answers that belong to one protocol's file.
func (c *current) perService(pr protocol, v *config.Values, ctx param.Where) {
	a := c.answers
	switch pr.where {
	case param.IMAP:
		c.custom("capability", param.Capability.Param, v, ctx)
		c.custom("alert", param.ServerDownAlert.Param, v, ctx)
	case param.POP:
		if f := v.Raw(param.SpoofMessageFile.Param); f != "" {
			a["spoof"], a["spoof.file"] = "y", f
		} else {
			a["spoof"] = "n"
		}
	case param.SMTP:
		a["smtp.relays"] = v.Raw(param.SmtpRelays.Param)
		a["smtp.password"] = v.Raw(param.SmtpProxyPassword.Param)
		a["smtp.channel"] = v.Raw(param.PopBeforeSmtpKludgeChannel.Param)
	}
	a[pr.key+".ssl"] = yn(config.Get(v, param.SSLEnable))
	if pr.where != param.SMTP {
		c.port(pr.key+".storeport", param.BacksidePort.Param, v.Raw(param.BacksidePort.Param), param.BacksidePort.DefaultFor(pr.where))
	}
	if ctx&param.N4 != 0 {
		c.port(pr.key+".port", param.ListenPort.Param, v.Raw(param.ListenPort.Param), param.ListenPort.DefaultFor(ctx))
		if config.Get(v, param.SSLEnable) {
			c.port(pr.key+".sslport", param.SSLListenPort.Param, v.Raw(param.SSLListenPort.Param), param.SSLListenPort.DefaultFor(ctx))
		}
	}
}

// listenAnswers splits a Sun 6 service's first ServiceList entry into its
// plain and its SSL addresses (those also in the service's SSLPorts).
func (c *current) listenAnswers(pr protocol, svc *config.Service) {
	ssl := config.Get(svc.Values, param.SSLPorts)
	var plain, secure []cfgfmt.ListenAddr
	for _, a := range svc.Listen {
		if inSpec(ssl, a) {
			secure = append(secure, a)
		} else {
			plain = append(plain, a)
		}
	}
	if len(plain) > 0 {
		c.port(pr.key+".port", param.ListenPort.Param, cfgfmt.FormatPortSpec(plain), param.ListenPort.DefaultFor(pr.where|param.N4))
	}
	if len(secure) > 0 {
		c.port(pr.key+".sslport", param.SSLListenPort.Param, cfgfmt.FormatPortSpec(secure), param.SSLListenPort.DefaultFor(pr.where|param.N4))
	}
}

func inSpec(spec []cfgfmt.ListenAddr, a cfgfmt.ListenAddr) bool {
	for _, b := range spec {
		if b == a {
			return true
		}
	}
	return false
}

// port records a port answer and whether it differs from the default.
func (c *current) port(key string, p *param.Param, raw, def string) {
	c.answers[key+".custom"] = yn(!sameValue(p, raw, def))
	c.answers[key] = raw
}

// custom records an overridable value: "key.custom" says whether it
// differs from the default, "key" holds it when it does.
func (c *current) custom(key string, p *param.Param, v *config.Values, ctx param.Where) {
	raw := v.Raw(p)
	if sameValue(p, raw, p.DefaultFor(ctx)) {
		c.answers[key+".custom"] = "n"
		return
	}
	c.answers[key+".custom"], c.answers[key] = "y", raw
}

func (c *current) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(c.inst.dir, name)
}

// readKeyPassword returns the key password of an sslpassword.conf: the
// Internal (Software) Token's, or the first module's (docs/reference.md §3.11).
func readKeyPassword(name string) (string, bool) {
	data, err := os.ReadFile(name)
	if err != nil {
		return "", false
	}
	pw, order, _ := cfgfmt.ParsePasswordFile(name, data)
	if v, ok := pw[cfgfmt.InternalToken]; ok {
		return v, true
	}
	if len(order) > 0 {
		return pw[order[0]], true
	}
	return "", false
}

// bindirOf finds the program directory in a Netscape start script's exec
// line, which mmp-setup wrote.
func bindirOf(dir string, ps []protocol) string {
	for _, pr := range ps {
		data, err := os.ReadFile(filepath.Join(dir, pr.n4))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "exec" {
				prog := strings.Trim(f[1], `'"`)
				if filepath.Base(prog) == pr.prog && filepath.IsAbs(prog) {
					return filepath.Dir(prog)
				}
			}
		}
	}
	return ""
}
