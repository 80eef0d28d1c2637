package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/haproxy"
	"github.com/openmmp/mmp/internal/testenv/postfix"
	"github.com/openmmp/mmp/internal/testenv/twostores"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// Two MMPs behind a real HAProxy (send-proxy-v2), as a large site runs
// them: a client on 127.0.0.5 logs in through the balancer; the MMP's
// log names 127.0.0.5 (not HAProxy's 127.0.0.1), ConnLimits counts
// 127.0.0.5, and with StoreAnnounce id Dovecot (login_trusted_networks)
// logs rip=127.0.0.5 too.
func TestBehindHAProxy(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.5", "127.0.0.6")
	env := twostores.Start(t, twostores.WithStores(dovecot.WithConfig("login_trusted_networks = 127.0.0.0/8")))
	bin := buildAService(t, t.TempDir())
	var mmps, logDirs []string
	for i := range 2 {
		dir := t.TempDir()
		logDir := filepath.Join(dir, "log")
		for _, d := range []string{logDir, filepath.Join(dir, "run")} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		files := map[string]string{
			"AService.cfg": fmt.Sprintf("default:ServiceList ImapProxyAService@%s\n", addr),
			"ImapProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\n"+
				"default:BacksidePort %d\ndefault:AuthFailureDelay 0\ndefault:LogLevel 7\n"+
				"default:ProxyProtocolPorts %s\ndefault:ProxyProtocolTrusted 127.0.0.1\n"+
				"default:StoreAnnounce id\ndefault:ConnLimits \"127.0.0.5|255.255.255.255:2\"\n",
				env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort, addr),
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// Two processes, as a site runs them.
		if run := startAService(t, bin, dir); run.code != -1 {
			t.Fatalf("AService %d exited with %d: %s", i+1, run.code, run.stderr)
		}
		mmps, logDirs = append(mmps, addr), append(logDirs, logDir)
	}
	lb := haproxy.Start(t, mmps)
	alice := twostores.User("alice")

	// Two logins of alice from 127.0.0.5, one on each MMP (round robin).
	var held []*proxytest.Client
	for range 2 {
		cl := proxytest.Dial(t, lb.Addr(), "127.0.0.5")
		cl.ExpectPrefix("* OK")
		cl.Send("a LOGIN alice " + alice.Password + "\r\n")
		cl.ExpectPrefix("a OK")
		held = append(held, cl)
	}
	// Each MMP logged the client, not the balancer.
	for i, logDir := range logDirs {
		waitLog(t, logDir, "ImapProxy_*.log", regexp.MustCompile(`\(id \d+\) connection from 127\.0\.0\.5:\d+ to 127\.0\.0\.1:\d+`), fmt.Sprintf("MMP %d", i+1))
	}
	// Dovecot names the client.
	store := env.Store(alice.MailHost)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(store.Log(), "user=<alice>, method=PLAIN, rip=127.0.0.5") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Dovecot does not name the client:\n%s", store.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ConnLimits (2 for 127.0.0.5 on each MMP) counts the client: two
	// more connections, one per MMP, are refused while another client
	// behind the same balancer is served.
	for range 2 {
		cl := proxytest.Dial(t, lb.Addr(), "127.0.0.5")
		cl.Send("") // nothing: the refusal comes first
		if got := cl.Line(); !strings.HasPrefix(got, "* OK") {
			// An MMP holding one of alice's sessions still takes one more.
			if !strings.HasPrefix(got, "* BYE") {
				t.Errorf("third connection of 127.0.0.5: %q", got)
			}
		}
	}
	other := proxytest.Dial(t, lb.Addr(), "127.0.0.6")
	other.ExpectPrefix("* OK")
	_ = held
}

// waitLog waits until a log file of dir matching glob has a line matching re.
func waitLog(t *testing.T, dir, glob string, re *regexp.Regexp, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, glob))
		var text []byte
		for _, f := range files {
			b, _ := os.ReadFile(f)
			text = append(text, b...)
		}
		if re.Match(text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no log line matching %s:\n%s", what, re, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The SMTP proxy behind HAProxy tells Postfix the real client: XCLIENT
// ADDR=127.0.0.5, not the balancer's address, so Postfix logs and judges
// the client (and refuses it relaying, as it should).
func TestSMTPBehindHAProxy(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.5")
	pf := postfix.Start(t, postfix.WithXCLIENTHosts("127.0.0.1"))
	dir := t.TempDir()
	for _, d := range []string{"log", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList SmtpProxyAService@%s\n", addr),
		"SmtpProxyAService.cfg": fmt.Sprintf("default:SmtpRelays %s\ndefault:SmtpRelayAnnounce xclient\n"+
			"default:ProxyProtocolPorts %s\ndefault:ProxyProtocolTrusted 127.0.0.1\n", pf.Addr(), addr),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if run := startAService(t, buildAService(t, t.TempDir()), dir); run.code != -1 {
		t.Fatalf("AService exited with %d: %s", run.code, run.stderr)
	}
	lb := haproxy.Start(t, []string{addr}, haproxy.WithProxyV1())
	cl := proxytest.Dial(t, lb.Addr(), "127.0.0.5")
	cl.ExpectPrefix("220 ")
	cl.Send("EHLO client.example\r\n")
	for l := cl.Line(); !strings.HasPrefix(l, "250 "); l = cl.Line() {
	}
	cl.Send("MAIL FROM:<mallory@example.org>\r\n")
	cl.ExpectPrefix("250 ")
	cl.Send("RCPT TO:<victim@remote.example>\r\n")
	cl.ExpectPrefix("554 5.7.1 ")
	pf.WaitLog(t, "RCPT from unknown[127.0.0.5]")
}
