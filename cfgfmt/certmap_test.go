package cfgfmt

import (
	"reflect"
	"strings"
	"testing"
)

const specCertmap = `# comment
certmap default default
default:DNComps
default:FilterComps e=mail
certmap siroeca ou=Siroe CA, o=siroe.com, c=US
siroeca:DNComps
siroeca:FilterComps ou=uid
siroeca:verifycert off
certmap other cn=Other CA
other:DNComps ou, o ,c
other:verifycert on
other:CmapLdapAttr certSubjectDN
`

func TestParseCertmapSpec(t *testing.T) {
	cm, errs := ParseCertmap("certmap.conf", []byte(specCertmap))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(cm.Maps) != 3 || !cm.Maps[0].IsDefault() {
		t.Fatalf("maps: %+v", cm.Maps)
	}
	d := cm.Maps[0]
	if !d.DNComps.Set || len(d.DNComps.List) != 0 {
		t.Errorf("default DNComps = %+v, want set and empty", d.DNComps)
	}
	if want := []Comp{{"e", "mail"}}; !reflect.DeepEqual(d.FilterComps.List, want) {
		t.Errorf("default FilterComps = %+v", d.FilterComps)
	}
	s := cm.MapFor("ou=Siroe CA, o=siroe.com, c=US")
	if s.Name != "siroeca" || s.VerifyCert {
		t.Fatalf("MapFor siroe = %+v", s)
	}
	if want := []Comp{{"ou", "uid"}}; !reflect.DeepEqual(s.FilterComps.List, want) {
		t.Errorf("siroeca FilterComps = %+v", s.FilterComps)
	}
	// White space is significant.
	if m := cm.MapFor("ou=Siroe CA,o=siroe.com,c=US"); m != d {
		t.Errorf("MapFor without blanks = %s, want default", m.Name)
	}
	o := cm.MapFor("cn=Other CA")
	if want := []Comp{{"ou", "ou"}, {"o", "o"}, {"c", "c"}}; !reflect.DeepEqual(o.DNComps.List, want) {
		t.Errorf("other DNComps = %+v", o.DNComps)
	}
	if !o.VerifyCert || o.CmapLdapAttr != "certSubjectDN" || o.FilterComps.Set {
		t.Errorf("other = %+v", o)
	}
}

func TestParseCertmapErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"certmap x cn=CA\n", "first map must be"},
		{"certmap default default\ndefault:library /x.so\n", "plug-ins are not supported"},
		{"certmap default default\ndefault:InitFn f\n", "plug-ins are not supported"},
		{"certmap default default\ndefault:verifycert maybe\n", "verifycert"},
		{"certmap default default\ndefault:Frob x\n", "unknown certmap property"},
		{"certmap default default\nother:DNComps\n", "not declared above"},
		{"certmap default default\ndefault:FilterComps ou=(uid)\n", "not an attribute name"},
		{"# nothing\n", "no certmap entries"},
	} {
		_, errs := ParseCertmap("c.conf", []byte(tc.text))
		var all []string
		for _, e := range errs {
			all = append(all, e.Error())
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.want) {
			t.Errorf("%q: errors %q, want one with %q", tc.text, all, tc.want)
		}
	}
}
