package daemon

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// TestPopCertificateLogin: a POP client presenting testcert's alice
// certificate on the SSL port logs in with AUTH EXTERNAL (docs/reference.md §3.7,
// RFC 5034); certmap.conf maps its OU to uid=alice, and the MMP logs in
// to Dovecot as the master user StoreAdmin on alice's behalf with AUTH
// PLAIN (§4.3.4). The login counts for POP-before-SMTP (§4.3.3).
func TestPopCertificateLogin(t *testing.T) {
	env := twostores.Start(t)
	cs := testcert.New(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "log"), 0o700); err != nil {
		t.Fatal(err)
	}
	plainPort, sslPort := testenv.FreePort(t), testenv.FreePort(t)
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList PopProxyAService@127.0.0.1:%d|127.0.0.1:%d\n", plainPort, sslPort) +
			"default:LogDir log\ndefault:LogLevel 6\n",
		"PopProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\n"+
			"default:BindPass %s\ndefault:BacksidePort %d\ndefault:BGExcluded 127.0.0.0|255.0.0.0\n"+
			"default:SSLEnable yes\ndefault:SSLPorts %d\ndefault:SSLCertPEM %s\ndefault:SSLKeyPEM %s\n"+
			"default:SSLClientCAPEM %s\ndefault:CertmapFile certmap.conf\n"+
			"default:StoreAdmin %s\ndefault:StoreAdminPass %s\n"+
			"default:AuthService yes\ndefault:AuthServiceTTL 600\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.POP3Port,
			sslPort, cs.CertFile, cs.KeyFile, cs.CAFile, twostores.MasterUser, twostores.MasterPass),
		"certmap.conf": "certmap default default\ndefault:DNComps\ndefault:FilterComps ou=uid\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plain := fmt.Sprintf("127.0.0.1:%d", plainPort)
	ssl := fmt.Sprintf("127.0.0.1:%d", sslPort)
	startDaemon(t, "AService", []string{"-c", dir}, plain, ssl)

	type popConn struct {
		c *tls.Conn
		r *bufio.Reader
	}
	line := func(p *popConn) string {
		t.Helper()
		p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		s, err := p.r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (after %q)", err, s)
		}
		return strings.TrimSuffix(s, "\r\n")
	}
	// cmd sends a command and returns its status line.
	cmd := func(p *popConn, c string) string {
		t.Helper()
		if _, err := p.c.Write([]byte(c + "\r\n")); err != nil {
			t.Fatalf("send %q: %v", c, err)
		}
		return line(p)
	}
	// multi reads the lines of a multi-line answer up to the dot.
	multi := func(p *popConn) []string {
		t.Helper()
		var out []string
		for l := line(p); l != "."; l = line(p) {
			out = append(out, l)
		}
		return out
	}
	dial := func(cert bool) *popConn {
		t.Helper()
		cfg := cs.ClientConfig("localhost")
		if cert {
			cfg.Certificates = []tls.Certificate{cs.Client}
		}
		tc, err := tls.Dial("tcp", ssl, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tc.Close() })
		p := &popConn{c: tc, r: bufio.NewReader(tc)}
		if g := line(p); !strings.HasPrefix(g, "+OK") {
			t.Fatalf("greeting %q", g)
		}
		return p
	}
	capa := func(p *popConn) string {
		t.Helper()
		if st := cmd(p, "CAPA"); !strings.HasPrefix(st, "+OK") {
			t.Fatalf("CAPA: %q", st)
		}
		return strings.Join(multi(p), "|")
	}

	// Without a certificate EXTERNAL is neither offered nor accepted.
	p := dial(false)
	if all := capa(p); strings.Contains(all, "EXTERNAL") {
		t.Errorf("EXTERNAL offered without a client certificate: %q", all)
	}
	if st := cmd(p, "AUTH EXTERNAL ="); !strings.HasPrefix(st, "-ERR") {
		t.Errorf("EXTERNAL without a certificate: %q", st)
	}
	cmd(p, "QUIT")

	p = dial(true)
	if all := capa(p); !strings.Contains(all, "SASL PLAIN LOGIN EXTERNAL") {
		t.Errorf("EXTERNAL not offered with a client certificate: %q", all)
	}
	if st := cmd(p, "AUTH EXTERNAL ="); !strings.HasPrefix(st, "+OK") {
		t.Fatalf("AUTH EXTERNAL: %q", st)
	}
	if st := cmd(p, "RETR 1"); !strings.HasPrefix(st, "+OK") {
		t.Fatalf("RETR 1: %q", st)
	}
	alice := twostores.User("alice")
	msg := strings.Join(multi(p), "\n")
	if want := "Subject: " + twostores.WelcomeSubject(alice); !strings.Contains(msg, want) {
		t.Errorf("the certificate login reads\n%s\nwant alice's %q", msg, want)
	}
	if want := "This message lives on " + alice.MailHost + "."; !strings.Contains(msg, want) {
		t.Errorf("the certificate login reads\n%s\nwant the body %q", msg, want)
	}
	cmd(p, "QUIT")

	// Remembered for POP-before-SMTP as alice, not as the store
	// administrator.
	user, ok, err := authsvc.Remote{Addr: plain}.Lookup(context.Background(), netip.MustParseAddr("127.0.0.1"))
	if user != "alice" || !ok || err != nil {
		t.Errorf("XQUERYAUTH 127.0.0.1: %q, %v, %v; want alice", user, ok, err)
	}
}
