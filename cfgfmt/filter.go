package cfgfmt

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Filter is a parsed access filter: the value of TCPAccess and of the LDAP
// attributes mailDomainAllowedServiceAccess and mailAllowedServiceAccess
// (docs/reference.md §3.6), which share a TCP-wrapper-like syntax:
//
//	value       = rule *( "$" rule )
//	rule        = [ "+" | "-" ] serviceList ":" clientList
//	serviceList = service *( ("," | SP) service ) [ "EXCEPT" serviceList ]
//	service     = name [ "@" hostSpec ]        ; hostSpec: the local (server) side
//	clientList  = client *( ("," | SP) client ) [ "EXCEPT" clientList ]
//	client      = [ user "@" ] hostSpec
//
// The zero Filter has no rules and allows everything.
type Filter struct {
	Rules []Rule
}

// Rule is one "+services:clients" or "-services:clients" rule.
type Rule struct {
	Allow    bool // "+": an allow filter; "-": a deny filter
	Services ServicePattern
	Clients  ClientPattern
	// Implicit marks a rule written without "+" or "-", in the style of a
	// tcpd hosts.allow line. It is treated as an allow rule and ParseFilter
	// returns a warning for it (docs/reference.md §3.6 decision).
	Implicit bool
}

// ServicePattern is a service list with an optional EXCEPT part: it
// matches when one of Items does and Except (if any) does not. EXCEPT
// nests to the right, so a EXCEPT b EXCEPT c is a EXCEPT (b EXCEPT c).
type ServicePattern struct {
	Items  []ServiceItem
	Except *ServicePattern // nil: no EXCEPT
}

// ServiceItem is one service of a service list.
type ServiceItem struct {
	// Name is the lower-cased service name: imap, imaps, pop, pops, smtp,
	// smtps, http, smime, or "all" for "*" and "ALL". The tcpd daemon names
	// imapd, popd and smtpd are stored as imap, pop and smtp.
	Name string
	// Server restricts the item to connections to a local address or name
	// (service@hostSpec); nil matches any.
	Server *HostPattern
}

// ClientPattern is a client list with an optional EXCEPT part, nesting
// like ServicePattern.
type ClientPattern struct {
	Items  []ClientItem
	Except *ClientPattern // nil: no EXCEPT
}

// ClientItem is one client of a client list.
type ClientItem struct {
	// User is the user part of user@hostSpec, "" when there is none. The
	// wildcards are stored as "ALL" (for ALL and *), "KNOWN" and "UNKNOWN".
	User string
	Host HostPattern
}

// HostKind says how a HostPattern matches.
type HostKind int

// The kinds of host pattern (docs/reference.md §3.6, tcpd hosts_access(5)).
const (
	HostAll        HostKind = iota // ALL or *: everything
	HostLocal                      // LOCAL: a (verified) host name without a dot
	HostKnown                      // KNOWN: name and address both known
	HostUnknown                    // UNKNOWN: name or address unknown
	HostDNSSpoofer                 // DNSSPOOFER (or tcpd's PARANOID): the name does not map back to the address
	HostSuffix                     // ".siroe.com": names ending in it
	HostPrefix                     // "192.168.": IPv4 addresses starting with it
	HostNet                        // n.n.n.n/m.m.m.m, n.n.n.n/len, v6addr/len or [v6addr]/len
	HostAddr                       // one IP address
	HostName                       // one host name, compared case-insensitively
	HostNetgroup                   // "@group": NIS netgroup, never matches
)

var hostKindNames = [...]string{"All", "Local", "Known", "Unknown", "DNSSpoofer", "Suffix", "Prefix", "Net", "Addr", "Name", "Netgroup"}

func (k HostKind) String() string {
	if k >= 0 && int(k) < len(hostKindNames) {
		return hostKindNames[k]
	}
	return fmt.Sprintf("HostKind(%d)", int(k))
}

// HostPattern is one host specification.
type HostPattern struct {
	Kind HostKind
	// Text is the pattern as written; String writes it back.
	Text string
	// Net holds the addresses matched by HostPrefix, HostNet and HostAddr
	// patterns, host bits cleared; it is the zero Prefix for other kinds.
	Net netip.Prefix
}

// ParseFilter parses an access filter. Rules are separated by "$"; blank
// rules (as in a trailing "$") are skipped. List items are separated by
// commas and/or blanks, and the keyword EXCEPT is recognised in any case.
// Warnings describe accepted but doubtful constructs — a rule without
// "+"/"-", an @netgroup that can never match, a network written with host
// bits — and are for the caller to log. A blank value gives the empty
// Filter, which allows everything.
func ParseFilter(s string) (*Filter, []string, error) {
	f := &Filter{}
	var warns []string
	for i, text := range strings.Split(s, "$") {
		text = trimBlanks(text)
		if text == "" {
			continue
		}
		r, w, err := parseRule(text)
		for _, m := range w {
			warns = append(warns, fmt.Sprintf("rule %d %q: %s", i+1, text, m))
		}
		if err != nil {
			return nil, warns, fmt.Errorf("rule %d %q: %w", i+1, text, err)
		}
		f.Rules = append(f.Rules, r)
	}
	return f, warns, nil
}

// parseRule parses one rule; text is trimmed and not empty.
func parseRule(text string) (Rule, []string, error) {
	var r Rule
	var warns []string
	switch text[0] {
	case '+':
		r.Allow = true
		text = text[1:]
	case '-':
		text = text[1:]
	default:
		r.Allow, r.Implicit = true, true
		warns = append(warns, `no leading "+" or "-"; treated as an allow rule`)
	}
	colon := indexOutsideBrackets(text, ':')
	if colon < 0 {
		return Rule{}, warns, errors.New(`missing ":" between services and clients`)
	}
	var err error
	var w []string
	r.Services, w, err = parseServicePattern(strings.FieldsFunc(text[:colon], isListSep))
	warns = append(warns, w...)
	if err != nil {
		return Rule{}, warns, err
	}
	r.Clients, w, err = parseClientPattern(strings.FieldsFunc(text[colon+1:], isListSep))
	warns = append(warns, w...)
	if err != nil {
		return Rule{}, warns, err
	}
	return r, warns, nil
}

// indexOutsideBrackets returns the index of the first c in s that is not
// inside [...], so that service@[::1]:clients splits after the "]".
func indexOutsideBrackets(s string, c byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case c:
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitExcept splits a token list at its first EXCEPT keyword. rest is nil
// when there is none. An empty list on either side of EXCEPT is an error.
func splitExcept(toks []string, what string) (items, rest []string, err error) {
	for i, t := range toks {
		if strings.EqualFold(t, "EXCEPT") {
			if i == 0 {
				return nil, nil, fmt.Errorf("EXCEPT without %s before it", what)
			}
			if i == len(toks)-1 {
				return nil, nil, fmt.Errorf("EXCEPT without %s after it", what)
			}
			return toks[:i], toks[i+1:], nil
		}
	}
	if len(toks) == 0 {
		return nil, nil, fmt.Errorf("missing %s", what)
	}
	return toks, nil, nil
}

func parseServicePattern(toks []string) (ServicePattern, []string, error) {
	items, rest, err := splitExcept(toks, "services")
	if err != nil {
		return ServicePattern{}, nil, err
	}
	var p ServicePattern
	var warns []string
	for _, t := range items {
		it, w, err := parseServiceItem(t)
		warns = append(warns, w...)
		if err != nil {
			return ServicePattern{}, warns, err
		}
		p.Items = append(p.Items, it)
	}
	if rest != nil {
		ex, w, err := parseServicePattern(rest)
		warns = append(warns, w...)
		if err != nil {
			return ServicePattern{}, warns, err
		}
		p.Except = &ex
	}
	return p, warns, nil
}

// serviceNames maps every accepted service spelling to its stored name.
var serviceNames = map[string]string{
	"imap": "imap", "imaps": "imaps", "pop": "pop", "pops": "pops",
	"smtp": "smtp", "smtps": "smtps", "http": "http", "smime": "smime",
	"*": "all", "all": "all",
	// tcpd daemon names, so that a hosts.allow line can be pasted in.
	"imapd": "imap", "popd": "pop", "smtpd": "smtp",
}

func parseServiceItem(t string) (ServiceItem, []string, error) {
	name, server, hasServer := strings.Cut(t, "@")
	n, ok := serviceNames[strings.ToLower(name)]
	if !ok {
		if name == "" {
			return ServiceItem{}, nil, fmt.Errorf("missing service name in %q", t)
		}
		return ServiceItem{}, nil, fmt.Errorf("unknown service %q: want imap, imaps, pop, pops, smtp, smtps, http, smime or ALL", name)
	}
	it := ServiceItem{Name: n}
	var warns []string
	if hasServer {
		if server == "" {
			return ServiceItem{}, nil, fmt.Errorf("missing server address after %q (an IPv6 address goes in brackets: imap@[::1])", name+"@")
		}
		h, w, err := parseHostPattern(server)
		if err != nil {
			return ServiceItem{}, nil, fmt.Errorf("service %q: %w", t, err)
		}
		warns = append(warns, w...)
		it.Server = &h
	}
	return it, warns, nil
}

func parseClientPattern(toks []string) (ClientPattern, []string, error) {
	items, rest, err := splitExcept(toks, "clients")
	if err != nil {
		return ClientPattern{}, nil, err
	}
	var p ClientPattern
	var warns []string
	for _, t := range items {
		it, w, err := parseClientItem(t)
		warns = append(warns, w...)
		if err != nil {
			return ClientPattern{}, warns, err
		}
		p.Items = append(p.Items, it)
	}
	if rest != nil {
		ex, w, err := parseClientPattern(rest)
		warns = append(warns, w...)
		if err != nil {
			return ClientPattern{}, warns, err
		}
		p.Except = &ex
	}
	return p, warns, nil
}

func parseClientItem(t string) (ClientItem, []string, error) {
	var it ClientItem
	// "@group" is a netgroup, not an empty user; "user@host" has a user.
	if at := strings.IndexByte(t, '@'); at > 0 {
		user := t[:at]
		switch strings.ToUpper(user) {
		case "ALL", "*":
			user = "ALL"
		case "KNOWN", "UNKNOWN":
			user = strings.ToUpper(user)
		}
		it.User = user
		t = t[at+1:]
		if t == "" {
			return ClientItem{}, nil, fmt.Errorf("missing host after %q", user+"@")
		}
	}
	h, w, err := parseHostPattern(t)
	if err != nil {
		return ClientItem{}, nil, err
	}
	it.Host = h
	return it, w, nil
}

// parseHostPattern classifies one host specification.
func parseHostPattern(t string) (HostPattern, []string, error) {
	h := HostPattern{Text: t}
	switch strings.ToUpper(t) {
	case "ALL", "*":
		h.Kind = HostAll
		return h, nil, nil
	case "LOCAL":
		h.Kind = HostLocal
		return h, nil, nil
	case "KNOWN":
		h.Kind = HostKnown
		return h, nil, nil
	case "UNKNOWN":
		h.Kind = HostUnknown
		return h, nil, nil
	case "DNSSPOOFER", "PARANOID":
		h.Kind = HostDNSSpoofer
		return h, nil, nil
	}
	switch {
	case t[0] == '@':
		if len(t) == 1 || strings.IndexByte(t[1:], '@') >= 0 {
			return HostPattern{}, nil, fmt.Errorf("bad netgroup %q", t)
		}
		h.Kind = HostNetgroup
		return h, []string{fmt.Sprintf("netgroup %s is not supported and never matches", t)}, nil
	case strings.ContainsAny(t, "*?"):
		return HostPattern{}, nil, fmt.Errorf("bad host pattern %q: wildcards are only ALL or * on their own", t)
	case t[0] == '.':
		if !isHostName(t[1:]) {
			return HostPattern{}, nil, fmt.Errorf("bad domain suffix %q", t)
		}
		h.Kind = HostSuffix
		return h, nil, nil
	case strings.IndexByte(t, '/') >= 0:
		addr, mask, _ := strings.Cut(t, "/")
		p, hostBits, err := parseNet(addr, mask)
		if err != nil {
			return HostPattern{}, nil, fmt.Errorf("bad network %q: %w", t, err)
		}
		h.Kind, h.Net = HostNet, p
		var warns []string
		if hostBits {
			// tcpd compares (addr & mask) with the network as written,
			// so such a pattern never matched there.
			warns = append(warns, fmt.Sprintf("network %s has host bits set; matching %s", t, p))
		}
		return h, warns, nil
	case t[len(t)-1] == '.':
		p, ok := parseAddrPrefix(t)
		if !ok {
			return HostPattern{}, nil, fmt.Errorf("bad address prefix %q: a pattern ending in \".\" is the start of an IPv4 address, as in \"192.168.\"", t)
		}
		h.Kind, h.Net = HostPrefix, p
		return h, nil, nil
	}
	a := t
	if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") {
		a = a[1 : len(a)-1]
	}
	if ip, err := parseAddrNoZone(a); err == nil {
		h.Kind = HostAddr
		h.Net = normPrefix(netip.PrefixFrom(ip, ip.BitLen()))
		return h, nil, nil
	}
	if strings.ContainsAny(t, ":[]%") || strings.Trim(t, "0123456789.") == "" {
		return HostPattern{}, nil, fmt.Errorf("bad address %q", t)
	}
	if !isHostName(t) {
		return HostPattern{}, nil, fmt.Errorf("bad host pattern %q", t)
	}
	h.Kind = HostName
	return h, nil, nil
}

// parseAddrPrefix parses an IPv4 address prefix of one to three octets
// followed by a dot ("10.", "192.168.") as a network.
func parseAddrPrefix(t string) (netip.Prefix, bool) {
	parts := strings.Split(t[:len(t)-1], ".")
	if len(parts) > 3 {
		return netip.Prefix{}, false
	}
	var b [4]byte
	for i, p := range parts {
		if !allDigits(p) || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return netip.Prefix{}, false
		}
		v := 0
		for _, c := range p {
			v = v*10 + int(c-'0')
		}
		if v > 255 {
			return netip.Prefix{}, false
		}
		b[i] = byte(v)
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), 8*len(parts)), true
}

// String writes the filter in the syntax ParseFilter reads.
func (f *Filter) String() string {
	s := make([]string, len(f.Rules))
	for i, r := range f.Rules {
		s[i] = r.String()
	}
	return strings.Join(s, "$")
}

func (r Rule) String() string {
	sign := "-"
	switch {
	case r.Implicit:
		sign = ""
	case r.Allow:
		sign = "+"
	}
	return sign + r.Services.String() + ":" + r.Clients.String()
}

func (p ServicePattern) String() string {
	s := make([]string, len(p.Items))
	for i, it := range p.Items {
		s[i] = it.String()
	}
	out := strings.Join(s, ",")
	if p.Except != nil {
		out += " EXCEPT " + p.Except.String()
	}
	return out
}

func (it ServiceItem) String() string {
	if it.Server != nil {
		return it.Name + "@" + it.Server.Text
	}
	return it.Name
}

func (p ClientPattern) String() string {
	s := make([]string, len(p.Items))
	for i, it := range p.Items {
		s[i] = it.String()
	}
	out := strings.Join(s, ",")
	if p.Except != nil {
		out += " EXCEPT " + p.Except.String()
	}
	return out
}

func (it ClientItem) String() string {
	if it.User != "" {
		return it.User + "@" + it.Host.Text
	}
	return it.Host.Text
}

func (h HostPattern) String() string { return h.Text }
