package slapd_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

const alice = "uid=alice,ou=People,o=internet"

const people = `dn: ou=People,o=internet
objectClass: organizationalUnit
ou: People

dn: uid=alice,ou=People,o=internet
objectClass: inetOrgPerson
objectClass: inetUser
objectClass: inetMailUser
objectClass: inetLocalMailRecipient
uid: alice
cn: Alice
sn: Liddell
mail: alice@example.com
userPassword: alicepw
mailHost: 127.0.0.11
mailUserStatus: active
inetUserStatus: active
mailAllowedServiceAccess: +imap,pop3:*
`

// ldapsearch runs the real client the way an administrator would, bound as
// dn (anonymous when dn is empty).
func ldapsearch(t *testing.T, s *slapd.Server, dn, pw, filter string, attrs ...string) string {
	t.Helper()
	args := []string{"-x", "-LLL", "-H", s.URL, "-b", s.BaseDN}
	if dn != "" {
		args = append(args, "-D", dn, "-w", pw)
	}
	cmd := exec.Command(testenv.Binary(t, "ldapsearch"), append(append(args, filter), attrs...)...)
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch %q: %v\n%s", filter, err, out)
	}
	return string(out)
}

// pw is how ldapsearch prints a userPassword value: always base64, because
// the syntax is an octet string.
func pw(clear string) string {
	return "userPassword:: " + base64.StdEncoding.EncodeToString([]byte(clear))
}

func TestStartSearchBind(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.WithLDIF(people))
	if !strings.HasPrefix(s.URL, "ldap://127.0.0.1:") {
		t.Errorf("URL = %q, want ldap://127.0.0.1:port", s.URL)
	}

	if out := ldapsearch(t, s, "", "", "(uid=alice)", "mailHost"); !strings.Contains(out, "mailHost: 127.0.0.11") {
		t.Errorf("ldapsearch (uid=alice) mailHost = %q, want mailHost: 127.0.0.11", out)
	}
	if out := s.Search(t, s.BaseDN, `(mailAllowedServiceAccess=+imap,pop3:\2a)`, "uid"); !strings.Contains(out, "uid: alice") {
		t.Errorf("Search(mailAllowedServiceAccess) = %q, want alice", out)
	}

	before := s.CountBinds(alice)
	if err := s.Bind(alice, "alicepw"); err != nil {
		t.Errorf("Bind(alice, right password) = %v", err)
	}
	if err := s.Bind(alice, "wrong"); err == nil {
		t.Errorf("Bind(alice, wrong password) = nil, want invalid credentials")
	}
	// The DN as a client may spell it.
	if got := s.CountBinds("UID=alice, ou=People, o=internet") - before; got != 2 {
		t.Errorf("CountBinds(alice) grew by %d, want 2\n%s", got, s.Log())
	}
	if got := s.CountBinds(s.ProxyDN); got != 0 {
		t.Errorf("CountBinds(proxy) = %d, want 0", got)
	}
}

func TestACL(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.WithLDIF(people))
	if err := s.Bind(s.ProxyDN, s.ProxyPass); err != nil {
		t.Fatalf("Bind(proxy) = %v", err)
	}
	// The proxy reads passwords in clear text (CRAM-MD5, APOP).
	if out := ldapsearch(t, s, s.ProxyDN, s.ProxyPass, "(uid=alice)", "userPassword"); !strings.Contains(out, pw("alicepw")) {
		t.Errorf("proxy search userPassword = %q, want userPassword: alicepw", out)
	}
	// Nobody else does, not even another user.
	if out := ldapsearch(t, s, "", "", "(uid=alice)", "userPassword"); strings.Contains(out, "userPassword") {
		t.Errorf("anonymous search userPassword = %q, want no password", out)
	}
	// Users read their own entry, password included.
	if out := ldapsearch(t, s, alice, "alicepw", "(uid=alice)", "userPassword", "mailHost"); !strings.Contains(out, pw("alicepw")) || !strings.Contains(out, "mailHost:") {
		t.Errorf("self search = %q", out)
	}
}

func TestModifySetPassword(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.WithLDIF(people))
	s.SetPassword(t, alice, "new password ü")
	if err := s.Bind(alice, "alicepw"); err == nil {
		t.Errorf("Bind(alice, old password) = nil after SetPassword")
	}
	if err := s.Bind(alice, "new password ü"); err != nil {
		t.Errorf("Bind(alice, new password) = %v", err)
	}
	// Stored as given, not hashed.
	if out := s.Search(t, alice, "(objectClass=*)", "userPassword"); !strings.Contains(out, slapd.LDIFLine("userPassword", "new password ü")) {
		t.Errorf("userPassword after SetPassword = %q, want clear text", out)
	}

	s.Modify(t, "dn: "+alice+"\nchangetype: modify\nreplace: mailUserStatus\nmailUserStatus: inactive\n")
	if out := s.Search(t, s.BaseDN, "(uid=alice)", "mailUserStatus"); !strings.Contains(out, "mailUserStatus: inactive") {
		t.Errorf("mailUserStatus after Modify = %q", out)
	}

	s.LoadLDIF(t, `dn: dc=com,o=internet
objectClass: domain
dc: com

dn: dc=example,dc=com,o=internet
objectClass: domain
objectClass: inetDomain
objectClass: mailDomain
dc: example
inetDomainBaseDN: o=internet
inetDomainStatus: active
mailDomainStatus: active
mailAccessProxyPreAuth: no
mailAccessProxyReplay: %U@%V
domainUidSeparator: @
mailDomainAllowedServiceAccess: -pop3:*
`)
	if out := s.Search(t, s.BaseDN, "(inetDomainBaseDN=o=internet)", "dc"); !strings.Contains(out, "dc: example") {
		t.Errorf("domain search = %q", out)
	}
}

func TestSuffixAndSchema(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t,
		slapd.WithSuffix("dc=example,dc=org"),
		slapd.WithSchema(`attributetype ( 1.3.6.1.4.1.32473.99.1 NAME 'testAttr' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.32473.99.2 NAME 'testAux' SUP top AUXILIARY MAY testAttr )`),
		slapd.WithLDIF("dn: cn=x,dc=example,dc=org\nobjectClass: device\nobjectClass: testAux\ncn: x\ntestAttr: hello\n"),
	)
	if s.ProxyDN != "cn=mmp,dc=example,dc=org" {
		t.Errorf("ProxyDN = %q", s.ProxyDN)
	}
	if out := s.Search(t, "dc=example,dc=org", "(testAttr=hello)", "cn"); !strings.Contains(out, "cn: x") {
		t.Errorf("Search(testAttr) = %q", out)
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.WithLDIF(people))
	url := s.URL
	s.Stop()
	if s.Running() {
		t.Fatal("Running() after Stop = true")
	}
	if err := s.Bind(alice, "alicepw"); err == nil {
		t.Fatal("Bind after Stop succeeded")
	}
	s.Restart(t)
	if s.URL != url {
		t.Errorf("URL after Restart = %q, want %q", s.URL, url)
	}
	if err := s.Bind(alice, "alicepw"); err != nil {
		t.Errorf("Bind after Restart = %v", err)
	}
	// The log spans restarts, so counts do too; the bind while stopped
	// never reached slapd.
	if err := s.Bind(alice, "alicepw"); err != nil {
		t.Errorf("Bind after Restart = %v", err)
	}
	if got := s.CountBinds(alice); got != 2 {
		t.Errorf("CountBinds(alice) = %d, want 2", got)
	}
}
