package access

import (
	"net/netip"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
)

// Access filters (TCPAccess, the users' and domains' service access
// attributes) are parsed by cfgfmt.ParseFilter; this file decides what a
// parsed filter says of a connection (docs/reference.md §3.6).

// Request describes the connection a filter is asked about.
type Request struct {
	Service string // "imap", "pop" or "smtp" (other names are matched literally)
	// TLS says the connection is, or has become, SSL/TLS-protected. The
	// connection then matches both the plain name (imap) and the SSL name
	// (imaps): see Allows. A connection checked at accept time, before a
	// STARTTLS, is not TLS; a caller that wants "+imaps" rules to admit
	// STARTTLS clients has to ask again after the upgrade.
	TLS    bool
	Client netip.Addr // the zero Addr counts as an unknown address
	// ClientName is the client's reverse-DNS name, "" when unknown.
	ClientName string
	// NameVerified says a forward lookup of ClientName gave back Client.
	// An unverified name matches no name pattern, only DNSSPOOFER.
	NameVerified bool
	Server       netip.Addr // the local address the client connected to
	// ServerName is the host name of Server, "" when unknown. It is trusted
	// as it stands: it names one of our own interfaces.
	ServerName string
	// User is the user for user@host patterns: the identd user in tcpd;
	// the MMP has none unless the caller passes, say, the login name.
	User string
}

// Allows evaluates the filter f for r (docs/reference.md §3.6). Allow rules are consulted
// before deny rules, each group in the order written, and the first match
// decides: an allow match admits, a deny match refuses. When nothing
// matches the connection is admitted — except when the filter has allow
// rules and no deny rules, where no match refuses; so allowing one service
// implicitly denies the others. A filter without rules allows everything.
//
// A TLS-protected connection matches its SSL service name (imaps, pops,
// smtps) and also its plain one (imap, pop, smtp): the SSL name is a
// refinement, not a different service. So "+imaps,pops:ALL" admits SSL
// from anywhere, while "-imap:ALL EXCEPT 192.168.1.0/24" keeps outside
// clients off IMAP whether or not they use SSL; a deny rule cannot be
// side-stepped by switching TLS on. To refuse only cleartext, allow the SSL
// name: "+imaps:ALL$-imap:ALL" (allow rules come first).
func Allows(f *cfgfmt.Filter, r Request) bool {
	if f == nil || len(f.Rules) == 0 {
		return true
	}
	allows, denies := 0, 0
	for _, rule := range f.Rules {
		if rule.Allow {
			allows++
			if ruleMatches(&rule, &r) {
				return true
			}
		} else {
			denies++
		}
	}
	for _, rule := range f.Rules {
		if !rule.Allow && ruleMatches(&rule, &r) {
			return false
		}
	}
	return !(allows > 0 && denies == 0)
}

func ruleMatches(rule *cfgfmt.Rule, r *Request) bool {
	return servicesMatch(&rule.Services, r) && clientsMatch(&rule.Clients, r)
}

func servicesMatch(p *cfgfmt.ServicePattern, r *Request) bool {
	for i := range p.Items {
		if serviceMatches(&p.Items[i], r) {
			return p.Except == nil || !servicesMatch(p.Except, r)
		}
	}
	return false
}

// sslName gives the SSL service name of each protocol the MMP serves.
var sslName = map[string]string{"imap": "imaps", "pop": "pops", "smtp": "smtps"}

func serviceMatches(it *cfgfmt.ServiceItem, r *Request) bool {
	svc := strings.ToLower(r.Service)
	switch {
	case it.Name == "all", it.Name == svc:
	case r.TLS && it.Name == sslName[svc]:
	default:
		return false
	}
	if it.Server == nil {
		return true
	}
	// The server's name is ours, so it needs no verification.
	return hostMatches(it.Server, r.Server, r.ServerName, r.ServerName != "", false)
}

func clientsMatch(p *cfgfmt.ClientPattern, r *Request) bool {
	for i := range p.Items {
		if clientMatches(&p.Items[i], r) {
			return p.Except == nil || !clientsMatch(p.Except, r)
		}
	}
	return false
}

func clientMatches(it *cfgfmt.ClientItem, r *Request) bool {
	switch it.User {
	case "":
	case "ALL":
	case "KNOWN":
		if r.User == "" {
			return false
		}
	case "UNKNOWN":
		if r.User != "" {
			return false
		}
	default:
		if it.User != r.User {
			return false
		}
	}
	spoofed := r.ClientName != "" && !r.NameVerified
	return hostMatches(&it.Host, r.Client, r.ClientName, r.ClientName != "" && r.NameVerified, spoofed)
}

// matches reports whether a host with address addr and name name matches.
// Following tcpd, a name that did not verify is not used at all: it would
// let anyone who controls their reverse DNS claim to be inside
// ".siroe.com". spoofed says such a name was seen.
func hostMatches(h *cfgfmt.HostPattern, addr netip.Addr, name string, nameOK, spoofed bool) bool {
	a := addr.Unmap().WithZone("")
	name = strings.TrimSuffix(name, ".")
	switch h.Kind {
	case cfgfmt.HostAll:
		return true
	case cfgfmt.HostLocal:
		return nameOK && name != "" && !strings.Contains(name, ".")
	case cfgfmt.HostKnown:
		return nameOK && a.IsValid()
	case cfgfmt.HostUnknown:
		return (!nameOK && !spoofed) || !a.IsValid()
	case cfgfmt.HostDNSSpoofer:
		return spoofed
	case cfgfmt.HostSuffix:
		suf := strings.TrimSuffix(h.Text, ".")
		return nameOK && len(name) > len(suf) && strings.EqualFold(name[len(name)-len(suf):], suf)
	case cfgfmt.HostName:
		return nameOK && strings.EqualFold(name, strings.TrimSuffix(h.Text, "."))
	case cfgfmt.HostPrefix, cfgfmt.HostNet, cfgfmt.HostAddr:
		return a.IsValid() && h.Net.Contains(a)
	}
	return false // cfgfmt.HostNetgroup
}

// NeedsDNS reports whether evaluating f needs the client's host
// name (and its forward verification): some client pattern is a name, a
// domain suffix, LOCAL, KNOWN, UNKNOWN or DNSSPOOFER. The MMP then looks
// the name up even with ClientLookup off (docs/reference.md §3.6).
func NeedsDNS(f *cfgfmt.Filter) bool {
	if f == nil {
		return false
	}
	for _, r := range f.Rules {
		for p := &r.Clients; p != nil; p = p.Except {
			for _, it := range p.Items {
				if needsName(&it.Host) {
					return true
				}
			}
		}
	}
	return false
}

// NeedsServerName reports whether some service@hostSpec pattern needs the
// host name of the local address (Request.ServerName).
func NeedsServerName(f *cfgfmt.Filter) bool {
	if f == nil {
		return false
	}
	for _, r := range f.Rules {
		for p := &r.Services; p != nil; p = p.Except {
			for _, it := range p.Items {
				if it.Server != nil && needsName(it.Server) {
					return true
				}
			}
		}
	}
	return false
}

func needsName(h *cfgfmt.HostPattern) bool {
	switch h.Kind {
	case cfgfmt.HostLocal, cfgfmt.HostKnown, cfgfmt.HostUnknown, cfgfmt.HostDNSSpoofer, cfgfmt.HostSuffix, cfgfmt.HostName:
		return true
	}
	return false
}

// AllowsExplicitly says whether an allow rule of f that names service
// itself (not ALL, nor its SSL name) admits r. Deny rules and other allow
// rules play no part: it answers "did the administrator open this service
// to this client on purpose", which XQUERYAUTH asks before it answers a
// host that is not local.
func AllowsExplicitly(f *cfgfmt.Filter, service string, r Request) bool {
	if f == nil {
		return false
	}
	var rules []cfgfmt.Rule
	for _, rule := range f.Rules {
		if !rule.Allow {
			continue
		}
		var items []cfgfmt.ServiceItem
		for _, it := range rule.Services.Items {
			if it.Name == service {
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			continue
		}
		rule.Services = cfgfmt.ServicePattern{Items: items, Except: rule.Services.Except}
		rules = append(rules, rule)
	}
	if len(rules) == 0 {
		return false
	}
	// Allow rules only: a filter of nothing but allow rules refuses what
	// none of them matches.
	r.Service = service
	return Allows(&cfgfmt.Filter{Rules: rules}, r)
}
