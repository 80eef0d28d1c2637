package cfgfmt

import (
	"reflect"
	"testing"
)

var ldapURLTests = []struct {
	in      string
	want    LDAPURL
	wantErr string
}{
	// The default of docs/reference.md §2.2.
	{in: "ldap://localhost/o=internet", want: LDAPURL{"ldap", []string{"localhost:389"}, "o=internet"}},
	// Fail-over form 1, from the vdmap example of docs/reference.md §3.5.
	{in: "ldap://ldap1.varrius.com ldap2.varrius.com/o=internet",
		want: LDAPURL{"ldap", []string{"ldap1.varrius.com:389", "ldap2.varrius.com:389"}, "o=internet"}},
	// Fail-over form 2, from the Oracle QA note.
	{in: "ldap://h1/o=internet ldap://h2/o=internet", want: LDAPURL{"ldap", []string{"h1:389", "h2:389"}, "o=internet"}},
	{in: "ldap://h1:1389  h2:2389\th3/o=internet  ldap://h4:4389/O=Internet ",
		want: LDAPURL{"ldap", []string{"h1:1389", "h2:2389", "h3:389", "h4:4389"}, "o=internet"}},
	{in: "ldaps://ldap.siroe.com/o=siroe.com", want: LDAPURL{"ldaps", []string{"ldap.siroe.com:636"}, "o=siroe.com"}},
	{in: "LDAPS://ldap.siroe.com:10636/o=siroe.com", want: LDAPURL{"ldaps", []string{"ldap.siroe.com:10636"}, "o=siroe.com"}},
	{in: "ldap://[::1]:1389 [2001:db8::7] 192.0.2.1/dc=example,dc=com",
		want: LDAPURL{"ldap", []string{"[::1]:1389", "[2001:db8::7]:389", "192.0.2.1:389"}, "dc=example,dc=com"}},
	{in: "ldap://h/ou=People,%20o=siroe.com", want: LDAPURL{"ldap", []string{"h:389"}, "ou=People, o=siroe.com"}},
	{in: "ldap://h/ou=People, o=siroe.com", want: LDAPURL{"ldap", []string{"h:389"}, "ou=People, o=siroe.com"}},
	{in: "ldap://h/o=a%3Fb%25c+d", want: LDAPURL{"ldap", []string{"h:389"}, "o=a?b%c+d"}},
	{in: "ldap://h/o=%C3%A9t%C3%A9", want: LDAPURL{"ldap", []string{"h:389"}, "o=été"}},
	{in: "ldap://h/cn=a/b,o=x", want: LDAPURL{"ldap", []string{"h:389"}, "cn=a/b,o=x"}},
	{in: "ldap://my_host/o=x", want: LDAPURL{"ldap", []string{"my_host:389"}, "o=x"}},

	{in: "", wantErr: "empty LDAP URL"},
	{in: "localhost/o=internet", wantErr: `"localhost/o=internet" does not start with ldap:// or ldaps://`},
	{in: "http://h/o=internet", wantErr: `unsupported scheme "http": want ldap or ldaps`},
	{in: "ldapi://%2fvar%2frun%2fslapd/o=x", wantErr: `unsupported scheme "ldapi": want ldap or ldaps`},
	{in: "ldap://h1/o=internet ldaps://h2/o=internet", wantErr: `URL 2: scheme "ldaps" differs from "ldap" of URL 1; fail-over URLs must agree`},
	{in: "ldap://h1/o=internet ldap://h2/o=siroe.com", wantErr: `URL 2: base DN "o=siroe.com" differs from "o=internet" of URL 1; fail-over URLs must agree`},
	{in: "ldap://h1/o=internet http://h2/o=internet", wantErr: `URL 2: unsupported scheme "http": want ldap or ldaps`},
	{in: "ldap://h1 ldap://h2/o=internet", wantErr: `missing "/" and base DN after the host`},
	{in: "ldap://h1/o=internet ldap://h2", wantErr: `URL 2: missing "/" and base DN after the host`},
	{in: "ldap://localhost", wantErr: `missing "/" and base DN after the host`},
	{in: "ldap:///o=internet", wantErr: "missing host"},
	{in: "ldap://h/", wantErr: "missing base DN"},
	{in: "ldap://h/%20", wantErr: "missing base DN"},
	{in: "ldap://h:0/o=x", wantErr: `host "h:0": bad port "0": want 1-65535`},
	{in: "ldap://h:/o=x", wantErr: `host "h:": bad port ""`},
	{in: "ldap://h:ldap/o=x", wantErr: `host "h:ldap": bad port "ldap"`},
	{in: "ldap://h:70000/o=x", wantErr: `host "h:70000": bad port "70000": want 1-65535`},
	{in: "ldap://::1/o=x", wantErr: `bad host "::1": an IPv6 address must be written in brackets`},
	{in: "ldap://[::1/o=x", wantErr: `bad host "[::1": missing "]"`},
	{in: "ldap://[10.0.0.1]/o=x", wantErr: `bad host "[10.0.0.1]": want an IPv6 address in brackets`},
	{in: "ldap://[::1]x/o=x", wantErr: `bad host "[::1]x"`},
	{in: "ldap://user@h/o=x", wantErr: `bad host "user@h"`},
	{in: "ldap://h..x/o=x", wantErr: `bad host "h..x"`},
	{in: "ldap://h/o=x?uid?sub?(objectclass=*)", wantErr: `attributes, scope and filter ("?..." after the base DN) are not supported`},
	{in: "ldap://h/o=x?", wantErr: `attributes, scope and filter ("?..." after the base DN) are not supported`},
	{in: "ldap://h/o=%zz", wantErr: `bad percent escape in base DN "o=%zz"`},
	{in: "ldap://h1 H1:389/o=x", wantErr: "host H1:389 listed twice"},
	{in: "ldap://h1/o=x ldap://h1/o=x", wantErr: "host h1:389 listed twice"},
}

func TestParseLdapURL(t *testing.T) {
	for _, tt := range ldapURLTests {
		got, err := ParseLdapURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseLdapURL(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLdapURL(%q) = %#v, %v, want %#v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestLDAPURLString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ldap://localhost/o=internet", "ldap://localhost:389/o=internet"},
		{"ldap://h1/o=internet ldap://h2/o=internet", "ldap://h1:389 h2:389/o=internet"},
		{"ldaps://[::1] h/ou=People, o=siroe.com", "ldaps://[::1]:636 h:636/ou=People,%20o=siroe.com"},
		{"ldap://h/o=a%3fb%25c", "ldap://h:389/o=a%3Fb%25c"},
		{"ldap://h/o=%C3%A9t%C3%A9", "ldap://h:389/o=%C3%A9t%C3%A9"},
	}
	for _, tt := range tests {
		u, err := ParseLdapURL(tt.in)
		if err != nil {
			t.Fatalf("ParseLdapURL(%q): %v", tt.in, err)
		}
		got := u.String()
		if got != tt.want {
			t.Errorf("ParseLdapURL(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		again, err := ParseLdapURL(got)
		if err != nil || !reflect.DeepEqual(again, u) {
			t.Errorf("ParseLdapURL(%q) = %#v, %v, want %#v", got, again, err, u)
		}
	}
}

func TestFromN4(t *testing.T) {
	tests := []struct {
		host, base string
		want       LDAPURL
		wantErr    string
	}{
		{host: "localhost:389", base: "o=mcom.com", want: LDAPURL{"ldap", []string{"localhost:389"}, "o=mcom.com"}},
		{host: "ldap.airius.com", base: "o=Airius.com", want: LDAPURL{"ldap", []string{"ldap.airius.com:389"}, "o=Airius.com"}},
		{host: "h1:1389 h2", base: " ou=People, o=airius.com ", want: LDAPURL{"ldap", []string{"h1:1389", "h2:389"}, "ou=People, o=airius.com"}},
		{host: "h", base: "o=100%", want: LDAPURL{"ldap", []string{"h:389"}, "o=100%"}},
		{host: "", base: "o=x", wantErr: "LDAPHost: missing host"},
		{host: "h:x", base: "o=x", wantErr: `LDAPHost: host "h:x": bad port "x"`},
		{host: "ldap://h", base: "o=x", wantErr: `LDAPHost "ldap://h": want host or host:port, not a URL`},
		{host: "h h", base: "o=x", wantErr: "LDAPHost: host h:389 listed twice"},
		{host: "h", base: "", wantErr: "BaseDN: missing base DN"},
	}
	for _, tt := range tests {
		got, err := FromN4(tt.host, tt.base)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("FromN4(%q, %q) error = %v, want %q", tt.host, tt.base, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("FromN4(%q, %q) = %#v, %v, want %#v, nil", tt.host, tt.base, got, err, tt.want)
		}
		// The N4 translation must survive being written as LdapUrl.
		again, err := ParseLdapURL(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseLdapURL(%q) = %#v, %v, want %#v", got.String(), again, err, got)
		}
	}
}
