package daemon

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/postfix"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// One AService process runs a POP and an SMTP proxy in front of real
// Dovecot stores and a real Postfix relay. A client that logged in with
// POP may then relay mail through the SMTP proxy from the same address
// (POP-before-SMTP, docs/reference.md §4.3.3, §4.4.1 step 9); another address may not.
func TestPopBeforeSmtpEndToEnd(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.21", "127.0.0.22")
	env := twostores.Start(t)
	relay := postfix.Start(t, postfix.WithXCLIENTHosts("127.0.0.1"))
	dir := t.TempDir()
	popAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	files := map[string]string{
		"AService.cfg":          fmt.Sprintf("default:ServiceList PopProxyAService@%s SmtpProxyAService@%s\n", popAddr, smtpAddr),
		"PopProxyAService.cfg":  popService(env, 600),
		"SmtpProxyAService.cfg": smtpService(relay),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, smtpAddr)

	// bob reads his mail with POP from 127.0.0.21.
	popLogin(t, "127.0.0.21", popAddr, "bob")

	// From the same address, mail to a remote domain is accepted without
	// SMTP AUTH; from another address it is refused by the relay.
	for _, c := range []struct {
		from string
		want string
	}{{"127.0.0.21", "250"}, {"127.0.0.22", "554"}} {
		smtp := dialFrom(t, c.from, smtpAddr)
		steps := []struct{ send, want string }{
			{"", "220"}, {"EHLO client.example", "250"}, {"MAIL FROM:<bob@example.com>", "250"},
			{"RCPT TO:<someone@remote.example>", c.want},
		}
		for _, step := range steps {
			if got := smtp.say(step.send); !strings.HasPrefix(got, step.want) {
				t.Errorf("SMTP from %s %q: %q, want %s", c.from, step.send, got, step.want)
				break
			}
		}
		smtp.say("QUIT")
	}
	relay.WaitLog(t, "client=unknown[127.0.0.21], sasl_method=XCLIENT, sasl_username=bob")
}

// lineConn is a line-at-a-time client for POP and SMTP dialogues.
type lineConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialFrom(t *testing.T, from, addr string) *lineConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &lineConn{t: t, c: c, r: bufio.NewReader(c)}
}

// say sends a line (none if empty) and returns the reply; for a multi-line
// SMTP reply, its last line.
func (l *lineConn) say(line string) string {
	l.t.Helper()
	if line != "" {
		fmt.Fprintf(l.c, "%s\r\n", line)
	}
	for {
		l.c.SetReadDeadline(time.Now().Add(15 * time.Second))
		s, err := l.r.ReadString('\n')
		if err != nil {
			l.t.Fatalf("after %q: %v", line, err)
		}
		if len(s) >= 4 && s[3] == '-' {
			continue
		}
		return strings.TrimRight(s, "\r\n")
	}
}

// A refresh that shortens AuthServiceTTL shortens what the POP proxy
// remembers: a login older than the new lifetime no longer opens
// relaying (XQUERYAUTH, which the SMTP proxies ask, says so), as the
// refresh's change line promises.
func TestRefreshAppliesAuthServiceTTL(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.21")
	env := twostores.Start(t)
	popAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	r := newRig(t, map[string]string{
		"AService.cfg":         "default:ServiceList PopProxyAService@" + popAddr + "\ndefault:LogDir log\n",
		"PopProxyAService.cfg": popService(env, 600),
	})
	r.start(popAddr)
	popLogin(t, "127.0.0.21", popAddr, "bob")
	query := func() string {
		q := dialFrom(t, "127.0.0.1", popAddr)
		defer q.c.Close()
		q.say("")
		return q.say("XQUERYAUTH 127.0.0.21")
	}
	if got := query(); !strings.HasPrefix(got, "+OK bob") {
		t.Fatalf("XQUERYAUTH after the login: %q", got)
	}
	r.write("PopProxyAService.cfg", popService(env, 1))
	if got := r.hup(); !strings.Contains(got, `AuthServiceTTL: "600" -> "1"`) {
		t.Fatalf("refresh status %q", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := query(); !strings.HasPrefix(got, "-ERR") {
		t.Errorf("XQUERYAUTH 1.1 s after a refresh to AuthServiceTTL 1: %q, want -ERR", got)
	}
}

// A POP service added by a refresh beside a running SMTP proxy turns
// POP-before-SMTP on for it: the SMTP proxy asks the POP logins of the
// process from then on, as if both had been there at start.
func TestRefreshAddsPopBeforeSmtp(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.21")
	env := twostores.Start(t)
	relay := postfix.Start(t, postfix.WithXCLIENTHosts("127.0.0.1"))
	popAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	aservice := func(services string) string { return "default:ServiceList " + services + "\ndefault:LogDir log\n" }
	r := newRig(t, map[string]string{
		"AService.cfg":          aservice("SmtpProxyAService@" + smtpAddr),
		"PopProxyAService.cfg":  popService(env, 600),
		"SmtpProxyAService.cfg": smtpService(relay),
	})
	r.start(smtpAddr)
	r.write("AService.cfg", aservice("PopProxyAService@"+popAddr+" SmtpProxyAService@"+smtpAddr))
	if got := r.hup(); !strings.Contains(got, "PopProxy(PopProxyAService.cfg): service added") {
		t.Fatalf("refresh status %q", got)
	}
	popLogin(t, "127.0.0.21", popAddr, "bob")
	smtp := dialFrom(t, "127.0.0.21", smtpAddr)
	for _, step := range []struct{ send, want string }{
		{"", "220"}, {"EHLO client.example", "250"}, {"MAIL FROM:<bob@example.com>", "250"},
		{"RCPT TO:<someone@remote.example>", "250"},
	} {
		if got := smtp.say(step.send); !strings.HasPrefix(got, step.want) {
			t.Fatalf("SMTP %q: %q, want %s", step.send, got, step.want)
		}
	}
	smtp.say("QUIT")
}

// popService is a PopProxyAService.cfg for the stores of env with
// AuthService on and AuthServiceTTL ttl seconds.
func popService(env *twostores.Env, ttl int) string {
	return fmt.Sprintf(`default:LdapUrl "ldap://%s:%d/%s"
default:BindDN "%s"
default:BindPass %s
default:BacksidePort %d
default:HostedDomains no
default:AuthService yes
default:AuthServiceTTL %d
default:BGExcluded 127.0.0.0/8
`, env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.POP3Port, ttl)
}

// smtpService is a SmtpProxyAService.cfg that relays to relay and
// announces the client (and its POP login) with XCLIENT.
func smtpService(relay *postfix.Server) string {
	return "default:SmtpRelays " + relay.Addr() + "\ndefault:SmtpRelayAnnounce xclient\ndefault:Timeout 600\n"
}

// popLogin logs user in and out with POP from the address from.
func popLogin(t *testing.T, from, addr, user string) {
	t.Helper()
	c := dialFrom(t, from, addr)
	for _, step := range []struct{ send, want string }{
		{"", "+OK"}, {"USER " + user, "+OK"}, {"PASS " + twostores.User(user).Password, "+OK"}, {"QUIT", "+OK"},
	} {
		if got := c.say(step.send); !strings.HasPrefix(got, step.want) {
			t.Fatalf("POP %q: %q", step.send, got)
		}
	}
}
