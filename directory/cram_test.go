package directory

import (
	"errors"
	"strings"
	"testing"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// cramLDIF adds users whose userPassword is hashed, tagged clear text,
// or absent.
const cramLDIF = `dn: uid=hashed,ou=People,o=internet
objectClass: inetOrgPerson
objectClass: inetMailUser
uid: hashed
cn: hashed
sn: hashed
mailHost: 127.0.0.11
userPassword: {SSHA}5en6G6MezRroT3XKqkdPOmY/BfQ=

dn: uid=tagged,ou=People,o=internet
objectClass: inetOrgPerson
objectClass: inetMailUser
uid: tagged
cn: tagged
sn: tagged
mailHost: 127.0.0.11
userPassword: {CLEARTEXT}tagged pw

dn: uid=braces,ou=People,o=internet
objectClass: inetOrgPerson
objectClass: inetMailUser
uid: braces
cn: braces
sn: braces
mailHost: 127.0.0.11
userPassword: {not a scheme}pw

dn: uid=nopw,ou=People,o=internet
objectClass: inetOrgPerson
objectClass: inetMailUser
uid: nopw
cn: nopw
sn: nopw
mailHost: 127.0.0.11
`

// TestClearPassword: with CRAMs, the clear-text userPassword is read for
// CRAM-MD5 and APOP; a hashed one is refused with a log line naming the
// scheme, never the value.
func TestClearPassword(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)), slapd.WithLDIF(cramLDIF))
	d, lb := newDir(t, Options{})
	v := values(t, s, "CRAMs", "yes")
	for _, tt := range []struct {
		login, want, wantErr string
	}{
		{"alice", "alicepw", ""},
		{"jürgen", "juergenpw", ""},
		{"tagged", "tagged pw", ""},
		{"braces", "{not a scheme}pw", ""},
		{"hashed", "", "clear"},
		{"nopw", "", "clear"},
	} {
		u := lookupUser(t, d, query(tt.login, v))
		got, err := d.ClearPassword(t.Context(), v, u)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("ClearPassword(%s) = %q, %v; want %q", tt.login, got, err, tt.want)
		case tt.wantErr != "" && (!errors.Is(err, ErrNoClearPassword) || !errors.Is(err, account.ErrNoUser) || got != ""):
			t.Errorf("ClearPassword(%s) = %q, %v; want ErrNoClearPassword", tt.login, got, err)
		}
	}
	log := lb.String()
	if !strings.Contains(log, `userPassword of \"uid=hashed,ou=People,o=internet\" is stored hashed ({SSHA})`) {
		t.Errorf("log lacks the reason for the hashed password:\n%s", log)
	}
	if !strings.Contains(log, `\"uid=nopw,ou=People,o=internet\" has no userPassword that BindDN may read`) {
		t.Errorf("log lacks the reason for the missing password:\n%s", log)
	}
	for _, secret := range []string{"5en6G6", "alicepw", "tagged pw"} {
		if strings.Contains(log, secret) {
			t.Errorf("log shows %q:\n%s", secret, log)
		}
	}
	// The password is not part of the lookup result, so not of the cache.
	u := lookupUser(t, d, query("alice", v))
	for k, vals := range u.Attrs {
		if strings.EqualFold(k, "userPassword") || strings.Contains(strings.Join(vals, " "), "alicepw") {
			t.Errorf("Lookup(alice).Attrs[%q] = %q: the password is in the lookup result", k, vals)
		}
	}

	// CRAMs off: refused without asking.
	off := values(t, s)
	if _, err := d.ClearPassword(t.Context(), off, u); !errors.Is(err, ErrNoClearPassword) {
		t.Errorf("ClearPassword(alice) with CRAMs off = %v, want ErrNoClearPassword", err)
	}
	// BindDN may not read userPassword (anonymous, here): refused.
	anon := values(t, s, "CRAMs", "yes", "BindDN", "", "BindPass", "")
	if _, err := d.ClearPassword(t.Context(), anon, u); !errors.Is(err, ErrNoClearPassword) {
		t.Errorf("ClearPassword(alice) as an anonymous BindDN = %v, want ErrNoClearPassword", err)
	}
	// The entry is gone.
	gone := &account.User{DN: "uid=gone,ou=People,o=internet"}
	if _, err := d.ClearPassword(t.Context(), v, gone); errKind(err) != "ErrNoUser" || errors.Is(err, ErrNoClearPassword) {
		t.Errorf("ClearPassword(gone) = %v, want ErrNoUser", err)
	}
}

func TestPasswordScheme(t *testing.T) {
	for _, tt := range []struct {
		in, scheme, rest string
		ok               bool
	}{
		{"{SSHA}abc", "SSHA", "abc", true},
		{"{cleartext}pw", "cleartext", "pw", true},
		{"{SHA256-CRYPT}x", "SHA256-CRYPT", "x", true},
		{"plain", "", "", false},
		{"{}x", "", "", false},
		{"{a b}x", "", "", false},
		{"{open", "", "", false},
	} {
		scheme, rest, ok := passwordScheme(tt.in)
		if scheme != tt.scheme || rest != tt.rest || ok != tt.ok {
			t.Errorf("passwordScheme(%q) = %q, %q, %v; want %q, %q, %v", tt.in, scheme, rest, ok, tt.scheme, tt.rest, tt.ok)
		}
	}
}
