package smtpproxy_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/xpehlo"
	"github.com/openmmp/mmp/proxy/proxytest"
)

func (cl *client) upgrade(cs *testcert.Set) {
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
}

func tlsRelaySettings(t *testing.T, relay *xpehlo.Relay, kv ...string) (*testcert.Set, map[string]string) {
	cs := testcert.New(t)
	s := with(relaySettings(relay.Addr()), "SSLEnable", "yes", "SSLCertPEM", cs.CertFile, "SSLKeyPEM", cs.KeyFile)
	return cs, with(s, kv...)
}

func TestSMTPSTARTTLS(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword), xpehlo.WithUser("alice", "alicepw"))
	cs, settings := tlsRelaySettings(t, relay, "RestrictPlainPasswords", "yes")
	h := start(t, setup{settings: settings})
	cl := h.greeted()
	got := cl.cmd("EHLO client.example")
	if !strings.Contains(got, "250-STARTTLS") && !strings.HasSuffix(got, "250 STARTTLS") || strings.Contains(got, "AUTH") {
		t.Fatalf("EHLO before TLS:\n%s", got)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepw"))
	cl.expectCmd("AUTH PLAIN "+plain, "538 5.7.11 ")
	cl.expectCmd("STARTTLS", "220 2.0.0 Ready to start TLS")
	cl.upgrade(cs)
	// The EHLO is forgotten: MAIL needs a new one (RFC 3207 §4.2).
	cl.expectCmd("MAIL FROM:<alice@example.com>", "503 5.5.1")
	got = cl.cmd("EHLO client.example")
	if strings.Contains(got, "STARTTLS") || !strings.Contains(got, "AUTH PLAIN LOGIN") {
		t.Fatalf("EHLO after TLS:\n%s", got)
	}
	a := relay.Announcements()
	last := a[len(a)-1]
	if !strings.HasPrefix(last.Params["TLS"], "TLSv1.3:") {
		t.Fatalf("the relay was not told about TLS: %+v", last)
	}
	if _, ok := a[0].Params["TLS"]; ok {
		t.Fatalf("the first announcement claims TLS: %+v", a[0])
	}
	cl.expectCmd("AUTH PLAIN "+plain, "235")
	if got := cl.sendMail("alice@example.com", "bob@example.com", "over TLS"); !strings.HasPrefix(got, "250") {
		t.Fatalf("DATA: %q", got)
	}
	for _, l := range relay.Lines() {
		if strings.HasPrefix(l, "STARTTLS") {
			t.Fatal("STARTTLS reached the relay")
		}
	}
}

// TestSMTPSTARTTLSInjection: commands behind STARTTLS in the same packet
// are dropped (RFC 3207 §4.2, CVE-2011-0411).
func TestSMTPSTARTTLSInjection(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	cs, settings := tlsRelaySettings(t, relay)
	h := start(t, setup{settings: settings})
	cl := h.greeted()
	cl.cmd("EHLO client.example")
	cl.Send("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRSET\r\n")
	cl.expect("220 2.0.0 Ready to start TLS")
	cl.upgrade(cs)
	cl.expectCmd("NOOP", "250") // the first reply inside TLS is NOOP's
	for _, l := range relay.Lines() {
		if strings.Contains(l, "evil") {
			t.Fatal("the injected MAIL reached the relay")
		}
	}
}

func TestSMTPOpenSSL(t *testing.T) {
	testenv.Need(t, "openssl")
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	cs, settings := tlsRelaySettings(t, relay)
	h := start(t, setup{settings: settings})
	args := []string{"s_client", "-CAfile", cs.CAFile, "-verify_return_error", "-servername", "localhost", "-crlf", "-ign_eof",
		"-connect", h.addr, "-starttls", "smtp"}
	cmd := exec.Command("openssl", args...)
	stdin, _ := cmd.StdinPipe()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, l := range []string{"EHLO client.example\n", "NOOP\n", "QUIT\n"} {
			time.Sleep(300 * time.Millisecond)
			stdin.Write([]byte(l))
		}
		time.Sleep(500 * time.Millisecond)
		stdin.Close()
	}()
	testenv.WaitCommand(t, cmd, 30*time.Second, &out)
	s := out.String()
	if !strings.Contains(s, "Verify return code: 0 (ok)") || !strings.Contains(s, "250 2.0.0") && !strings.Contains(s, "250 ") {
		t.Fatalf("openssl:\n%s", s)
	}
	if n := len(relay.Announcements()); n < 1 || !strings.HasPrefix(relay.Announcements()[n-1].Params["TLS"], "TLSv1.3") {
		t.Fatalf("no TLS announcement: %+v\n%s", relay.Announcements(), s)
	}
}

// TestSMTPImplicitTLS: an SSLPorts port (smtps, 465) starts with the
// handshake, offers no STARTTLS, and tells the relay about TLS from the
// first introduction.
func TestSMTPImplicitTLS(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	port := testenv.FreePort(t)
	cs, settings := tlsRelaySettings(t, relay, "SSLPorts", strconv.Itoa(port))
	h := start(t, setup{settings: settings, listen: "127.0.0.1:" + strconv.Itoa(port)})
	c, err := tls.Dial("tcp", h.addr, cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := &client{&proxytest.Client{T: t, Conn: c, R: bufio.NewReader(c)}}
	cl.expect("220 " + testHost + " ESMTP service (Messaging Multiplexor openmmp 0.1)")
	if got := cl.cmd("EHLO client.example"); strings.Contains(got, "STARTTLS") {
		t.Fatalf("STARTTLS offered on an SSL port:\n%s", got)
	}
	if a := relay.Announcements(); len(a) != 1 || !strings.HasPrefix(a[0].Params["TLS"], "TLSv1.3:") {
		t.Fatalf("announcements %+v", a)
	}
}
