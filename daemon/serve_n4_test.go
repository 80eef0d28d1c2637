package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// netscapeLDIF is a Netscape Messaging Server 4.x directory: no DC tree
// (hosted domains came with Sun 5.x), the users under the base DN, and a
// virtual-domain user whose uid has the Netscape form userid+virtual.domain
// (Netscape Messaging Server 4.x Administrator's Guide, Table 13.3,
// CanonicalVirtualDomainDelim: "user IDs passed to LDAP and the message
// store servers have the form userid+virtual.domain"). The plain jdoe has
// the same password, so that a login routed or replayed as the wrong one
// of the two lands in the wrong mailbox instead of failing.
const netscapeLDIF = `dn: ou=People,o=mcom.com
objectClass: top
objectClass: organizationalUnit
ou: People

dn: uid=jdoe\+mcom.com,ou=People,o=mcom.com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: jdoe+mcom.com
cn: John Doe
sn: Doe
userPassword: jdoepw
mailHost: %[1]s

dn: uid=jdoe,ou=People,o=mcom.com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: jdoe
cn: Jane Doe
sn: Doe
userPassword: jdoepw
mailHost: %[1]s
`

// TestNetscapeDirectoryEndToEnd runs ImapProxy the way a Netscape ImapMMP
// script does, with the Sun guide's default base DN o=mcom.com and no Sun
// option: jdoe@mcom.com is searched for under the base DN, as Netscape 4.x
// did, rather than in a DC tree the directory does not have, and logged
// in to the store with the same userid+virtual.domain form.
func TestNetscapeDirectoryEndToEnd(t *testing.T) {
	store := dovecot.Start(t,
		dovecot.WithUser("jdoe+mcom.com", "jdoepw"), dovecot.WithMessage("jdoe+mcom.com", welcome("jdoe+mcom.com")),
		dovecot.WithUser("jdoe", "jdoepw"), dovecot.WithMessage("jdoe", welcome("jdoe")))
	ldap := slapd.Start(t, slapd.WithSuffix("o=mcom.com"), slapd.WithLDIF(fmt.Sprintf(netscapeLDIF, store.Host)))
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startDaemon(t, "ImapProxy", []string{
		"-p", addr,
		"-h", fmt.Sprintf("%s:%d", ldap.Host, ldap.Port),
		"-b", "o=mcom.com",
		"-D", ldap.ProxyDN, "-w", ldap.ProxyPass,
		"-c", strconv.Itoa(store.IMAPPort),
		"-o", t.TempDir(),
		"--BGExcluded", "127.0.0.0/8",
	}, addr)

	// The store is told the Netscape user id too: jdoe@mcom.com is
	// jdoe+mcom.com there, not the plain jdoe of the same password.
	for login, owner := range map[string]string{"jdoe@mcom.com": "jdoe+mcom.com", "jdoe+mcom.com": "jdoe+mcom.com", "jdoe": "jdoe"} {
		got := dialIMAP(t, addr).subject("LOGIN " + login + " jdoepw")
		if want := "mailbox of " + owner; got != want {
			t.Errorf("LOGIN %s: INBOX subject %q, want %q", login, got, want)
		}
	}
}

// welcome is a one-message mailbox naming its owner.
func welcome(user string) string {
	return "From: postmaster@mcom.com\r\nSubject: mailbox of " + user + "\r\n\r\nhello\r\n"
}

// A Netscape vdmap (-vd) with the guide's VDomain property, "the virtual
// domain name to append to incoming user names": jdoe reaching the MMP on
// the domain's address is searched for and logged in to the store as
// jdoe+mcom.com (CanonicalVirtualDomainDelim +), and on another address
// stays the plain jdoe.
func TestNetscapeVDomainEndToEnd(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.2")
	store := dovecot.Start(t,
		dovecot.WithUser("jdoe+mcom.com", "jdoepw"), dovecot.WithMessage("jdoe+mcom.com", welcome("jdoe+mcom.com")),
		dovecot.WithUser("jdoe", "jdoepw"), dovecot.WithMessage("jdoe", welcome("jdoe")))
	ldap := slapd.Start(t, slapd.WithSuffix("o=mcom.com"), slapd.WithLDIF(fmt.Sprintf(netscapeLDIF, store.Host)))
	dir := t.TempDir()
	vdmap := filepath.Join(dir, "vdmap")
	if err := os.WriteFile(vdmap, []byte("vdmap mcom 127.0.0.2\nmcom:VDomain mcom.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePortOn(t, "127.0.0.1", "127.0.0.2")
	startDaemon(t, "ImapProxy", []string{
		"-p", fmt.Sprintf("127.0.0.1:%d|127.0.0.2:%d", port, port),
		"-h", fmt.Sprintf("%s:%d", ldap.Host, ldap.Port),
		"-b", "o=mcom.com",
		"-D", ldap.ProxyDN, "-w", ldap.ProxyPass,
		"-c", strconv.Itoa(store.IMAPPort),
		"-o", dir,
		"-vd", vdmap,
		"--BGExcluded", "127.0.0.0/8",
	}, fmt.Sprintf("127.0.0.1:%d", port))
	for addr, owner := range map[string]string{"127.0.0.2": "jdoe+mcom.com", "127.0.0.1": "jdoe"} {
		got := dialIMAP(t, fmt.Sprintf("%s:%d", addr, port)).subject("LOGIN jdoe jdoepw")
		if want := "mailbox of " + owner; got != want {
			t.Errorf("LOGIN jdoe on %s: INBOX subject %q, want %q", addr, got, want)
		}
	}
}
