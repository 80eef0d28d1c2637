package access

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/openmmp/mmp/cfgfmt"
)

// Request builders for the filter table. A client is given by address and
// reverse-DNS name; names are verified unless the builder says otherwise.
func rq(svc, client, name string) Request {
	r := Request{Service: svc, ClientName: name, NameVerified: name != "",
		Server: netip.MustParseAddr("10.0.0.5"), ServerName: "mmp1.siroe.com"}
	if client != "" {
		r.Client = netip.MustParseAddr(client)
	}
	return r
}

func tlsRq(svc, client, name string) Request {
	r := rq(svc, client, name)
	r.TLS = true
	return r
}

// spoofRq is a client whose reverse name does not map back to its address.
func spoofRq(svc, client, name string) Request {
	r := rq(svc, client, name)
	r.NameVerified = false
	return r
}

func serverRq(svc, client, server, serverName string) Request {
	r := rq(svc, client, "")
	r.Server = netip.MustParseAddr(server)
	r.ServerName = serverName
	return r
}

func userRq(svc, client, user string) Request {
	r := rq(svc, client, "")
	r.User = user
	return r
}

const (
	lan     = "192.168.1.20"
	outside = "203.0.113.9"
)

type filterCase struct {
	r    Request
	want bool
}

var filterTests = []struct {
	filter   string
	warns    []string
	needsDNS bool
	cases    []filterCase
}{
	// No rules: everything allowed.
	{filter: "", cases: []filterCase{{rq("imap", outside, ""), true}, {rq("smtp", "", ""), true}}},
	{filter: " $ $", cases: []filterCase{{rq("pop", outside, ""), true}}},

	// docs/reference.md §3.6 example 1: IMAP only from the LAN, other services open.
	{filter: "-imap:ALL EXCEPT 192.168.1.0/255.255.255.0", cases: []filterCase{
		{rq("imap", lan, ""), true},
		{rq("imap", outside, ""), false},
		{tlsRq("imap", outside, ""), false}, // a deny on imap covers SSL IMAP too
		{tlsRq("imap", lan, ""), true},
		{rq("pop", outside, ""), true},
		{rq("smtp", outside, ""), true},
	}},
	// docs/reference.md §3.6 example 2.
	{filter: "-smtp:.spammers.example$-ALL:DNSSPOOFER", needsDNS: true, cases: []filterCase{
		{rq("smtp", outside, "mx1.spammers.example"), false},
		{rq("smtp", outside, "MX1.Spammers.Example."), false},
		{rq("smtp", outside, "spammers.example"), true}, // the suffix includes the dot
		{rq("smtp", outside, "spammers.example.org"), true},
		{rq("smtp", outside, ""), true},
		{spoofRq("smtp", outside, "mx1.spammers.example"), false}, // by the second rule
		{rq("imap", outside, "mx1.spammers.example"), true},
		{spoofRq("imap", outside, "www.siroe.com"), false},
		{rq("imap", outside, "www.siroe.com"), true},
	}},
	// docs/reference.md §3.6 example 3: SSL from anywhere, cleartext from the LAN.
	{filter: "+imaps,pops:ALL$+imap,pop:192.168.1.0/255.255.255.0$-ALL:ALL", cases: []filterCase{
		{tlsRq("imap", outside, ""), true},
		{tlsRq("pop", outside, ""), true},
		{rq("imap", outside, ""), false},
		{rq("pop", outside, ""), false},
		{rq("imap", lan, ""), true},
		{rq("pop", lan, ""), true},
		{rq("smtp", lan, ""), false},
		{tlsRq("smtp", outside, ""), false},
	}},
	// docs/reference.md §3.6 user examples: allow-only implicitly denies the rest...
	{filter: "+imap:ALL$+pop:ALL$+http:ALL", cases: []filterCase{
		{rq("imap", outside, ""), true},
		{tlsRq("pop", outside, ""), true},
		{rq("smtp", outside, ""), false},
	}},
	// ...deny-only leaves the rest open...
	{filter: "-imap:*$-pop:*$-http:*", cases: []filterCase{
		{rq("imap", lan, ""), false},
		{tlsRq("pop", lan, ""), false},
		{rq("smtp", lan, ""), true},
	}},
	// ...and a whole domain blocked except from one host.
	{filter: "-ALL:ALL EXCEPT server1.sesta.com", needsDNS: true, cases: []filterCase{
		{rq("imap", outside, "server1.sesta.com"), true},
		{rq("pop", outside, "SERVER1.sesta.com."), true},
		{spoofRq("imap", outside, "server1.sesta.com"), false},
		{rq("imap", outside, "server2.sesta.com"), false},
		{rq("imap", outside, ""), false},
	}},
	// The SSL-only user of docs/reference.md §3.6: the back-end sees the MMP (10.0.0.5)
	// using plain imap.
	{filter: "+imaps,pops:*$+imap,pop:10.0.0.5", cases: []filterCase{
		{tlsRq("imap", outside, ""), true},
		{rq("imap", outside, ""), false},
		{rq("imap", "10.0.0.5", ""), true},
		{rq("smtp", "10.0.0.5", ""), false},
	}},
	// TLS for SMTP: the SSL name allowed first, so only cleartext is refused.
	{filter: "+smtps:ALL$-smtp:ALL", cases: []filterCase{
		{tlsRq("smtp", outside, ""), true},
		{rq("smtp", outside, ""), false},
		{rq("imap", outside, ""), true},
	}},
	{filter: "-imaps:ALL", cases: []filterCase{
		{tlsRq("imap", outside, ""), false},
		{rq("imap", outside, ""), true},
		{tlsRq("pop", outside, ""), true},
	}},

	// EXCEPT in the service list.
	{filter: "-ALL EXCEPT pop: contractor.siroe1.com", needsDNS: true, cases: []filterCase{
		{rq("imap", outside, "contractor.siroe1.com"), false},
		{rq("pop", outside, "contractor.siroe1.com"), true},
		{tlsRq("pop", outside, "contractor.siroe1.com"), true},
		{rq("imap", outside, "other.siroe1.com"), true},
	}},
	// Nested to the right: ALL EXCEPT (imap EXCEPT imaps) = everything but cleartext IMAP.
	{filter: "-ALL EXCEPT imap EXCEPT imaps:ALL", cases: []filterCase{
		{rq("imap", outside, ""), true},
		{tlsRq("imap", outside, ""), false},
		{rq("pop", outside, ""), false},
	}},
	// EXCEPT in the client list, nested: 192.168/16 allowed but not its 66 subnet.
	{filter: "-imap:ALL EXCEPT 192.168.0.0/16 EXCEPT 192.168.66.0/24", cases: []filterCase{
		{rq("imap", "192.168.1.1", ""), true},
		{rq("imap", "192.168.66.1", ""), false},
		{rq("imap", outside, ""), false},
	}},
	{filter: "-IMAP:all except 192.168.1.0/24,10.0.0.0/8", cases: []filterCase{
		{rq("imap", lan, ""), true},
		{rq("imap", "10.9.9.9", ""), true},
		{rq("imap", outside, ""), false},
	}},

	// Client wildcards.
	{filter: "-imap:LOCAL", needsDNS: true, cases: []filterCase{
		{rq("imap", lan, "intranet"), false},
		{rq("imap", lan, "intranet."), false},
		{rq("imap", lan, "pc.siroe.com"), true},
		{rq("imap", lan, ""), true},
		{spoofRq("imap", lan, "intranet"), true},
	}},
	{filter: "-imap:KNOWN", needsDNS: true, cases: []filterCase{
		{rq("imap", lan, "pc.siroe.com"), false},
		{rq("imap", lan, ""), true},
		{spoofRq("imap", lan, "pc.siroe.com"), true},
		{rq("imap", "", "pc.siroe.com"), true}, // address unknown
	}},
	{filter: "-imap:UNKNOWN", needsDNS: true, cases: []filterCase{
		{rq("imap", lan, ""), false},
		{rq("imap", "", "pc.siroe.com"), false},
		{rq("imap", lan, "pc.siroe.com"), true},
		{spoofRq("imap", lan, "pc.siroe.com"), true}, // a spoofed name is not an unknown one (tcpd)
	}},
	{filter: "-imap:PARANOID", needsDNS: true, cases: []filterCase{
		{spoofRq("imap", lan, "pc.siroe.com"), false},
		{rq("imap", lan, "pc.siroe.com"), true},
		{rq("imap", lan, ""), true},
	}},
	{filter: "-imap:all", cases: []filterCase{{rq("imap", "", ""), false}}},

	// Address prefix, networks, single addresses.
	{filter: "-imap:192.168.", cases: []filterCase{
		{rq("imap", "192.168.5.5", ""), false},
		{rq("imap", "::ffff:192.168.5.5", ""), false},
		{rq("imap", "192.169.0.1", ""), true},
		{rq("imap", "10.192.168.1", ""), true},
		{rq("imap", "2001:db8::1", ""), true},
		{rq("imap", "", ""), true},
	}},
	{filter: "-imap:10.", cases: []filterCase{
		{rq("imap", "10.1.2.3", ""), false},
		{rq("imap", "100.1.2.3", ""), true},
	}},
	{filter: "-imap:10.0.0.0/8 172.16.0.0/255.240.0.0", cases: []filterCase{
		{rq("imap", "10.200.0.1", ""), false},
		{rq("imap", "172.31.255.255", ""), false},
		{rq("imap", "172.32.0.0", ""), true},
		{rq("imap", "11.0.0.1", ""), true},
	}},
	{filter: "-imap:::ffff:10.0.0.0/104", cases: []filterCase{{rq("imap", "10.1.1.1", ""), false}, {rq("imap", "11.1.1.1", ""), true}}},
	{filter: "-imap:192.168.1.5/24", warns: []string{`rule 1 "-imap:192.168.1.5/24": network 192.168.1.5/24 has host bits set; matching 192.168.1.0/24`},
		cases: []filterCase{{rq("imap", "192.168.1.200", ""), false}, {rq("imap", "192.168.2.1", ""), true}}},
	{filter: "-imap:2001:db8::/32,[2001:db9::]/32", cases: []filterCase{
		{rq("imap", "2001:db8:ffff::1", ""), false},
		{rq("imap", "2001:db9::1", ""), false},
		{rq("imap", "2001:dba::1", ""), true},
		{rq("imap", "10.0.0.1", ""), true},
	}},
	{filter: "-imap:10.0.0.1 ::1 [2001:db8::9]", cases: []filterCase{
		{rq("imap", "10.0.0.1", ""), false},
		{rq("imap", "::ffff:10.0.0.1", ""), false},
		{rq("imap", "::1", ""), false},
		{rq("imap", "2001:db8::9", ""), false},
		{rq("imap", "10.0.0.2", ""), true},
	}},
	{filter: "-imap:badhost.siroe.com, .evil.example,.bad.example.", needsDNS: true, cases: []filterCase{
		{rq("imap", outside, "BadHost.Siroe.com"), false},
		{rq("imap", outside, "x.bad.example."), false},
		{rq("imap", outside, "bad.example"), true},
		{rq("imap", outside, "a.b.evil.example"), false},
		{rq("imap", outside, "goodhost.siroe.com"), true},
		{spoofRq("imap", outside, "badhost.siroe.com"), true}, // an unverified name matches no name
	}},

	// service@host: the local side.
	{filter: "-imap@10.0.0.5:ALL", cases: []filterCase{
		{serverRq("imap", outside, "10.0.0.5", ""), false},
		{serverRq("imap", outside, "::ffff:10.0.0.5", ""), false},
		{serverRq("imap", outside, "10.0.0.6", ""), true},
		{serverRq("pop", outside, "10.0.0.5", ""), true},
	}},
	{filter: "-imap@[::1],pop@192.168.10.:ALL", cases: []filterCase{
		{serverRq("imap", outside, "::1", ""), false},
		{serverRq("imap", outside, "192.168.10.5", ""), true},
		{serverRq("pop", outside, "192.168.10.5", ""), false},
	}},
	{filter: "-ALL@mmp2.siroe.com:ALL$-imap@.partner.example:ALL", cases: []filterCase{
		{serverRq("smtp", outside, "10.0.0.6", "MMP2.siroe.com"), false},
		{serverRq("smtp", outside, "10.0.0.6", "mmp1.siroe.com"), true},
		{serverRq("imap", outside, "10.0.0.7", "mmp.partner.example"), false},
		{serverRq("imap", outside, "10.0.0.7", ""), true},
	}},
	{filter: "-ALL@10.0.0.0/24 EXCEPT imap@10.0.0.5:ALL", cases: []filterCase{
		{serverRq("pop", outside, "10.0.0.5", ""), false},
		{serverRq("imap", outside, "10.0.0.5", ""), true},
		{serverRq("imap", outside, "10.0.0.6", ""), false},
		{serverRq("imap", outside, "10.0.1.6", ""), true},
	}},

	// user@host (the identd user in tcpd).
	{filter: "-imap:joe@ALL, KNOWN@10.0.0.0/8", cases: []filterCase{
		{userRq("imap", outside, "joe"), false},
		{userRq("imap", outside, "ann"), true},
		{userRq("imap", outside, ""), true},
		{userRq("imap", "10.1.1.1", "ann"), false},
		{userRq("imap", "10.1.1.1", ""), true},
	}},
	{filter: "-imap:UNKNOWN@ALL", cases: []filterCase{
		{userRq("imap", outside, ""), false},
		{userRq("imap", outside, "ann"), true},
	}},
	{filter: "-imap:*@192.168.", cases: []filterCase{
		{userRq("imap", "192.168.3.3", ""), false},
		{userRq("imap", "192.168.3.3", "x"), false},
		{userRq("imap", outside, "x"), true},
	}},

	// Rules without a sign are allow rules (with a warning); tcpd names.
	{filter: "imap:192.168.1.0/24", warns: []string{`rule 1 "imap:192.168.1.0/24": no leading "+" or "-"; treated as an allow rule`},
		cases: []filterCase{
			{rq("imap", lan, ""), true},
			{rq("imap", outside, ""), false}, // allow-only
		}},
	{filter: "imapd: ALL EXCEPT 192.168.1.0/255.255.255.0", warns: []string{`rule 1 "imapd: ALL EXCEPT 192.168.1.0/255.255.255.0": no leading "+" or "-"; treated as an allow rule`},
		cases: []filterCase{
			{rq("imap", outside, ""), true},
			{rq("imap", lan, ""), false}, // the hosts.deny line pasted without "-" means the opposite
		}},
	{filter: "-popd,smtpd:ALL", cases: []filterCase{
		{rq("pop", outside, ""), false},
		{rq("smtp", outside, ""), false},
		{rq("imap", outside, ""), true},
	}},

	// Evaluation order: allow rules first, whatever their position.
	{filter: "-imap:10.0.0.1$+imap:10.0.0.0/8", cases: []filterCase{
		{rq("imap", "10.0.0.1", ""), true},
		{rq("imap", "10.1.1.1", ""), true},
		{rq("imap", outside, ""), true}, // no match, deny rules exist: granted
		{rq("pop", outside, ""), true},
	}},
	{filter: "+pop:ALL$-imap:ALL", cases: []filterCase{
		{rq("pop", outside, ""), true},
		{rq("imap", outside, ""), false},
		{rq("smtp", outside, ""), true},
	}},

	// A netgroup never matches.
	{filter: "-imap:@trusted", warns: []string{`rule 1 "-imap:@trusted": netgroup @trusted is not supported and never matches`},
		cases: []filterCase{{rq("imap", lan, "pc.siroe.com"), true}}},
	{filter: "+imap:@trusted$+imap:lan.siroe.com", needsDNS: true,
		warns: []string{`rule 1 "+imap:@trusted": netgroup @trusted is not supported and never matches`},
		cases: []filterCase{{rq("imap", lan, "lan.siroe.com"), true}, {rq("imap", lan, ""), false}}},

	// A DNS need hidden in an EXCEPT part still counts.
	{filter: "-imap:ALL EXCEPT 10.0.0.0/8 EXCEPT .guest.siroe.com", needsDNS: true, cases: []filterCase{
		{rq("imap", "10.0.0.9", "pc.guest.siroe.com"), false},
		{rq("imap", "10.0.0.9", "pc.siroe.com"), true},
	}},
}

func TestFilterAllows(t *testing.T) {
	for _, tt := range filterTests {
		f, warns, err := cfgfmt.ParseFilter(tt.filter)
		if err != nil {
			t.Errorf("ParseFilter(%q) error = %v", tt.filter, err)
			continue
		}
		if !reflect.DeepEqual(warns, tt.warns) {
			t.Errorf("ParseFilter(%q) warnings = %q, want %q", tt.filter, warns, tt.warns)
		}
		if got := NeedsDNS(f); got != tt.needsDNS {
			t.Errorf("NeedsDNS(ParseFilter(%q)) = %v, want %v", tt.filter, got, tt.needsDNS)
		}
		for _, c := range tt.cases {
			if got := Allows(f, c.r); got != c.want {
				t.Errorf("Allows(ParseFilter(%q), %s) = %v, want %v", tt.filter, fmtRequest(c.r), got, c.want)
			}
		}
		// The written form must parse to the same filter.
		again, _, err := cfgfmt.ParseFilter(f.String())
		if err != nil || !reflect.DeepEqual(again, f) {
			t.Errorf("ParseFilter(%q) = %+v, %v, want %+v (from %q)", f.String(), again, err, f, tt.filter)
		}
	}
}

func fmtRequest(r Request) string {
	s := r.Service
	if r.TLS {
		s += "+tls"
	}
	s += " from " + r.Client.String()
	if r.ClientName != "" {
		s += " (" + r.ClientName
		if !r.NameVerified {
			s += ", unverified"
		}
		s += ")"
	}
	if r.User != "" {
		s += " user " + r.User
	}
	return s + fmt.Sprintf(" to %s (%s)", r.Server, r.ServerName)
}

func TestNilFilter(t *testing.T) {
	var f *cfgfmt.Filter
	if !Allows(f, rq("imap", outside, "")) || NeedsDNS(f) || NeedsServerName(f) {
		t.Errorf("nil *Filter: Allows = false or Needs* = true, want an open filter")
	}
}

func TestFilterNeedsServerName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"-imap:ALL", false},
		{"-imap@10.0.0.5:badhost.example", false},
		{"-imap@mmp1.siroe.com:ALL", true},
		{"-ALL EXCEPT imap@.siroe.com:ALL", true},
	}
	for _, tt := range tests {
		f, _, err := cfgfmt.ParseFilter(tt.in)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tt.in, err)
		}
		if got := NeedsServerName(f); got != tt.want {
			t.Errorf("NeedsServerName(ParseFilter(%q)) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// fuzzRequests are evaluated against every filter that parses, to reach
// the matchers with unusual patterns.
var fuzzRequests = []Request{
	rq("imap", "192.168.1.20", "pc20.siroe.com"),
	tlsRq("pop", "2001:db8::1", ""),
	spoofRq("smtp", "::ffff:10.0.0.1", "local"),
	userRq("imap", "", "joe"),
	{},
}

func FuzzAllows(f *testing.F) {
	for _, tt := range filterTests {
		f.Add(tt.filter)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, _, err := cfgfmt.ParseFilter(s)
		if err != nil {
			return
		}
		NeedsDNS(flt)
		NeedsServerName(flt)
		for _, r := range fuzzRequests {
			Allows(flt, r)
			AllowsExplicitly(flt, "smtp", r)
		}
	})
}
