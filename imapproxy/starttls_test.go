package imapproxy_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// tlsSettings turns TLS on with a throwaway certificate.
func tlsSettings(t testing.TB, extra map[string]string) (*testcert.Set, map[string]string) {
	cs := testcert.New(t)
	s := map[string]string{"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile}
	for k, v := range extra {
		s[k] = v
	}
	return cs, s
}

// upgrade runs the client side of the handshake and switches cl to it.
func (cl *client) upgrade(cs *testcert.Set) *tls.Conn {
	cl.T.Helper()
	if n := cl.R.Buffered(); n != 0 {
		b, _ := cl.R.Peek(n)
		cl.T.Fatalf("%d octets in clear text after the STARTTLS reply: %q", n, b)
	}
	tc := tls.Client(cl.Conn, cs.ClientConfig("localhost"))
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		cl.T.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	cl.Conn, cl.R = tc, bufio.NewReader(tc)
	return tc
}

func TestSTARTTLS(t *testing.T) {
	cs, settings := tlsSettings(t, map[string]string{"RestrictPlainPasswords": "yes", "Capability": "IMAP4rev1 LITERAL+"})
	h := start(t, setup{settings: settings})
	cl := h.dial()
	cl.Expect("* OK [CAPABILITY IMAP4rev1 LITERAL+ STARTTLS LOGINDISABLED] mmp1 IMAP service (Messaging Multiplexor openmmp 0.1)")
	cl.Send("a CAPABILITY\r\n")
	cl.Expect("* CAPABILITY IMAP4rev1 LITERAL+ STARTTLS LOGINDISABLED", "a OK CAPABILITY completed")
	// RestrictPlainPasswords before TLS.
	cl.Send("b LOGIN alice alicepw\r\n")
	cl.ExpectPrefix("b NO [PRIVACYREQUIRED] ")
	cl.Send("c AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\r\n")
	cl.ExpectPrefix("c NO [PRIVACYREQUIRED] ")
	cl.Send("d STARTTLS\r\n")
	cl.Expect("d OK Begin TLS negotiation now")
	cl.upgrade(cs)
	cl.Send("e CAPABILITY\r\n")
	cl.Expect("* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN AUTH=LOGIN", "e OK CAPABILITY completed")
	cl.Send("f STARTTLS\r\n")
	cl.Expect("f BAD STARTTLS is not available")
	cl.Send("g LOGIN alice alicepw\r\n")
	cl.loggedIn("g", "alice")
	if h.store.conns() != 1 {
		t.Fatalf("store connections = %d", h.store.conns())
	}
}

// TestSTARTTLSInjection: commands sent behind STARTTLS in the same
// packet are neither answered in clear text nor inside TLS
// (CVE-2011-0411).
func TestSTARTTLSInjection(t *testing.T) {
	cs, settings := tlsSettings(t, nil)
	h := start(t, setup{settings: settings})
	cl := h.greeted()
	cl.Send("a STARTTLS\r\nb CAPABILITY\r\nc LOGIN alice alicepw\r\n")
	cl.Expect("a OK Begin TLS negotiation now")
	cl.upgrade(cs) // fails if anything followed in clear text
	cl.Send("d NOOP\r\n")
	cl.Expect("d OK NOOP completed") // not "* CAPABILITY" nor "c OK"
	if h.store.conns() != 0 {
		t.Fatalf("the injected LOGIN reached the store")
	}
}

func TestSTARTTLSNotOffered(t *testing.T) {
	// SSLEnable off: no STARTTLS even with a certificate.
	cs := testcert.New(t)
	h := start(t, setup{settings: map[string]string{"SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile, "Capability": "IMAP4rev1"}})
	cl := h.greeted()
	cl.Send("a CAPABILITY\r\n")
	cl.Expect("* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN", "a OK CAPABILITY completed")
	cl.Send("b STARTTLS\r\n")
	cl.Expect("b BAD STARTTLS is not available")
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestImplicitTLS: a connection on an SSLPorts port starts with the
// handshake; another port of the service stays in clear text.
func TestImplicitTLS(t *testing.T) {
	sslPort := freePort(t)
	cs, settings := tlsSettings(t, map[string]string{"SSLPorts": "127.0.0.1:" + strconv.Itoa(sslPort),
		"RestrictPlainPasswords": "yes", "Capability": "IMAP4rev1"})
	h := start(t, setup{settings: settings, listen: []string{"127.0.0.1:0", "127.0.0.1:" + strconv.Itoa(sslPort)}})
	tc, err := tls.Dial("tcp", h.addrs[1], cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	cl := &client{&proxytest.Client{T: t, Conn: tc, R: bufio.NewReader(tc)}}
	cl.Expect("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] mmp1 IMAP service (Messaging Multiplexor openmmp 0.1)")
	cl.Send("a LOGIN alice alicepw\r\n")
	cl.loggedIn("a", "alice")

	plain := h.dialAddr(h.addrs[0])
	plain.ExpectPrefix("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED]")
}

// TestSSLPortWithoutCertificate: a broken TLS setup never serves an SSL
// port in clear text.
func TestSSLPortBadHandshake(t *testing.T) {
	sslPort := freePort(t)
	_, settings := tlsSettings(t, map[string]string{"SSLPorts": strconv.Itoa(sslPort)})
	h := start(t, setup{settings: settings, listen: []string{"127.0.0.1:" + strconv.Itoa(sslPort)}})
	cl := h.dial()
	cl.Send("a CAPABILITY\r\n") // not a TLS ClientHello
	cl.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 512)
	n, _ := cl.R.Read(b)
	if strings.Contains(string(b[:n]), "CAPABILITY") || strings.Contains(string(b[:n]), "* OK") {
		t.Fatalf("clear text on an SSL port: %q", b[:n])
	}
}

// TestOpenSSLClient drives the proxy with openssl s_client, both with
// -starttls imap and on an SSL port.
func TestOpenSSLClient(t *testing.T) {
	testenv.Need(t, "openssl")
	sslPort := freePort(t)
	cs, settings := tlsSettings(t, map[string]string{"SSLPorts": "127.0.0.1:" + strconv.Itoa(sslPort), "Capability": "IMAP4rev1"})
	h := start(t, setup{settings: settings, listen: []string{"127.0.0.1:0", "127.0.0.1:" + strconv.Itoa(sslPort)}})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"starttls", []string{"-connect", h.addrs[0], "-starttls", "imap"}},
		{"implicit", []string{"-connect", h.addrs[1]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := openSSL(t, cs, tc.args, "a CAPABILITY\nb LOGIN alice alicepw\nc WHOAMI\nd LOGOUT\n")
			for _, want := range []string{"Verify return code: 0 (ok)", "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n",
				"b OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Logged in as alice", "* WHOAMI alice"} {
				if !strings.Contains(out, want) {
					t.Errorf("openssl output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// openSSL runs s_client with input, a line at a time, and returns its
// output.
func openSSL(t *testing.T, cs *testcert.Set, args []string, input string) string {
	t.Helper()
	args = append([]string{"s_client", "-CAfile", cs.CAFile, "-verify_return_error", "-servername", "localhost", "-crlf", "-ign_eof"}, args...)
	cmd := exec.Command("openssl", args...)
	stdin, _ := cmd.StdinPipe()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, l := range strings.SplitAfter(input, "\n") {
			time.Sleep(300 * time.Millisecond)
			stdin.Write([]byte(l))
		}
		time.Sleep(500 * time.Millisecond)
		stdin.Close()
	}()
	testenv.WaitCommand(t, cmd, 30*time.Second, &out)
	return out.String()
}
