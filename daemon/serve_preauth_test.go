package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// With -pre the directory checks the password before any store is
// contacted: a wrong password never reaches Dovecot, a right one logs the
// Sun pre-authentication line and lands on the store; the second login is
// served from the auth cache without another LDAP bind (docs/reference.md §2.3, §3.10).
// ImapProxy is the Netscape front end, whose line has no server address.
func TestPreAuthEndToEnd(t *testing.T) {
	env := twostores.Start(t)
	addr, logDir := startImapProxy(t, env, "-pre", "-v", "5")
	alice := twostores.User("alice")
	storeLog := func() string { return env.Store(alice.MailHost).Log() }
	storeLogins := strings.Count(storeLog(), "Login: user=<alice>")

	cl := dialIMAP(t, addr)
	if _, tagged := cl.cmd("LOGIN alice wrong-password"); !strings.Contains(tagged, "NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("wrong password: %s", tagged)
	}
	if strings.Contains(storeLog(), "auth failed") || strings.Contains(storeLog(), "user=<alice>, method=PLAIN") {
		t.Errorf("the store saw the wrong password; PreAuth must stop it at the MMP:\n%s", storeLog())
	}
	binds := env.LDAP.CountBinds(alice.DN)
	for i := 0; i < 2; i++ {
		cl := dialIMAP(t, addr)
		if got := cl.subject("LOGIN alice " + alice.Password); got != twostores.WelcomeSubject(alice) {
			t.Fatalf("alice sees %q", got)
		}
	}
	if got := env.LDAP.CountBinds(alice.DN) - binds; got != 1 {
		t.Errorf("%d LDAP binds as alice for two logins, want 1 (the second from the auth cache)", got)
	}
	if got := strings.Count(storeLog(), "Login: user=<alice>") - storeLogins; got != 2 {
		t.Errorf("the store saw %d logins of alice, want 2", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		logs, _ := filepath.Glob(filepath.Join(logDir, "MMP_*.log"))
		var text []byte
		if len(logs) == 1 {
			text, _ = os.ReadFile(logs[0])
		}
		if strings.Contains(string(text), " alice pre-authenticated - 127.0.0.1\n") {
			if strings.Contains(string(text), alice.Password) {
				t.Errorf("the log holds alice's password")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pre-authentication line in the log:\n%s", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
