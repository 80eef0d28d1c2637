package directory

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// TestLookup runs the lookups of docs/reference.md §4.5 against a real slapd seeded with
// two-stores.ldif and extraLDIF.
func TestLookup(t *testing.T) {
	s := startLDAP(t)
	d, _ := newDir(t, Options{})
	hosted := []string{"HostedDomains", "yes"}

	tests := []struct {
		name     string
		login    string
		settings []string
		wantDN   string // "" when an error is expected
		wantHost []string
		wantErr  string // errKind
	}{
		{name: "alice", login: "alice", wantDN: "uid=alice,ou=People,o=internet", wantHost: []string{store1}},
		{name: "bob", login: "bob", wantDN: "uid=bob,ou=People,o=internet", wantHost: []string{store2}},
		{name: "non-ASCII uid", login: "jürgen", wantDN: "uid=jürgen,ou=People,o=internet", wantHost: []string{store1}},
		{name: "uid matching ignores case", login: "ALICE", wantDN: "uid=alice,ou=People,o=internet", wantHost: []string{store1}},

		// Filter injection: every value goes through ldap.EscapeFilter.
		{name: "injection or-all", login: "*)(uid=*", wantErr: "ErrNoUser"},
		{name: "injection star", login: "*", wantErr: "ErrNoUser"},
		{name: "injection or-clause", login: "alice)(|(uid=*", wantErr: "ErrNoUser"},
		{name: "injection NUL", login: "alice\x00", wantErr: "ErrNoUser"},
		{name: "injection backslash", login: `alic\65`, wantErr: "ErrNoUser"},
		{name: "empty name", login: "", wantErr: "ErrNoUser"},
		{name: "unknown", login: "nobody", wantErr: "ErrNoUser"},
		{name: "two entries match", login: "twin", wantErr: "ErrNoUser"},

		// Status and mail host (docs/reference.md §4.5).
		{name: "mailUserStatus inactive", login: "carol", wantErr: "ErrNoUser"},
		{name: "mailUserStatus hold", login: "dave", wantErr: "ErrUnavailable"},
		{name: "inetUserStatus deleted", login: "frank", wantErr: "ErrNoUser"},
		{name: "no mail host", login: "erin", wantErr: "ErrNoUser"},
		{name: "status compared ignoring case", login: "gina", wantDN: "uid=gina,ou=People,o=internet", wantHost: []string{store1}},
		{name: "MailHostAttrs in order", login: "gina", settings: []string{"MailHostAttrs", "mailHost, mailLocalAddress"},
			wantDN: "uid=gina,ou=People,o=internet", wantHost: []string{store1, "127.0.0.21", "127.0.0.22"}},
		{name: "MailHostAttrs other first", login: "gina", settings: []string{"MailHostAttrs", "mailLocalAddress mailHost"},
			wantDN: "uid=gina,ou=People,o=internet", wantHost: []string{"127.0.0.21", "127.0.0.22", store1}},

		// %s, %U, %o and DefaultDomain with HostedDomains no.
		{name: "%s with domain", login: "henry@example.info", wantDN: "uid=henry@example.info,ou=People,o=internet", wantHost: []string{store2}},
		{name: "%s with DefaultDomain", login: "henry", settings: []string{"DefaultDomain", "example.info"},
			wantDN: "uid=henry@example.info,ou=People,o=internet", wantHost: []string{store2}},
		{name: "%s is user@domain", login: "alice@example.com", wantErr: "ErrNoUser"},
		{name: "S6 filter without parentheses", login: "alice@example.com", settings: []string{"SearchFormat", "uid=%U"},
			wantDN: "uid=alice,ou=People,o=internet", wantHost: []string{store1}},
		{name: "%o", login: "alice@example.com", settings: []string{"SearchFormat", "(&(objectClass=inetMailUser)(mail=%o))"},
			wantDN: "uid=alice,ou=People,o=internet", wantHost: []string{store1}},
		{name: "other delimiter", login: "alice%example.com", settings: []string{"SearchFormat", "(&(uid=%U)(mail=*@%V))", "VirtualDomainDelim", "@%"},
			wantDN: "uid=alice,ou=People,o=internet", wantHost: []string{store1}},

		// HostedDomains yes, Sun Schema 1.
		{name: "hosted", login: "alice@example.com", settings: hosted, wantDN: "uid=alice,ou=People,o=internet", wantHost: []string{store1}},
		{name: "hosted without domain", login: "alice", settings: hosted, wantDN: "uid=alice,ou=People,o=internet", wantHost: []string{store1}},
		{name: "hosted inetDomainBaseDN", login: "twin@example.org", settings: hosted, wantDN: "uid=twin,ou=Org,o=internet", wantHost: []string{store3}},
		{name: "hosted base with two", login: "twin@example.com", settings: hosted, wantErr: "ErrNoUser"},
		{name: "hosted inetDomainSearchFilter", login: "judy@example.org", settings: hosted, wantDN: "uid=judy,ou=Org,o=internet", wantHost: []string{store3}},
		{name: "hosted domain case", login: "judy@Example.ORG", settings: hosted, wantDN: "uid=judy,ou=Org,o=internet", wantHost: []string{store3}},
		{name: "hosted alias", login: "judy@example.net", settings: hosted, wantDN: "uid=judy,ou=Org,o=internet", wantHost: []string{store3}},
		{name: "hosted DefaultDomain", login: "judy", settings: append([]string{"DefaultDomain", "example.org"}, hosted...),
			wantDN: "uid=judy,ou=Org,o=internet", wantHost: []string{store3}},
		{name: "hosted domain on hold", login: "judy@held.org", settings: hosted, wantErr: "ErrUnavailable"},
		{name: "hosted domain inactive", login: "judy@gone.org", settings: hosted, wantErr: "ErrNoUser"},
		// docs/reference.md §4.5: a domain that is not in the directory fails the
		// login; the name is not searched for anywhere else.
		{name: "hosted domain missing", login: "henry@example.info", settings: hosted, wantErr: "ErrNoUser"},
		{name: "hosted odd domain", login: "alice@a..b", settings: hosted, wantErr: "ErrNoUser"},
		{name: "hosted injection in domain", login: "alice@x,dc=com", settings: hosted, wantErr: "ErrNoUser"},
		{name: "schema 2 domain missing", login: "henry@example.info",
			settings: append([]string{"LdapSchemaLevel", "2", "UserGroupDN", "o=internet"}, hosted...), wantErr: "ErrNoUser"},
		{name: "schema 2", login: "alice@example.com",
			settings: append([]string{"LdapSchemaLevel", "2", "UserGroupDN", "o=internet"}, hosted...),
			wantDN:   "uid=alice,ou=People,o=internet", wantHost: []string{store1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := values(t, s, tt.settings...)
			u, err := d.Lookup(ctxTimeout(t, 10*time.Second), query(tt.login, v))
			if tt.wantErr != "" {
				if errKind(err) != tt.wantErr {
					t.Fatalf("Lookup(%q) = %+v, %v; want %s", tt.login, u, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q) = %v, want %s", tt.login, err, tt.wantDN)
			}
			if !strings.EqualFold(u.DN, tt.wantDN) || !slices.Equal(u.MailHosts, tt.wantHost) {
				t.Errorf("Lookup(%q) = %s %q, want %s %q", tt.login, u.DN, u.MailHosts, tt.wantDN, tt.wantHost)
			}
		})
	}
}

// TestLookupFilterInSlapdLog shows on the server's side that the hostile
// names arrive as escaped assertion values, not as filter syntax.
func TestLookupFilterInSlapdLog(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{})
	v := values(t, s)
	want := map[string]string{
		"*)(uid=*":       `filter="(uid=\2A\29\28uid=\2A)"`,
		"*":              `filter="(uid=\2A)"`,
		"alice)(|(uid=*": `filter="(uid=alice\29\28|\28uid=\2A)"`,
		"alice\x00":      `filter="(uid=alice\00)"`,
		"jürgen":         `filter="(uid=j\C3\BCrgen)"`,
	}
	for login, line := range want {
		_, err := d.Lookup(t.Context(), query(login, v))
		if login == "jürgen" {
			if err != nil {
				t.Errorf("Lookup(%q) = %v, want success", login, err)
			}
		} else if errKind(err) != "ErrNoUser" {
			t.Errorf("Lookup(%q) = %v, want ErrNoUser", login, err)
		}
		if log := s.Log(); !strings.Contains(log, line) {
			t.Errorf("slapd log after Lookup(%q) lacks %s", login, line)
		}
	}
	if log := s.Log(); strings.Contains(log, `filter="(uid=*)"`) || strings.Contains(log, `(|(uid=*)`) {
		t.Errorf("slapd log shows an unescaped wildcard:\n%s", log)
	}
}

// TestLookupAttrs checks the attributes handed to the protocols: lower-case
// keys, %A[attr] of ReplayFormat, TCPAccessAttr and uid.
func TestLookupAttrs(t *testing.T) {
	s := startLDAP(t)
	d, _ := newDir(t, Options{})
	v := values(t, s, "ReplayFormat", "%A[uid]@%V", "DefaultDomain", "example.com", "SearchFormat", "(uid=%U)")
	u, err := d.Lookup(t.Context(), query("gina", v))
	if err != nil {
		t.Fatalf("Lookup(gina) = %v", err)
	}
	want := map[string][]string{
		"mailhost":                 {store1},
		"mailuserstatus":           {"Active"},
		"uid":                      {"gina"},
		"mailallowedserviceaccess": {"+imap:ALL"},
	}
	for k, w := range want {
		if got := u.Attrs[k]; !slices.Equal(got, w) {
			t.Errorf("Lookup(gina).Attrs[%q] = %q, want %q", k, got, w)
		}
	}
	if got := u.Attr("UID"); got != "gina" {
		t.Errorf("Lookup(gina).Attr(UID) = %q, want gina", got)
	}
	for k := range u.Attrs {
		if k != strings.ToLower(k) {
			t.Errorf("Lookup(gina).Attrs has key %q, want lower case", k)
		}
	}
	if log := s.Log(); !strings.Contains(log, "SRCH attr=mailHost mailUserStatus inetUserStatus uid mailAllowedServiceAccess") {
		t.Errorf("slapd log does not show the attribute list asked for:\n%s", log)
	}

	// %A[...] attributes other than uid are fetched too.
	v = values(t, s, "ReplayFormat", "%A[mail]", "TCPAccessAttr", "description")
	u, err = d.Lookup(t.Context(), query("alice", v))
	if err != nil {
		t.Fatalf("Lookup(alice) = %v", err)
	}
	if got := u.Attr("mail"); got != "alice@example.com" {
		t.Errorf("Lookup(alice) with ReplayFormat %%A[mail]: Attr(mail) = %q, want alice@example.com", got)
	}
	// The returned User is the caller's: changing it does not change the
	// cached one.
	u.Attrs["mail"][0] = "changed"
	u.MailHosts[0] = "changed"
	u2, err := d.Lookup(t.Context(), query("alice", v))
	if err != nil || u2.Attr("mail") != "alice@example.com" || u2.MailHosts[0] != store1 {
		t.Errorf("Lookup(alice) after changing the previous result = %+v, %v; want the directory's values", u2, err)
	}
}

// TestLookupLog checks the log lines of refused accounts, and that no
// password ever reaches the log.
func TestLookupLog(t *testing.T) {
	s := startLDAP(t)
	d, lb := newDir(t, Options{})
	v := values(t, s)
	for _, login := range []string{"carol", "dave", "erin", "alice"} {
		d.Lookup(t.Context(), query(login, v))
	}
	if err := d.bindDN(t.Context(), v, "uid=alice,ou=People,o=internet", "alicepw"); err != nil {
		t.Errorf("Bind(alice, alicepw) = %v, want nil", err)
	}
	d.bindDN(t.Context(), v, "uid=alice,ou=People,o=internet", "wrong-secret")
	log := lb.String()
	for _, want := range []string{
		"level=INFO+2 msg=\"user 'carol' mailUserStatus: 'inactive'\"",
		"level=INFO+2 msg=\"user 'dave' mailUserStatus: 'hold'\"",
		"level=WARN msg=\"user 'erin': entry \\\"uid=erin,ou=People,o=internet\\\" has no mail host",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	for _, secret := range []string{s.ProxyPass, "alicepw", "wrong-secret"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains the password %q:\n%s", secret, log)
		}
	}
}

// TestLookupPoolPerIdentity shows that a vdmap domain with its own BindDN
// gets its own pool and keeps it, and that an empty BindDN searches
// anonymously.
func TestLookupPoolPerIdentity(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{})
	svc := loadService(t, map[string]string{
		"LdapUrl": s.URL + "/" + s.BaseDN, "BindDN": s.ProxyDN, "BindPass": s.ProxyPass, "HostedDomains": "no",
	}, fmt.Sprintf("vdmap admin 127.0.0.2\nadmin:LdapUrl %s\nadmin:BindDN %q\nadmin:BindPass %s\n\n"+
		"vdmap anon 127.0.0.3\nanon:LdapUrl %[1]s\nanon:BindDN \"\"\n",
		s.URL+"/"+s.BaseDN, s.AdminDN, s.AdminPass))
	for range 3 {
		for _, local := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
			v := svc.ForLocal(netip.MustParseAddr(local))
			q := query("bob", v)
			q.Server = netip.MustParseAddr(local)
			if u, err := d.Lookup(t.Context(), q); err != nil || u.MailHosts[0] != store2 {
				t.Fatalf("Lookup(bob) on %s = %+v, %v; want mailHost %s", local, u, err, store2)
			}
		}
	}
	if got := s.CountBinds(s.ProxyDN); got != 1 {
		t.Errorf("CountBinds(%s) = %d, want 1", s.ProxyDN, got)
	}
	if got := s.CountBinds(s.AdminDN); got != 1 {
		t.Errorf("CountBinds(%s) = %d, want 1", s.AdminDN, got)
	}
	// Three pools: proxy, admin, anonymous.
	d.mu.Lock()
	n := len(d.pools)
	d.mu.Unlock()
	if n != 3 {
		t.Errorf("pools after lookups with three identities = %d, want 3", n)
	}
}

// TestBind covers the PreAuth helper.
func TestBind(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{})
	v := values(t, s)
	alice := "uid=alice,ou=People,o=internet"
	conns := bindConns(s)
	tests := []struct {
		dn, pw string
		want   string
	}{
		{alice, "alicepw", "nil"},
		{alice, "wrong", "ErrNoUser"},
		{alice, "", "ErrNoUser"},
		{"", "", "ErrNoUser"},
		{"uid=nobody,ou=People,o=internet", "x", "ErrNoUser"},
		{"not a DN", "x", "ErrNoUser"},
		{"uid=bob,ou=People,o=internet", "bobpw", "nil"},
		{alice, "alicepw", "nil"},
	}
	for _, tt := range tests {
		if err := d.bindDN(t.Context(), v, tt.dn, tt.pw); errKind(err) != tt.want {
			t.Errorf("Bind(%q, %q) = %v, want %s", tt.dn, tt.pw, err, tt.want)
		}
	}
	// The bind connection is reused, and the search pool is not touched:
	// a lookup after user binds still runs as the proxy account.
	if got := newBindConns(s, conns); got != 1 {
		t.Errorf("connections used for %d binds = %d, want 1", len(tests), got)
	}
	if got := s.CountBinds(s.ProxyDN); got != 0 {
		t.Errorf("CountBinds(proxy) after Bind = %d, want 0", got)
	}
	if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
		t.Errorf("Lookup(alice) after Bind = %v", err)
	}
	if got := s.CountBinds(s.ProxyDN); got != 1 {
		t.Errorf("CountBinds(proxy) after Lookup = %d, want 1", got)
	}
	if !strings.Contains(s.Log(), `BIND dn="cn=mmp,o=internet" mech=SIMPLE`) {
		t.Errorf("slapd log does not show the proxy bind")
	}
}

// TestLookupBadBindPass: a refused BindDN is a configuration problem: the
// login is told to come back later, not that the user does not exist.
func TestLookupBadBindPass(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, lb := newDir(t, Options{})
	v := values(t, s, "BindPass", "not-the-password")
	if _, err := d.Lookup(t.Context(), query("alice", v)); errKind(err) != "ErrUnavailable" {
		t.Errorf("Lookup(alice) with a wrong BindPass = %v, want ErrUnavailable", err)
	}
	if log := lb.String(); !strings.Contains(log, "bind as \\\"cn=mmp,o=internet\\\"") || strings.Contains(log, "not-the-password") {
		t.Errorf("log after a refused BindDN = %s, want the DN and no password", log)
	}
	// The host is not blamed for it.
	d.hostMu.Lock()
	n := len(d.hosts)
	d.hostMu.Unlock()
	if n != 0 {
		t.Errorf("hosts marked down after a refused bind = %d, want 0", n)
	}
}

// TestLookupBadSearchFormat: a SearchFormat that makes no filter is the
// administrator's mistake, reported as unavailable and logged.
func TestLookupBadSearchFormat(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, lb := newDir(t, Options{})
	v := values(t, s, "SearchFormat", "(uid=%U")
	if _, err := d.Lookup(t.Context(), query("alice", v)); errKind(err) != "ErrUnavailable" {
		t.Errorf("Lookup(alice) with SearchFormat (uid=%%U = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(lb.String(), "does not make a valid LDAP filter") {
		t.Errorf("log = %s, want the bad SearchFormat named", lb.String())
	}
	v = values(t, s, "LdapUrl", s.URL+"/ou=Missing,o=internet")
	if _, err := d.Lookup(t.Context(), query("alice", v)); errKind(err) != "ErrNoUser" {
		t.Errorf("Lookup(alice) under a missing base = %v, want ErrNoUser", err)
	}
}

func TestFilterValues(t *testing.T) {
	q := account.Query{
		Name:   account.Name{Orig: "o*", Canon: "s(", User: "U)", Domain: `V\`},
		Client: netip.MustParseAddr("::ffff:192.0.2.1"),
		Server: netip.MustParseAddr("2001:db8::1"),
		CertDN: "cn=x,o=y",
	}
	f := filterValues(q)
	for esc, want := range map[byte]string{'o': `o\2a`, 's': `s\28`, 'U': `U\29`, 'V': `V\5c`, 'C': "192.0.2.1", 'S': "2001:db8::1", 'D': "cn=x,o=y"} {
		if got := f(esc, ""); got != want {
			t.Errorf("filterValues(%%%c) = %q, want %q", esc, got, want)
		}
	}
	if got := filterValues(account.Query{})('C', ""); got != "" {
		t.Errorf("filterValues(%%C) without a client = %q, want empty", got)
	}
}

func TestDCDN(t *testing.T) {
	for domain, want := range map[string]string{
		"example.com":  "dc=example,dc=com,o=internet",
		"Example.COM.": "dc=example,dc=com,o=internet",
		"a.b.c":        "dc=a,dc=b,dc=c,o=internet",
		"x,dc=com":     `dc=x\,dc=com,o=internet`,
		"a..b":         "",
		".":            "",
	} {
		got := ""
		if labels := domainLabels(domain); labels != nil {
			got = dcDN(labels, "o=internet")
		}
		if got != want {
			t.Errorf("dcDN(domainLabels(%q), o=internet) = %q, want %q", domain, got, want)
		}
	}
}
