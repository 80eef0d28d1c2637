package daemon

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// TestAServiceTLS: the SSL parameters of ImapProxyAService.cfg reach the
// running service (daemon/tls.go): STARTTLS on the plain port, TLS from
// the start on the SSLPorts port, and a login through it to Dovecot.
func TestAServiceTLS(t *testing.T) {
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
			"default:RestrictPlainPasswords yes\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort,
			sslPort, cs.CertFile, cs.KeyFile),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plain := fmt.Sprintf("127.0.0.1:%d", plainPort)
	ssl := fmt.Sprintf("127.0.0.1:%d", sslPort)
	startDaemon(t, "AService", []string{"-c", dir}, plain, ssl)

	c, err := net.Dial("tcp", plain)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	g, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.Contains(g, "STARTTLS") || !strings.Contains(g, "LOGINDISABLED") {
		t.Errorf("plain greeting %q, want STARTTLS and LOGINDISABLED", g)
	}

	tc, err := tls.Dial("tcp", ssl, cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	cl := &imapClient{t: t, c: tc, r: bufio.NewReader(tc)}
	if g := cl.line(); !strings.HasPrefix(g, "* OK ") || strings.Contains(g, "STARTTLS") || strings.Contains(g, "LOGINDISABLED") {
		t.Fatalf("SSL port greeting %q", g)
	}
	bob := twostores.User("bob")
	if got := cl.subject("LOGIN bob bobpw"); got != twostores.WelcomeSubject(bob) {
		t.Errorf("bob sees %q", got)
	}
	cl.cmd("LOGOUT")
}

// TestNetscapeSSLLine: ImapProxy started with the Netscape -s line and
// its cipher list (Netscape Messaging Server 4.x Administrator's Guide,
// Tables 13.3 and 13.5), plus the PEM files Go needs, serves TLS on the
// -ps port with a modern suite instead of refusing it.
func TestNetscapeSSLLine(t *testing.T) {
	env := twostores.Start(t)
	cs := testcert.New(t)
	ssl := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	ciphers := "SSL_RSA_WITH_RC4_128_MD5:SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA:SSL_RSA_WITH_3DES_EDE_CBC_SHA:SSL_RSA_FIPS_WITH_DES_CBC_SHA:" +
		"SSL_RSA_WITH_DES_CBC_SHA:SSL_RSA_EXPORT_WITH_RC4_40_MD5:SSL_RSA_EXPORT_WITH_RC2_CBC_40_MD5:SSL_RSA_WITH_NULL_MD5"
	startImapProxy(t, env, "-ps", ssl, "-s", "", "cert7.db", "key3.db", "", ciphers, "Server-Cert",
		"--SSLCertPEM", cs.CertFile, "--SSLKeyPEM", cs.KeyFile)

	cfg := cs.ClientConfig("localhost")
	cfg.MaxVersion = tls.VersionTLS12 // TLS 1.3 suites are not configurable
	tc, err := tls.Dial("tcp", ssl, cfg)
	if err != nil {
		t.Fatalf("TLS on the -ps port: %v", err)
	}
	t.Cleanup(func() { tc.Close() })
	if s := tc.ConnectionState().CipherSuite; !strings.HasPrefix(tls.CipherSuiteName(s), "TLS_ECDHE_") {
		t.Errorf("suite %s, want a modern ECDHE one", tls.CipherSuiteName(s))
	}
	cl := &imapClient{t: t, c: tc, r: bufio.NewReader(tc)}
	if g := cl.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	bob := twostores.User("bob")
	if got := cl.subject("LOGIN bob bobpw"); got != twostores.WelcomeSubject(bob) {
		t.Errorf("bob sees %q", got)
	}
}

// AService started on a relative instance directory (its default is
// "config") with relative certificate names, as mmp-setup writes them,
// serves TLS on its SSL port at start and after a refresh: the check of
// the configuration and the service each resolve the names once.
func TestAServiceTLSRelativeDir(t *testing.T) {
	cs := testcert.New(t)
	parent := t.TempDir()
	t.Chdir(parent)
	dir := "inst"
	for _, d := range []string{dir, filepath.Join(dir, "log"), filepath.Join(dir, "run")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for src, dst := range map[string]string{cs.CertFile: "cert.pem", cs.KeyFile: "key.pem"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plain := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	sslPort := testenv.FreePort(t)
	ssl := fmt.Sprintf("127.0.0.1:%d", sslPort)
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList ImapProxyAService@%s|%s\ndefault:LogDir log\n", plain, ssl),
		"ImapProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\n"+
			"default:SSLEnable yes\ndefault:SSLPorts %d\ndefault:SSLCertPEM cert.pem\ndefault:SSLKeyPEM key.pem\n", sslPort),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, plain, ssl)
	handshake := func(when string) {
		t.Helper()
		tc, err := tls.Dial("tcp", ssl, cs.ClientConfig("localhost"))
		if err != nil {
			t.Fatalf("%s: TLS on the SSL port: %v", when, err)
		}
		defer tc.Close()
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if g, _ := bufio.NewReader(tc).ReadString('\n'); !strings.HasPrefix(g, "* OK ") {
			t.Errorf("%s: greeting %q", when, g)
		}
	}
	handshake("at start")
	status := RefreshStatusFile(dir, os.Getpid())
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	if got := waitFile(t, status); !strings.HasPrefix(got, "ok: ") {
		t.Fatalf("refresh: %q", got)
	}
	handshake("after a refresh")
}

// TestTLSResumesAcrossRefresh: a real client with a session cache
// (crypto/tls) resumes its TLS session on the SSL port, also after a
// refresh, which builds a new TLS configuration: the session ticket keys
// are the service's, rotated on refresh with the previous one still
// accepted (tlsconf.TicketKeys).
func TestTLSResumesAcrossRefresh(t *testing.T) {
	cs := testcert.New(t)
	dir := t.TempDir()
	for _, d := range []string{"log", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	plain := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	sslPort := testenv.FreePort(t)
	ssl := fmt.Sprintf("127.0.0.1:%d", sslPort)
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList ImapProxyAService@%s|%s\ndefault:LogDir log\n", plain, ssl),
		"ImapProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\n"+
			"default:SSLEnable yes\ndefault:SSLPorts %d\ndefault:SSLCertPEM %s\ndefault:SSLKeyPEM %s\n", sslPort, cs.CertFile, cs.KeyFile),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, plain, ssl)
	cc := cs.ClientConfig("localhost")
	cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	connect := func(when string) bool {
		t.Helper()
		d := net.Dialer{Timeout: 10 * time.Second}
		tc, err := tls.DialWithDialer(&d, "tcp", ssl, cc)
		if err != nil {
			t.Fatalf("%s: TLS on the SSL port: %v", when, err)
		}
		defer tc.Close()
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Reading the greeting also reads the TLS 1.3 session ticket.
		if g, _ := bufio.NewReader(tc).ReadString('\n'); !strings.HasPrefix(g, "* OK ") {
			t.Errorf("%s: greeting %q", when, g)
		}
		return tc.ConnectionState().DidResume
	}
	if connect("first connection") {
		t.Error("the first connection resumed a session")
	}
	if !connect("second connection") {
		t.Error("the second connection did not resume")
	}
	status := RefreshStatusFile(dir, os.Getpid())
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	if got := waitFile(t, status); !strings.HasPrefix(got, "ok: ") {
		t.Fatalf("refresh: %q", got)
	}
	if !connect("after a refresh") {
		t.Error("no resumption after a refresh")
	}
}
