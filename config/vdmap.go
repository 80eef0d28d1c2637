package config

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// ldapScoped are the vdmap properties that only mean something when the
// block sets its own LdapUrl (docs/reference.md §2.2: "ignored unless LdapUrl is valid").
var ldapScoped = []*param.Param{param.BindDN.Param, param.BindPass.Param, param.LdapCacheSize.Param, param.LdapCacheTTL.Param}

// vdmap reads a virtual-domain mapping file (docs/reference.md §3.5) for a service. file
// and line say where the service named it.
func (l *loader) vdmap(file string, line int, name string, svc *Service) []*Domain {
	data, err := l.readFile(l.path(name))
	if err != nil {
		l.r.add(Fatal, file, line, "VirtualDomainFile", "%s: %v", name, unwrapPathError(err))
		return nil
	}
	f, errs := cfgfmt.Parse(name, data, "vdmap")
	for _, e := range errs {
		// Undeclared and duplicate blocks are reported below, with the
		// severity the reference (docs/reference.md) gives them (warn and ignore).
		if !errors.Is(e, cfgfmt.ErrUndeclaredBlock) && !errors.Is(e, cfgfmt.ErrDuplicateBlock) {
			l.r.addErr(Fatal, name, e)
		}
	}
	var domains []*Domain
	byLabel := map[string]*Domain{}
	byAddr := map[netip.Addr]*Domain{}
	for _, ln := range f.Lines {
		if ln.Kind != cfgfmt.Header {
			continue
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(ln.Arg))
		if err != nil {
			l.r.add(Fatal, name, ln.Num, "", "vdmap %s: %q is not an IP address", ln.Label, ln.Arg)
			continue
		}
		addr = addr.Unmap()
		key := strings.ToLower(ln.Label)
		if prev, dup := byLabel[key]; dup {
			l.r.add(Fatal, name, ln.Num, "", "vdmap %s is already declared on line %d", ln.Label, prev.Line)
			continue
		}
		if prev, dup := byAddr[addr]; dup {
			l.r.add(Fatal, name, ln.Num, "", "address %s is already mapped by vdmap %s on line %d", addr, prev.Name, prev.Line)
			continue
		}
		d := &Domain{Name: ln.Label, Addr: addr, Values: svc.Values.clone(), File: name, Line: ln.Num}
		d.Values.ctx |= param.VDMap
		byLabel[key], byAddr[addr] = d, d
		domains = append(domains, d)
	}
	for _, ln := range f.Settings() {
		d := byLabel[strings.ToLower(ln.Prefix)]
		if d == nil {
			l.r.add(Warning, name, ln.Num, ln.Name, "no \"vdmap %s IPADDR\" line declares %q; ignored", ln.Prefix, ln.Prefix)
			continue
		}
		p := param.Lookup(ln.Name)
		switch {
		case p == nil:
			msg := "unknown vdmap property; ignored"
			if s := param.Suggest(ln.Name); s != "" {
				msg = "unknown vdmap property (did you mean " + s + "?); ignored"
			}
			l.r.add(Warning, name, ln.Num, ln.Name, "%s", msg)
			continue
		case p == param.VirtualDomainFile.Param:
			l.r.add(Warning, name, ln.Num, p.Name, "means nothing inside a vdmap file; ignored")
			continue
		case p.Where&param.VDMap == 0:
			l.r.add(Warning, name, ln.Num, p.Name, "is not a vdmap property (it belongs in %s); ignored", placesOf(p))
			continue
		}
		s := param.Setting{Param: p, Raw: ln.Value, Origin: param.Origin{Kind: param.FromFile, File: name, Line: ln.Num}}
		if err := d.Values.set(s); err != nil {
			l.r.add(Fatal, name, ln.Num, p.Name, "%v", err)
			continue
		}
		l.valueWarnings(d.Values, p, name, ln.Num, svc.Protocol)
	}
	for _, d := range domains {
		if d.Values.Origin(param.LdapUrl.Param).File == name {
			continue
		}
		for _, p := range ldapScoped {
			if o := d.Values.Origin(p); o.File == name {
				l.r.add(Warning, name, o.Line, p.Name, "ignored: vdmap %s sets no LdapUrl of its own", d.Name)
				d.Values.vals[p.Index()] = svc.Values.vals[p.Index()]
			}
		}
	}
	return domains
}

// certmap checks a certmap.conf (docs/reference.md §3.7) with the parser the proxy
// uses at login: a problem it finds makes every certificate login fail,
// so each is an error here too.
func (l *loader) certmap(file string, line int, name string) {
	data, err := l.readFile(l.path(name))
	if err != nil {
		l.r.add(Fatal, file, line, "CertmapFile", "%s: %v", name, unwrapPathError(err))
		return
	}
	_, errs := cfgfmt.ParseCertmap(name, data)
	for _, e := range errs {
		l.r.addErr(Fatal, name, e)
	}
}
