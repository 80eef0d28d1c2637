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

// An AService instance in front of the real directory and stores, with a
// vdmap that gives each server address its own default domain. Users are
// found by mail address, (mail=%s), and replayed to the store by uid,
// %A[uid], as a Sun site that logs in by address does.
func TestVirtualDomainsEndToEnd(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.2", "127.0.0.3")
	env := twostores.Start(t)
	dir := t.TempDir()
	port := testenv.FreePortOn(t, "127.0.0.2", "127.0.0.3")
	example := fmt.Sprintf("127.0.0.2:%d", port)
	other := fmt.Sprintf("127.0.0.3:%d", port)
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList ImapProxyAService@%s|%s\ndefault:LogDir log\n", example, other),
		"ImapProxyAService.cfg": fmt.Sprintf(`default:LdapUrl "ldap://%s:%d/%s"
default:BindDN "%s"
default:BindPass %s
default:BacksidePort %d
default:HostedDomains no
default:SearchFormat (mail=%%s)
default:ReplayFormat %%A[uid]
default:VirtualDomainDelim @+
default:VirtualDomainFile vdmap.cfg
default:AuthFailureDelay 0
`, env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort),
		"vdmap.cfg": `# short logins on each address get that address's domain
vdmap example 127.0.0.2
example:DefaultDomain example.com

vdmap other 127.0.0.3
other:DefaultDomain other.example
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, example)
	alice, bob := twostores.User("alice"), twostores.User("bob")

	t.Run("short name on the example.com address", func(t *testing.T) {
		cl := dialIMAP(t, example)
		if got := cl.subject("LOGIN alice " + alice.Password); got != twostores.WelcomeSubject(alice) {
			t.Errorf("alice sees %q", got)
		}
	})
	t.Run("second delimiter, scanned from the end", func(t *testing.T) {
		cl := dialIMAP(t, other)
		if got := cl.subject("LOGIN bob+example.com " + bob.Password); got != twostores.WelcomeSubject(bob) {
			t.Errorf("bob+example.com sees %q", got)
		}
	})
	t.Run("short name on the other address is another user", func(t *testing.T) {
		cl := dialIMAP(t, other)
		if _, tagged := cl.cmd("LOGIN alice %s", alice.Password); !strings.Contains(tagged, "NO [AUTHENTICATIONFAILED]") {
			t.Errorf("alice@other.example: %s, want the failed-login reply", tagged)
		}
	})
	t.Run("pipelined commands before and after login", func(t *testing.T) {
		cl := dialIMAP(t, example)
		fmt.Fprintf(cl.c, "p1 CAPABILITY\r\np2 NOOP\r\np3 LOGIN alice %s\r\np4 SELECT INBOX\r\np5 LOGOUT\r\n", alice.Password)
		var tagged []string
		for len(tagged) < 5 {
			l := cl.line()
			if strings.HasPrefix(l, "p") {
				tagged = append(tagged, strings.Fields(l)[0]+" "+strings.Fields(l)[1])
			}
		}
		if got := strings.Join(tagged, ","); got != "p1 OK,p2 OK,p3 OK,p4 OK,p5 OK" {
			t.Errorf("pipelined replies %s", got)
		}
	})
	t.Run("an over-long line is refused and the session goes on", func(t *testing.T) {
		cl := dialIMAP(t, example)
		if _, tagged := cl.cmd("NOOP %s", strings.Repeat("x", 20000)); !strings.Contains(tagged, "BAD") {
			t.Errorf("over-long line: %s, want BAD", tagged)
		}
		if got := cl.subject("LOGIN alice " + alice.Password); got != twostores.WelcomeSubject(alice) {
			t.Errorf("after the long line alice sees %q", got)
		}
	})
}
