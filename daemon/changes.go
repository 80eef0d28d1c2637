package daemon

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// changes lists what a refresh from running to next changes, one line
// each, for the log and the refresh status file: services added and
// removed, listening addresses opened and closed, addresses that turn
// from TLS to clear text or back, and every parameter whose value
// changed (a password only by name; one read only at start with the
// value the running process keeps). An admin reading the log after a
// refresh learns what it did without comparing files.
func changes(running, next *config.Instance) []string {
	var out []string
	if next.Daemon.Context()&param.N4 == 0 { // the front ends have no AService.cfg
		out = append(out, valueChanges("AService("+param.AService.FileName()+")", running.Daemon, next.Daemon, "")...)
	}
	old := map[string]*config.Service{}
	for _, svc := range running.Services {
		old[serviceKey(svc)] = svc
	}
	for _, svc := range next.Services {
		label := serviceLabel(svc)
		o := old[serviceKey(svc)]
		if o == nil {
			out = append(out, label+": service added")
			continue
		}
		delete(old, serviceKey(svc))
		for _, la := range svc.Listen {
			switch {
			case !slices.Contains(o.Listen, la):
				out = append(out, fmt.Sprintf("%s: listening on %s (new)", label, listenAddr(la)))
			case tlsLost(o.Values, svc.Values, la):
				out = append(out, fmt.Sprintf("%s: %s: TLS from the first byte -> clear text", label, listenAddr(la)))
			case tlsLost(svc.Values, o.Values, la):
				out = append(out, fmt.Sprintf("%s: %s: clear text -> TLS from the first byte", label, listenAddr(la)))
			}
		}
		for _, la := range o.Listen {
			if !slices.Contains(svc.Listen, la) {
				out = append(out, fmt.Sprintf("%s: stopped listening on %s (its sessions go on)", label, listenAddr(la)))
			}
		}
		// What a service inherits from AService.cfg was said above.
		out = append(out, valueChanges(label, o.Values, svc.Values, param.AService.FileName())...)
		if !reflect.DeepEqual(o.ConnLimits, svc.ConnLimits) && o.Values.Raw(param.ConnLimits.Param) == svc.Values.Raw(param.ConnLimits.Param) {
			out = append(out, label+": ConnLimits: the limits in its file changed")
		}
		if !reflect.DeepEqual(o.BGExcluded, svc.BGExcluded) && o.Values.Raw(param.BGExcluded.Param) == svc.Values.Raw(param.BGExcluded.Param) {
			out = append(out, label+": BGExcluded: the addresses in its file changed")
		}
		out = append(out, domainChanges(label, o, svc)...)
	}
	for _, svc := range running.Services {
		if old[serviceKey(svc)] != nil {
			out = append(out, serviceLabel(svc)+": service removed (stops once its sessions end)")
		}
	}
	return out
}

// serviceLabel names a service as the log does: ImapProxy(ImapProxyAService.cfg),
// with its section when it reads one besides default.
func serviceLabel(svc *config.Service) string {
	label := svc.Protocol.ServiceName() + "(" + svc.File + ")"
	if svc.Section != "" && svc.Section != "default" {
		label += "[" + svc.Section + "]"
	}
	return label
}

// valueChanges lists the parameters whose value differs between two sets
// of values, skipping those that both took from the file skip.
func valueChanges(label string, old, next *config.Values, skip string) []string {
	var out []string
	for _, p := range param.All() {
		a, b := old.Raw(p), next.Raw(p)
		if a == b {
			continue
		}
		if skip != "" && old.Origin(p).File == skip && next.Origin(p).File == skip {
			continue
		}
		switch {
		case p.Secret && p.AtStart:
			out = append(out, fmt.Sprintf("%s: %s: changed (not shown; read at start: the running process keeps the old value until it is restarted)", label, p.Name))
		case p.Secret:
			out = append(out, fmt.Sprintf("%s: %s: changed (not shown)", label, p.Name))
		case p.AtStart:
			kept := "it unset"
			if a != "" {
				kept = fmt.Sprintf("%q", a)
			}
			out = append(out, fmt.Sprintf("%s: %s: %s -> %s (read at start: the running process keeps %s until it is restarted)",
				label, p.Name, shown(old, p), shown(next, p), kept))
		default:
			out = append(out, fmt.Sprintf("%s: %s: %s -> %s", label, p.Name, shown(old, p), shown(next, p)))
		}
	}
	return out
}

// shown is a value for a change line: quoted, "(unset)" when empty, and
// marked when it is the default.
func shown(v *config.Values, p *param.Param) string {
	s := "(unset)"
	if raw := v.Raw(p); raw != "" {
		s = fmt.Sprintf("%q", raw)
	}
	if !v.IsSet(p) && v.Raw(p) != "" {
		s += " (default)"
	}
	return s
}

// domainChanges lists the vdmap blocks added and removed, and the
// properties a block kept changes in the vdmap file.
func domainChanges(label string, old, next *config.Service) []string {
	var out []string
	byName := map[string]*config.Domain{}
	for _, d := range old.Domains {
		byName[d.Name] = d
	}
	for _, d := range next.Domains {
		o := byName[d.Name]
		if o == nil {
			out = append(out, fmt.Sprintf("%s: vdmap %s (%s): added", label, d.Name, d.Addr))
			continue
		}
		delete(byName, d.Name)
		if o.Addr != d.Addr {
			out = append(out, fmt.Sprintf("%s: vdmap %s: address %s -> %s", label, d.Name, o.Addr, d.Addr))
		}
		for _, p := range param.All() {
			own := func(dom *config.Domain) bool { return dom.Values.Origin(p).File == dom.File }
			if (own(o) || own(d)) && o.Values.Raw(p) != d.Values.Raw(p) {
				if p.Secret {
					out = append(out, fmt.Sprintf("%s: vdmap %s: %s: changed (not shown)", label, d.Name, p.Name))
				} else {
					out = append(out, fmt.Sprintf("%s: vdmap %s: %s: %s -> %s", label, d.Name, p.Name, shown(o.Values, p), shown(d.Values, p)))
				}
			}
		}
	}
	for _, d := range old.Domains {
		if byName[d.Name] != nil {
			out = append(out, fmt.Sprintf("%s: vdmap %s (%s): removed", label, d.Name, d.Addr))
		}
	}
	return out
}
