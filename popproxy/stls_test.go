package popproxy_test

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

func tlsSettings(t testing.TB, extra map[string]string) (*testcert.Set, map[string]string) {
	cs := testcert.New(t)
	s := map[string]string{"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile}
	for k, v := range extra {
		s[k] = v
	}
	return cs, s
}

func (cl *client) upgrade(cs *testcert.Set) {
	cl.T.Helper()
	if n := cl.R.Buffered(); n != 0 {
		b, _ := cl.R.Peek(n)
		cl.T.Fatalf("%d octets in clear text after the STLS reply: %q", n, b)
	}
	tc := tls.Client(cl.Conn, cs.ClientConfig("localhost"))
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		cl.T.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	cl.Conn, cl.R = tc, bufio.NewReader(tc)
}

func TestSTLS(t *testing.T) {
	cs, settings := tlsSettings(t, map[string]string{"RestrictPlainPasswords": "yes"})
	h := start(t, setup{settings: settings})
	cl := h.greeted()
	cl.Do("CAPA", "+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "STLS", ".")
	privacy := "-ERR [AUTH] Plain-text passwords are not accepted on this connection"
	cl.Do("USER alice", privacy)
	cl.Do("AUTH PLAIN "+b64("\x00alice\x00alicepw"), privacy)
	cl.Do("STLS", "+OK Begin TLS negotiation")
	cl.upgrade(cs)
	cl.Do("CAPA", "+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN", ".")
	cl.Do("STLS", "-ERR STLS is not available")
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
}

// TestSTLSInjection: commands behind STLS in the same packet are dropped
// (CVE-2011-0411), and a USER given before STLS is forgotten.
func TestSTLSInjection(t *testing.T) {
	cs, settings := tlsSettings(t, nil)
	h := start(t, setup{settings: settings})
	cl := h.greeted()
	cl.Do("USER alice", "+OK")
	cl.Send("STLS\r\nCAPA\r\nPASS alicepw\r\n")
	cl.Expect("+OK Begin TLS negotiation")
	cl.upgrade(cs)
	cl.Do("PASS alicepw", "-ERR No USER command given")
	if h.store.conns() != 0 {
		t.Fatal("the injected PASS reached the store")
	}
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestPOPImplicitTLSAndOpenSSL(t *testing.T) {
	sslPort := freePort(t)
	cs, settings := tlsSettings(t, map[string]string{"SSLPorts": strconv.Itoa(sslPort), "RestrictPlainPasswords": "yes"})
	h := start(t, setup{settings: settings, listen: []string{"127.0.0.1:0", "127.0.0.1:" + strconv.Itoa(sslPort)}})
	tc, err := tls.Dial("tcp", h.addrs[1], cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	cl := &client{&proxytest.Client{T: t, Conn: tc, R: bufio.NewReader(tc)}}
	cl.ExpectPrefix("+OK ")
	cl.Do("CAPA", "+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN", ".")
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")

	testenv.Need(t, "openssl")
	for name, args := range map[string][]string{
		"starttls": {"-connect", h.addrs[0], "-starttls", "pop3"},
		"implicit": {"-connect", h.addrs[1]},
	} {
		t.Run(name, func(t *testing.T) {
			out := openSSL(t, cs, args, "CAPA\nUSER alice\nPASS alicepw\nWHOAMI\nQUIT\n")
			for _, want := range []string{"Verify return code: 0 (ok)", "SASL PLAIN LOGIN", "+OK Logged in as alice.", "+OK alice"} {
				if !strings.Contains(out, want) {
					t.Errorf("openssl output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "\nSTLS") {
				t.Errorf("STLS offered inside TLS:\n%s", out)
			}
		})
	}
}

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
