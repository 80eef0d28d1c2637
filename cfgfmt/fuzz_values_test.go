package cfgfmt

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// The value parsers read what administrators type and what other
// Messaging Server components store in LDAP. These targets check that no
// input panics and that whatever parses survives being written back:
// parse(String(parse(x))) == parse(x). They are seeded from the table
// tests and from testdata/fuzz/<FuzzName>/.

func FuzzParsePortSpec(f *testing.F) {
	for _, tt := range portSpecTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParsePortSpec(s)
		if err != nil {
			return
		}
		for _, a := range spec {
			if a.Port == 0 {
				t.Fatalf("ParsePortSpec(%q) gave port 0", s)
			}
			MatchPortSpec(spec, netip.AddrPortFrom(a.IP, a.Port))
		}
		out := FormatPortSpec(spec)
		again, err := ParsePortSpec(out)
		if err != nil || !reflect.DeepEqual(again, spec) {
			t.Fatalf("ParsePortSpec(%q) = %v, %v, want %v (from %q)", out, again, err, spec, s)
		}
	})
}

func FuzzParseServiceList(f *testing.F) {
	for _, tt := range serviceListTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := ParseServiceList(s)
		if err != nil {
			return
		}
		for _, e := range entries {
			e.Protocol()
			if len(e.Addrs) == 0 || e.DLL == "" || e.Instance == "" || e.Section == "" {
				t.Fatalf("ParseServiceList(%q) gave incomplete entry %+v", s, e)
			}
		}
		out := FormatServiceList(entries)
		again, err := ParseServiceList(out)
		if err != nil || !reflect.DeepEqual(again, entries) {
			t.Fatalf("ParseServiceList(%q) = %+v, %v, want %+v (from %q)", out, again, err, entries, s)
		}
	})
}

func FuzzParseConnLimits(f *testing.F) {
	for _, tt := range connLimitTests {
		f.Add(tt.in)
	}
	f.Add("# limits\n192.168.1.0|255.255.255.0:100\n\n0.0.0.0|0.0.0.0:20 # rest\n")
	f.Fuzz(func(t *testing.T, s string) {
		// Any input is also a possible file.
		ParseConnLimitLines(strings.NewReader(s))
		limits, err := ParseConnLimits(s)
		if IsFileRef(s) && err == nil && limits != nil {
			t.Fatalf("IsFileRef(%q) = true, but it parses as %v", s, limits)
		}
		if err != nil {
			return
		}
		for _, l := range limits {
			LimitFor(limits, l.Net.Addr())
		}
		out := FormatConnLimits(limits)
		again, err := ParseConnLimits(out)
		if err != nil || !reflect.DeepEqual(again, limits) {
			t.Fatalf("ParseConnLimits(%q) = %v, %v, want %v (from %q)", out, again, err, limits, s)
		}
	})
}

func FuzzParseAddrList(f *testing.F) {
	for _, tt := range addrListTests {
		f.Add(tt.in)
	}
	f.Add("# bgexcl.cfg\n127.0.0.1|255.255.255.255\n10.1.2.0/24 # lab\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseAddrListLines(strings.NewReader(s))
		list, err := ParseAddrList(s)
		if IsAddrListFileRef(s) && err == nil {
			t.Fatalf("IsAddrListFileRef(%q) = true, but it parses as %v", s, list)
		}
		if err != nil {
			return
		}
		out := make([]string, len(list))
		for i, p := range list {
			if p != p.Masked() {
				t.Fatalf("ParseAddrList(%q) gave %v with host bits", s, p)
			}
			out[i] = p.String()
		}
		again, err := ParseAddrList(strings.Join(out, ","))
		if err != nil || !reflect.DeepEqual(again, list) {
			t.Fatalf("ParseAddrList(%q) = %v, %v, want %v (from %q)", strings.Join(out, ","), again, err, list, s)
		}
	})
}

func FuzzParseLdapURL(f *testing.F) {
	for _, tt := range ldapURLTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseLdapURL(s)
		if err != nil {
			return
		}
		if len(u.Hosts) == 0 || u.BaseDN == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps") {
			t.Fatalf("ParseLdapURL(%q) = %#v, an incomplete URL", s, u)
		}
		out := u.String()
		again, err := ParseLdapURL(out)
		if err != nil || !reflect.DeepEqual(again, u) {
			t.Fatalf("ParseLdapURL(%q) = %#v, %v, want %#v (from %q)", out, again, err, u, s)
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"+imap:ALL", "-imap:ALL EXCEPT 192.168.1.0/24", "+imaps,pop@10.0.0.5:joe@.siroe.com,192.168. EXCEPT KNOWN$smtp EXCEPT smtps:10.0.0.0/255.0.0.0",
		"+imap:.siroe.com EXCEPT pc9.siroe.com$-ALL:ALL", "-pop:LOCAL, KNOWN, UNKNOWN, DNSSPOOFER, @netgroup", "+smtp:[2001:db8::]/32, 2001:db8::1"} {
		f.Add(s)
	}
	for _, tt := range filterErrorTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, _, err := ParseFilter(s)
		if err != nil {
			return
		}
		out := flt.String()
		again, _, err := ParseFilter(out)
		if err != nil || !reflect.DeepEqual(again, flt) {
			t.Fatalf("ParseFilter(%q) = %+v, %v, want %+v (from %q)", out, again, err, flt, s)
		}
	})
}

func FuzzParseFormat(f *testing.F) {
	for _, tt := range formatTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, allowed := range []string{SearchEscapes, ReplayEscapes} {
			fm, err := ParseFormat(s, allowed)
			if err != nil {
				continue
			}
			if fm.String() != s {
				t.Fatalf("ParseFormat(%q, %q).String() = %q, want the input", s, allowed, fm.String())
			}
			fm.Attrs()
			_ = FilterText(fm.Expand(testValues))
			// Writing the parts back, with literal "%" doubled, must
			// give a template with the same parts.
			var b strings.Builder
			for _, p := range fm.parts {
				switch {
				case p.esc == 0:
					b.WriteString(strings.ReplaceAll(p.lit, "%", "%%"))
				case p.esc == 'A':
					b.WriteString("%A[" + p.arg + "]")
				default:
					b.WriteString("%" + string(p.esc))
				}
			}
			again, err := ParseFormat(b.String(), allowed)
			if err != nil || !reflect.DeepEqual(again.parts, fm.parts) {
				t.Fatalf("ParseFormat(%q, %q) = %+v, %v, want parts %+v (from %q)", b.String(), allowed, again.parts, err, fm.parts, s)
			}
		}
	})
}
