package daemon

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// TestCertificateLogin: a client presenting testcert's alice certificate
// on the SSL port logs in with AUTHENTICATE EXTERNAL (docs/reference.md §3.7,
// §4.2.3); certmap.conf maps its OU to uid=alice, and the MMP logs in to
// Dovecot as the master user StoreAdmin on alice's behalf (§4.2.5).
func TestCertificateLogin(t *testing.T) {
	env := twostores.Start(t)
	cs := testcert.New(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "log"), 0o700); err != nil {
		t.Fatal(err)
	}
	plainPort, sslPort := testenv.FreePort(t), testenv.FreePort(t)
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList ImapProxyAService@127.0.0.1:%d|127.0.0.1:%d\n", plainPort, sslPort) +
			"default:LogDir log\ndefault:LogLevel 6\n",
		"ImapProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\n"+
			"default:BindPass %s\ndefault:BacksidePort %d\ndefault:BGExcluded 127.0.0.0|255.0.0.0\n"+
			"default:SSLEnable yes\ndefault:SSLPorts %d\ndefault:SSLCertPEM %s\ndefault:SSLKeyPEM %s\n"+
			"default:SSLClientCAPEM %s\ndefault:CertmapFile certmap.conf\n"+
			"default:StoreAdmin %s\ndefault:StoreAdminPass %s\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort,
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

	dial := func(cert bool) *imapClient {
		cfg := cs.ClientConfig("localhost")
		if cert {
			cfg.Certificates = []tls.Certificate{cs.Client}
		}
		tc, err := tls.Dial("tcp", ssl, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tc.Close() })
		cl := &imapClient{t: t, c: tc, r: bufio.NewReader(tc)}
		if g := cl.line(); !strings.HasPrefix(g, "* OK ") {
			t.Fatalf("greeting %q", g)
		}
		return cl
	}

	// Without a certificate EXTERNAL is neither offered nor accepted.
	cl := dial(false)
	if all, _ := cl.cmd("CAPABILITY"); strings.Contains(all, "AUTH=EXTERNAL") {
		t.Errorf("AUTH=EXTERNAL offered without a client certificate: %q", all)
	}
	if _, tagged := cl.cmd("AUTHENTICATE EXTERNAL ="); !strings.Contains(tagged, " NO ") {
		t.Errorf("EXTERNAL without a certificate: %s", tagged)
	}
	cl.cmd("LOGOUT")

	cl = dial(true)
	if all, _ := cl.cmd("CAPABILITY"); !strings.Contains(all, "AUTH=EXTERNAL") {
		t.Errorf("AUTH=EXTERNAL not offered with a client certificate: %q", all)
	}
	alice := twostores.User("alice")
	if got := cl.subject("AUTHENTICATE EXTERNAL ="); got != twostores.WelcomeSubject(alice) {
		t.Errorf("the certificate login sees %q, want alice's %q", got, twostores.WelcomeSubject(alice))
	}
	cl.cmd("LOGOUT")
}
