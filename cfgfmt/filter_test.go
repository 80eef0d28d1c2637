package cfgfmt

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestParseFilterAST(t *testing.T) {
	f, _, err := ParseFilter("+ imaps , pop@10.0.0.5 : joe@.siroe.com 192.168. EXCEPT KNOWN$ smtp EXCEPT smtps:10.0.0.0/255.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	server := HostPattern{Kind: HostAddr, Text: "10.0.0.5", Net: netip.MustParsePrefix("10.0.0.5/32")}
	want := &Filter{Rules: []Rule{
		{
			Allow:    true,
			Services: ServicePattern{Items: []ServiceItem{{Name: "imaps"}, {Name: "pop", Server: &server}}},
			Clients: ClientPattern{
				Items: []ClientItem{
					{User: "joe", Host: HostPattern{Kind: HostSuffix, Text: ".siroe.com"}},
					{Host: HostPattern{Kind: HostPrefix, Text: "192.168.", Net: netip.MustParsePrefix("192.168.0.0/16")}},
				},
				Except: &ClientPattern{Items: []ClientItem{{Host: HostPattern{Kind: HostKnown, Text: "KNOWN"}}}},
			},
		},
		{
			Allow:    true,
			Implicit: true,
			Services: ServicePattern{Items: []ServiceItem{{Name: "smtp"}}, Except: &ServicePattern{Items: []ServiceItem{{Name: "smtps"}}}},
			Clients:  ClientPattern{Items: []ClientItem{{Host: HostPattern{Kind: HostNet, Text: "10.0.0.0/255.0.0.0", Net: netip.MustParsePrefix("10.0.0.0/8")}}}},
		},
	}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("ParseFilter() = %+v, want %+v", f, want)
	}
	wantStr := "+imaps,pop@10.0.0.5:joe@.siroe.com,192.168. EXCEPT KNOWN$smtp EXCEPT smtps:10.0.0.0/255.0.0.0"
	if got := f.String(); got != wantStr {
		t.Errorf("Filter.String() = %q, want %q", got, wantStr)
	}
}

var filterErrorTests = []struct{ in, wantErr string }{
	{"+imap", `rule 1 "+imap": missing ":" between services and clients`},
	{"+imap:ALL$-pop", `rule 2 "-pop": missing ":" between services and clients`},
	{"+:ALL", `rule 1 "+:ALL": missing services`},
	{"+imap:", `rule 1 "+imap:": missing clients`},
	{"+imap: , ", `rule 1 "+imap: ,": missing clients`},
	{"+imsp:ALL", `rule 1 "+imsp:ALL": unknown service "imsp": want imap, imaps, pop, pops, smtp, smtps, http, smime or ALL`},
	{"+@10.0.0.1:ALL", `rule 1 "+@10.0.0.1:ALL": missing service name in "@10.0.0.1"`},
	{"+imap@:ALL", `rule 1 "+imap@:ALL": missing server address after "imap@" (an IPv6 address goes in brackets: imap@[::1])`},
	{"+imap@10.0.0.300:ALL", `rule 1 "+imap@10.0.0.300:ALL": service "imap@10.0.0.300": bad address "10.0.0.300"`},
	{"+imap@::1:ALL", `rule 1 "+imap@::1:ALL": missing server address after "imap@" (an IPv6 address goes in brackets: imap@[::1])`},
	{"-EXCEPT pop:ALL", `rule 1 "-EXCEPT pop:ALL": EXCEPT without services before it`},
	{"-ALL EXCEPT:ALL", `rule 1 "-ALL EXCEPT:ALL": EXCEPT without services after it`},
	{"-imap:EXCEPT 10.0.0.1", `rule 1 "-imap:EXCEPT 10.0.0.1": EXCEPT without clients before it`},
	{"-imap:ALL except", `rule 1 "-imap:ALL except": EXCEPT without clients after it`},
	{"-imap:ALL EXCEPT 10.0.0.0/8 EXCEPT", `rule 1 "-imap:ALL EXCEPT 10.0.0.0/8 EXCEPT": EXCEPT without clients after it`},
	{"-imap:10.0.0.0/255.0.255.0", `rule 1 "-imap:10.0.0.0/255.0.255.0": bad network "10.0.0.0/255.0.255.0": bad mask "255.0.255.0": not contiguous`},
	{"-imap:10.0.0.0/33", `rule 1 "-imap:10.0.0.0/33": bad network "10.0.0.0/33": bad prefix length "33": want 0-32`},
	{"-imap:/8", `rule 1 "-imap:/8": bad network "/8": missing address`},
	{"-imap:2001:db8::/255.255.0.0", `rule 1 "-imap:2001:db8::/255.255.0.0": bad network "2001:db8::/255.255.0.0": bad mask "255.255.0.0": an IPv6 address takes a prefix length`},
	{"-imap:10.0.0.300", `rule 1 "-imap:10.0.0.300": bad address "10.0.0.300"`},
	{"-imap:192.168.1", `rule 1 "-imap:192.168.1": bad address "192.168.1"`},
	{"-imap:2001:db8::zz", `rule 1 "-imap:2001:db8::zz": bad address "2001:db8::zz"`},
	{"-imap:[10.0.0.1", `rule 1 "-imap:[10.0.0.1": bad address "[10.0.0.1"`},
	{"-imap:fe80::1%eth0", `rule 1 "-imap:fe80::1%eth0": bad address "fe80::1%eth0"`},
	{"-imap:1.2.3.4.", `rule 1 "-imap:1.2.3.4.": bad address prefix "1.2.3.4.": a pattern ending in "." is the start of an IPv4 address, as in "192.168."`},
	{"-imap:192.300.", `rule 1 "-imap:192.300.": bad address prefix "192.300.": a pattern ending in "." is the start of an IPv4 address, as in "192.168."`},
	{"-imap:siroe.com.", `rule 1 "-imap:siroe.com.": bad address prefix "siroe.com.": a pattern ending in "." is the start of an IPv4 address, as in "192.168."`},
	{"-imap:.", `rule 1 "-imap:.": bad domain suffix "."`},
	{"-imap:..siroe.com", `rule 1 "-imap:..siroe.com": bad domain suffix "..siroe.com"`},
	{"-imap:*.siroe.com", `rule 1 "-imap:*.siroe.com": bad host pattern "*.siroe.com": wildcards are only ALL or * on their own`},
	{"-imap:host?", `rule 1 "-imap:host?": bad host pattern "host?": wildcards are only ALL or * on their own`},
	{"-imap:bad!host", `rule 1 "-imap:bad!host": bad host pattern "bad!host"`},
	{"-imap:joe@", `rule 1 "-imap:joe@": missing host after "joe@"`},
	{"-imap:@", `rule 1 "-imap:@": bad netgroup "@"`},
	{"-imap:@a@b", `rule 1 "-imap:@a@b": bad netgroup "@a@b"`},
	{"-imap:joe@a@b", `rule 1 "-imap:joe@a@b": bad host pattern "a@b"`},
}

func TestParseFilterErrors(t *testing.T) {
	for _, tt := range filterErrorTests {
		f, _, err := ParseFilter(tt.in)
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("ParseFilter(%q) = %v, %v, want error %q", tt.in, f, err, tt.wantErr)
		}
	}
}

func TestHostKindString(t *testing.T) {
	if got := HostDNSSpoofer.String(); got != "DNSSpoofer" {
		t.Errorf("HostDNSSpoofer.String() = %q, want %q", got, "DNSSpoofer")
	}
	if got := HostKind(99).String(); got != "HostKind(99)" {
		t.Errorf("HostKind(99).String() = %q, want %q", got, "HostKind(99)")
	}
}
