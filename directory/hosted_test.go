package directory

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// hostedCase is one login of the Schema 1 and Schema 2 tables.
type hostedCase struct {
	login    string
	settings []string
	wantDN   string // "" when an error is expected
	wantHost string
	wantErr  string            // errKind
	attrs    map[string]string // Attr(key) wanted; "" means absent
}

func runHosted(t *testing.T, s *slapd.Server, d *Directory, base []string, tests []hostedCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.login, func(t *testing.T) {
			v := values(t, s, append(slices.Clone(base), tt.settings...)...)
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
			if !strings.EqualFold(u.DN, tt.wantDN) || !slices.Equal(u.MailHosts, []string{tt.wantHost}) {
				t.Errorf("Lookup(%q) = %s %q, want %s [%s]", tt.login, u.DN, u.MailHosts, tt.wantDN, tt.wantHost)
			}
			for k, want := range tt.attrs {
				if got := userAttr(u, k); got != want {
					t.Errorf("Lookup(%q).Attr(%q) = %q, want %q", tt.login, k, got, want)
				}
			}
		})
	}
}

// TestSchema1 resolves the users of testdata/ldif/schema1.ldif through the
// DC tree (docs/reference.md §4.5, Sun LDAP Schema 1).
func TestSchema1(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(ldifFile(t, "schema1.ldif")))
	d, lb := newDir(t, Options{})
	hosted := []string{"HostedDomains", "yes"}
	siroeAlice := "uid=alice,ou=People,o=siroe.com,o=internet"
	siroe := map[string]string{AttrDomainName: "siroe.com", AttrDomainDN: "dc=siroe,dc=com,o=internet",
		AttrDomainPreAuth: "", AttrDomainReplay: "", AttrDomainAllowedServiceAccess: ""}
	runHosted(t, s, d, hosted, []hostedCase{
		// Two domains, one uid, two stores.
		{login: "alice@siroe.com", wantDN: siroeAlice, wantHost: store1, attrs: siroe},
		{login: "alice@varrius.com", wantDN: "uid=alice,ou=People,o=varrius.com,o=internet", wantHost: store2,
			attrs: map[string]string{AttrDomainName: "varrius.com"}},
		{login: "ALICE@Siroe.COM", wantDN: siroeAlice, wantHost: store1},
		// An alias domain: the user is the canonical domain's.
		{login: "alice@siroe.net", wantDN: siroeAlice, wantHost: store1, attrs: siroe},
		// Uplevel: mail.siroe.com has no node, siroe.com has.
		{login: "alice@mail.siroe.com", wantDN: siroeAlice, wantHost: store1, attrs: siroe},
		{login: "alice@a.b.mail.siroe.com", wantDN: siroeAlice, wantHost: store1},
		// The domain's own filter, replay format and settings.
		{login: "robert@florizel.com", wantDN: "uid=rsmith,ou=People,o=florizel.com,o=internet", wantHost: store3,
			attrs: map[string]string{
				AttrDomainName:                 "florizel.com",
				AttrDomainPreAuth:              "yes",
				AttrDomainReplay:               "%A[mailRoutingAddress]",
				AttrDomainAllowedServiceAccess: "+imap:ALL$-pop:*",
				"mailRoutingAddress":           "rsmith@store.florizel.com", // fetched for the replay
			}},
		{login: "rsmith@florizel.com", wantErr: "ErrNoUser"}, // DomainSearchFormat (uid=%U) is not used
		// Compound uids: alice@sesta.com is uid=alice#sesta.com, not the
		// decoy uid=alice next to it.
		{login: "alice@sesta.com", wantDN: "uid=alice#sesta.com,ou=People,o=sesta.com,o=internet", wantHost: store3},
		// Domain status.
		{login: "alice@held.com", wantErr: "ErrUnavailable"},
		{login: "alice@closed.com", wantErr: "ErrNoUser"},
		// Not hosted domains: the login fails, nothing else is searched.
		{login: "alice@unknown.com", wantErr: "ErrNoUser"},
		{login: "alice@x.unknown.com", wantErr: "ErrNoUser"},
		{login: "alice@com", wantErr: "ErrNoUser"},
		{login: "alice@", wantErr: "ErrNoUser"},
		// Without a domain: SearchFormat under the LdapUrl base, where
		// three alices match; DefaultDomain picks one.
		{login: "alice", wantErr: "ErrNoUser"},
		{login: "alice", settings: []string{"DefaultDomain", "varrius.com"},
			wantDN: "uid=alice,ou=People,o=varrius.com,o=internet", wantHost: store2},
	})

	log := lb.String()
	for _, want := range []string{
		`level=ERROR msg="domain 'unknown.com' not found in LDAP (-1 )"`,
		`level=ERROR msg="domain 'x.unknown.com' not found in LDAP (-1 )"`,
		`level=INFO+2 msg="domain 'held.com' mailDomainStatus: 'hold'"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	slog := s.Log()
	for _, want := range []string{
		`filter="(uid=alice#sesta.com)"`,
		`base="dc=mail,dc=siroe,dc=com,o=internet" scope=0`,
		`filter="(&(objectClass=inetMailUser)(mail=robert@florizel.com))"`,
		`SRCH attr=mailHost mailUserStatus inetUserStatus uid mailAllowedServiceAccess mailRoutingAddress`,
	} {
		if !strings.Contains(slog, want) {
			t.Errorf("slapd log lacks %s", want)
		}
	}
	// Uplevel stops above the top-level domain: x.unknown.com tries
	// x.unknown.com and unknown.com, never dc=com.
	before := countSearches(s)
	d.Lookup(t.Context(), query("alice@x.unknown.com", values(t, s, hosted...)))
	if got := countSearches(s) - before; got != 2 {
		t.Errorf("Lookup(alice@x.unknown.com) sent %d searches, want 2 (x.unknown.com, unknown.com)", got)
	}
	if strings.Count(s.Log(), `SRCH base="dc=com,o=internet" scope=0`) != 1 { // alice@com's own
		t.Errorf("slapd log shows an uplevel read of dc=com")
	}
}

// TestSchema1Cache: a domain found by uplevel is cached under the name the
// client used, so the next login of the domain reads no node.
func TestSchema1Cache(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(ldifFile(t, "schema1.ldif")))
	d, _ := newDir(t, Options{})
	v := values(t, s, "HostedDomains", "yes")
	for _, tt := range []struct {
		login string
		want  int
	}{{"alice@mail.siroe.com", 3}, {"alice@mail.siroe.com", 0}, {"alice@siroe.net", 2}, {"alice@siroe.com", 1}} {
		before := countSearches(s)
		if _, err := d.Lookup(t.Context(), query(tt.login, v)); err != nil {
			t.Fatalf("Lookup(%q) = %v", tt.login, err)
		}
		if got := countSearches(s) - before; got != tt.want {
			t.Errorf("Lookup(%q) sent %d searches, want %d", tt.login, got, tt.want)
		}
	}
}

// TestSchema2 resolves the users of testdata/ldif/schema2.ldif through the
// organizations below UserGroupDN (docs/reference.md §4.5, Sun LDAP Schema 2).
func TestSchema2(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(ldifFile(t, "schema2.ldif")))
	d, lb := newDir(t, Options{})
	schema2 := []string{"HostedDomains", "yes", "LdapSchemaLevel", "2", "UserGroupDN", "o=internet"}
	siroeAlice := "uid=alice,ou=People,o=siroe.com,o=internet"
	siroe := map[string]string{AttrDomainName: "siroe.com", AttrDomainDN: "o=siroe.com,o=internet"}
	runHosted(t, s, d, schema2, []hostedCase{
		{login: "alice@siroe.com", wantDN: siroeAlice, wantHost: store1, attrs: siroe},
		{login: "alice@siroe.net", wantDN: siroeAlice, wantHost: store1, attrs: siroe}, // associatedDomain
		{login: "alice@varrius.com", wantDN: "uid=alice,ou=People,o=varrius.com,o=internet", wantHost: store2},
		{login: "robert@florizel.com", wantDN: "uid=rsmith,ou=People,o=florizel.com,o=internet", wantHost: store3,
			attrs: map[string]string{AttrDomainPreAuth: "no", AttrDomainReplay: "%U@%V", AttrDomainAllowedServiceAccess: "+imap:ALL"}},
		{login: "alice@sesta.com", wantDN: "uid=alice,ou=People,o=sesta.com,o=internet", wantHost: store1},
		{login: "alice@held.com", wantErr: "ErrUnavailable"},
		{login: "alice@dup.com", wantErr: "ErrUnavailable"},
		{login: "alice@unknown.com", wantErr: "ErrNoUser"},
		{login: "alice@mail.siroe.com", wantErr: "ErrNoUser"}, // no uplevel in Schema 2
		// Without a domain: SearchFormat below UserGroupDN.
		{login: "alice", wantErr: "ErrNoUser"},
		{login: "rsmith", wantDN: "uid=rsmith,ou=People,o=florizel.com,o=internet", wantHost: store3},
		// CertMapDN is the old name of UserGroupDN.
		{login: "alice@varrius.com", settings: []string{"UserGroupDN", "", "CertMapDN", "o=varrius.com,o=internet"},
			wantDN: "uid=alice,ou=People,o=varrius.com,o=internet", wantHost: store2},
		{login: "alice@siroe.com", settings: []string{"UserGroupDN", "o=varrius.com,o=internet"}, wantErr: "ErrNoUser"},
	})
	log := lb.String()
	for _, want := range []string{
		`level=ERROR msg="domain 'dup.com': more than one organization under \"o=internet\"`,
		`level=ERROR msg="domain 'unknown.com' not found in LDAP (-1 )"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if !strings.Contains(s.Log(), `filter="(&(objectClass=sunManagedOrganization)(|(sunPreferredDomain=siroe.com)(associatedDomain=siroe.com)))"`) {
		t.Errorf("slapd log lacks the Schema 2 domain filter")
	}

	// Without UserGroupDN the LdapUrl base is searched, with a warning.
	v := values(t, s, "HostedDomains", "yes", "LdapSchemaLevel", "2")
	if u, err := d.Lookup(t.Context(), query("alice@varrius.com", v)); err != nil || u.MailHosts[0] != store2 {
		t.Errorf("Lookup(alice@varrius.com) without UserGroupDN = %+v, %v; want %s", u, err, store2)
	}
	if !strings.Contains(lb.String(), "LdapSchemaLevel 2 without UserGroupDN") {
		t.Errorf("log lacks the warning about a missing UserGroupDN:\n%s", lb.String())
	}
}

func TestSunReplay(t *testing.T) {
	for in, want := range map[string]string{
		"%U@%V":         "%U@%V",
		"%[surname]@%V": "%A[surname]@%V",
		"%A[uid]":       "%A[uid]",
		"100%%[x]":      "100%%[x]",
		"%":             "%",
	} {
		if got := sunReplay(in); got != want {
			t.Errorf("sunReplay(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDCName(t *testing.T) {
	for _, tt := range []struct{ dn, base, want string }{
		{"dc=siroe,dc=com,o=internet", "o=internet", "siroe.com"},
		{"DC=Siroe, DC=COM, O=Internet", "o=internet", "siroe.com"},
		{"dc=siroe,dc=com,o=other", "o=internet", ""},
		{"o=siroe.com,o=internet", "o=internet", ""},
		{"o=internet", "o=internet", ""},
	} {
		if got := dcName(tt.dn, tt.base); got != tt.want {
			t.Errorf("dcName(%q, %q) = %q, want %q", tt.dn, tt.base, got, tt.want)
		}
	}
}

// Keys of the test tables for the fields of account.Domain.
const (
	AttrDomainName                 = "domain:name"
	AttrDomainDN                   = "domain:dn"
	AttrDomainPreAuth              = "domain:preauth"
	AttrDomainReplay               = "domain:replay"
	AttrDomainAllowedServiceAccess = "domain:allowed"
)

// userAttr reads an attribute of u, or a field of its domain for the
// AttrDomain* keys, as text ("" when absent).
func userAttr(u *account.User, key string) string {
	d := u.Domain
	if d == nil {
		d = &account.Domain{}
	}
	switch key {
	case AttrDomainName:
		return d.Name
	case AttrDomainDN:
		return d.DN
	case AttrDomainPreAuth:
		if d.PreAuth == nil {
			return ""
		}
		if *d.PreAuth {
			return "yes"
		}
		return "no"
	case AttrDomainReplay:
		return d.Replay
	case AttrDomainAllowedServiceAccess:
		return strings.Join(d.AllowedServiceAccess, "$")
	}
	return u.Attr(key)
}
