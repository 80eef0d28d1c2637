package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// Access filters stored in the directory (docs/reference.md §3.6): bob's own
// mailAllowedServiceAccess lets him use POP but not IMAP, and the domain
// example.com's mailDomainAllowedServiceAccess closes IMAP for its users
// who have no filter of their own. Checked through one AService running
// IMAP and POP against the real slapd and Dovecot.
func TestDirectoryAccessFiltersEndToEnd(t *testing.T) {
	env := twostores.Start(t)
	bob, alice := twostores.User("bob"), twostores.User("alice")
	env.LDAP.Modify(t, "dn: "+bob.DN+"\nchangetype: modify\nadd: mailAllowedServiceAccess\nmailAllowedServiceAccess: +pop:ALL\n")
	env.LDAP.Modify(t, "dn: dc=example,dc=com,o=internet\nchangetype: modify\nadd: mailDomainAllowedServiceAccess\nmailDomainAllowedServiceAccess: -imap:ALL\n")

	dir := t.TempDir()
	imapAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	popAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	common := fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\ndefault:BGExcluded 127.0.0.0/8\ndefault:AuthFailureDelay 0\n",
		env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass)
	files := map[string]string{
		"AService.cfg":          fmt.Sprintf("default:ServiceList ImapProxyAService@%s PopProxyAService@%s\n", imapAddr, popAddr),
		"ImapProxyAService.cfg": common + fmt.Sprintf("default:BacksidePort %d\n", env.IMAPPort),
		"PopProxyAService.cfg":  common + fmt.Sprintf("default:BacksidePort %d\n", env.POP3Port),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, imapAddr)

	imapLogin := func(user, pass string) string {
		_, tagged := dialIMAP(t, imapAddr).cmd("LOGIN %s %s", user, pass)
		return tagged
	}
	popLogin := func(user, pass string) string {
		c := dialFrom(t, "127.0.0.1", popAddr)
		c.say("")
		c.say("USER " + user)
		return c.say("PASS " + pass)
	}
	for _, tt := range []struct {
		proto, user, pass string
		ok                bool
	}{
		{"imap", "bob", bob.Password, false},                 // his own filter: POP only
		{"pop", "bob", bob.Password, true},                   //
		{"imap", "alice@example.com", alice.Password, false}, // the domain's filter
		{"pop", "alice@example.com", alice.Password, true},   //
		{"imap", "alice", alice.Password, true},              // no domain, no filter
		{"imap", "bob@example.com", bob.Password, false},     // his filter, not the domain's, decides: still no IMAP
		{"pop", "bob@example.com", bob.Password, true},       //
	} {
		var reply string
		var ok bool
		if tt.proto == "imap" {
			reply = imapLogin(tt.user, tt.pass)
			ok = strings.Contains(reply, " OK ")
		} else {
			reply = popLogin(tt.user, tt.pass)
			ok = strings.HasPrefix(reply, "+OK")
		}
		if ok != tt.ok {
			t.Errorf("%s login of %s: %q, want ok=%v", tt.proto, tt.user, reply, tt.ok)
		}
	}
}
