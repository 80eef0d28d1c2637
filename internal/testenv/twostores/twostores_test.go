package twostores_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// imapLogin logs in with literals, which carry UTF-8 user names (a quoted
// string may not) and are what the MMP replays to the store.
func imapLogin(t *testing.T, addr, user, pass string) (*testenv.Conn, string) {
	t.Helper()
	c := testenv.Dial(t, addr)
	if g := c.ReadLine(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting from %s = %q", addr, g)
	}
	c.Send("l1 LOGIN {%d}", len(user))
	if r := c.ReadLine(); !strings.HasPrefix(r, "+") {
		t.Fatalf("LOGIN literal: %q", r)
	}
	c.Send("%s {%d}", user, len(pass))
	if r := c.ReadLine(); !strings.HasPrefix(r, "+") {
		t.Fatalf("LOGIN literal: %q", r)
	}
	c.Send("%s", pass)
	for {
		line := c.ReadLine()
		if strings.HasPrefix(line, "l1 ") {
			return c, line
		}
	}
}

func TestTwoStores(t *testing.T) {
	env := twostores.Start(t)
	if env.Store1.IMAPPort != env.Store2.IMAPPort || env.Store1.Host == env.Store2.Host {
		t.Fatalf("stores on %s and %s, want one port on two addresses", env.Store1.IMAPAddr(), env.Store2.IMAPAddr())
	}

	// The directory answers the MMP's question the way ldapsearch shows it.
	out, err := exec.Command(testenv.Binary(t, "ldapsearch"), "-x", "-LLL", "-H", env.LDAP.URL,
		"-b", "o=internet", "(uid=alice)", "mailHost").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	if want := "mailHost: " + twostores.Store1; !strings.Contains(string(out), want) {
		t.Errorf("ldapsearch (uid=alice) mailHost = %q, want %q", out, want)
	}
	if out := env.LDAP.Search(t, "o=internet", "(mailUserStatus=inactive)", "uid"); !strings.Contains(out, "uid: carol") {
		t.Errorf("inactive users = %q, want carol", out)
	}
	if out := env.LDAP.Search(t, "o=internet", "(&(objectClass=inetDomain)(associatedDomain=example.com))", "inetDomainBaseDN"); !strings.Contains(out, "inetDomainBaseDN: o=internet") {
		t.Errorf("domain lookup = %q", out)
	}

	for _, a := range twostores.Accounts {
		t.Run(a.UID, func(t *testing.T) {
			// Directory: the user binds with the password, and the UTF-8
			// uid is found by an equality filter.
			if err := env.LDAP.Bind(a.DN, a.Password); err != nil {
				t.Errorf("LDAP bind: %v", err)
			}
			if out := env.LDAP.Search(t, "o=internet", "(uid="+a.UID+")", "mailHost"); !strings.Contains(out, "mailHost: "+a.MailHost) {
				t.Errorf("Search(uid=%s) = %q, want mailHost %s", a.UID, out, a.MailHost)
			}

			// Home store: login works and the welcome message names it.
			home := env.Store(a.MailHost)
			c, tagged := imapLogin(t, home.IMAPAddr(), a.UID, a.Password)
			if !strings.HasPrefix(tagged, "l1 OK") {
				t.Fatalf("LOGIN on %s = %q", home.IMAPAddr(), tagged)
			}
			if untagged, _ := c.IMAP("s", "SELECT INBOX"); !contains(untagged, "* 1 EXISTS") {
				t.Errorf("SELECT INBOX = %q, want * 1 EXISTS", untagged)
			}
			if untagged, _ := c.IMAP("f", "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"); !contains(untagged, "Subject: "+twostores.WelcomeSubject(a)) {
				t.Errorf("FETCH subject = %q, want %q", untagged, twostores.WelcomeSubject(a))
			}

			// POP3 with USER/PASS.
			p := testenv.Dial(t, home.POP3Addr())
			p.ReadLine()
			p.POP3("USER " + a.UID)
			if r := p.POP3("PASS " + a.Password); !strings.HasPrefix(r, "+OK") {
				t.Errorf("POP3 PASS = %q", r)
			}
			if r := p.POP3("STAT"); !strings.HasPrefix(r, "+OK 1 ") {
				t.Errorf("POP3 STAT = %q, want +OK 1 ...", r)
			}

			// The other store does not know the user, so a misrouted
			// session fails visibly.
			other := env.Store1
			if home == env.Store1 {
				other = env.Store2
			}
			if _, tagged := imapLogin(t, other.IMAPAddr(), a.UID, a.Password); !strings.HasPrefix(tagged, "l1 NO") {
				t.Errorf("LOGIN on the other store %s = %q, want NO", other.IMAPAddr(), tagged)
			}
		})
	}
}

func TestLDIFTemplate(t *testing.T) {
	text := twostores.LDIF(t, "192.0.2.1", "192.0.2.2")
	if strings.Contains(text, "{{") {
		t.Errorf("LDIF left a template action unexpanded")
	}
	for _, a := range twostores.Accounts {
		if a.UID == "jürgen" {
			continue // base64 in the file
		}
		if !strings.Contains(text, "uid: "+a.UID+"\n") {
			t.Errorf("LDIF lacks uid %s", a.UID)
		}
	}
	if n := strings.Count(text, "mailHost: 192.0.2.1\n"); n != 2 {
		t.Errorf("LDIF has %d users on store 1, want 2", n)
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}
