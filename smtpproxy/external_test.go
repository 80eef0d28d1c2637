package smtpproxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/xpehlo"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// certRouter maps a certificate whose subject OU is a known user's name
// to that user, as "FilterComps ou=uid" would.
type certRouter struct {
	proxytest.Directory
}

func (r *certRouter) LookupCertificate(ctx context.Context, _ *config.Values, c *x509.Certificate, _ *cfgfmt.Map) (*account.User, error) {
	for _, ou := range c.Subject.OrganizationalUnit {
		if u, err := r.Lookup(ctx, account.Query{Name: account.Name{User: ou, Canon: ou}}); err == nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("certRouter: %s: %w", c.Subject, account.ErrNoUser)
}

// certHarness is an SMTP proxy with an SSL port, SSLClientCAPEM and
// CertmapFile in front of relay; the directory knows alice unless
// unmapped is set. kv are more settings; the value "-" removes one.
type certHarness struct {
	*harness
	cs  *testcert.Set
	pws *passwords
}

func startCert(t *testing.T, relay string, unmapped bool, kv ...string) *certHarness {
	t.Helper()
	cs := testcert.New(t)
	cm := filepath.Join(t.TempDir(), "certmap.conf")
	if err := os.WriteFile(cm, []byte("certmap default default\ndefault:DNComps\ndefault:FilterComps ou=uid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	settings := with(relaySettings(relay), "SSLEnable", "yes", "SSLCertPEM", cs.CertFile, "SSLKeyPEM", cs.KeyFile,
		"SSLPorts", strconv.Itoa(port), "SSLClientCAPEM", cs.CAFile, "CertmapFile", cm)
	settings = with(settings, kv...)
	for k, v := range settings {
		if v == "-" {
			delete(settings, k)
		}
	}
	r := &certRouter{}
	if !unmapped {
		r.SetUser("alice", &account.User{DN: "uid=alice,o=test", MailHosts: []string{"store1"}, Attrs: map[string][]string{"uid": {"alice"}}})
	}
	pw := &passwords{Directory: r, byDN: map[string]string{"uid=alice,o=test": "alice pw"}}
	h := start(t, setup{settings: settings, router: pw, listen: "127.0.0.1:" + strconv.Itoa(port)})
	return &certHarness{harness: h, cs: cs, pws: pw}
}

// tlsGreeted connects to the SSL port, presenting alice's certificate if
// cert, and checks the greeting.
func (h *certHarness) tlsGreeted(cert bool) *client {
	h.t.Helper()
	return h.tlsGreetedFrom("", cert)
}

// tlsGreetedFrom is tlsGreeted from the local address from ("" for any).
func (h *certHarness) tlsGreetedFrom(from string, cert bool) *client {
	h.t.Helper()
	cfg := h.cs.ClientConfig("localhost")
	if cert {
		cfg.Certificates = []tls.Certificate{h.cs.Client}
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	if from != "" {
		d.NetDialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	cl := &client{&proxytest.Client{T: h.t, Conn: c, R: bufio.NewReader(c)}}
	cl.expect("220 " + testHost + " ESMTP service (Messaging Multiplexor openmmp 0.1)")
	return cl
}

// authKeyword is the AUTH line of an EHLO reply, without "250-" or "250 ".
func authKeyword(ehlo string) string {
	for _, l := range strings.Split(ehlo, "\n") {
		if len(l) > 4 && strings.HasPrefix(l[4:], "AUTH ") {
			return l[4:]
		}
	}
	return ""
}

// noAuthAtRelay checks that no AUTH command reached the relay.
func noAuthAtRelay(t *testing.T, relay *xpehlo.Relay) {
	t.Helper()
	for _, l := range relay.Lines() {
		if strings.HasPrefix(strings.ToUpper(l), "AUTH") {
			t.Fatalf("AUTH reached the relay: %q", l)
		}
	}
}

// TestAuthExternalDirectory: SmtpAuth directory on an SSL port, alice's
// certificate: the MMP offers EXTERNAL beside PLAIN and LOGIN, maps the
// certificate with certmap.conf and tells the relay LOGIN=alice in a
// second XPEHLO, exactly as after a password.
func TestAuthExternalDirectory(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	h := startCert(t, relay.Addr(), false, "SmtpAuth", "directory")
	cl := h.tlsGreeted(true)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN EXTERNAL" {
		t.Fatalf("EHLO offers %q, want AUTH PLAIN LOGIN EXTERNAL", got)
	}
	// An authorization identity other than the certificate's user is
	// refused; the user's own is fine.
	cl.expectCmd("AUTH EXTERNAL "+base64.StdEncoding.EncodeToString([]byte("bob")), "535 5.7.8 Authentication credentials invalid")
	cl.expectCmd("AUTH EXTERNAL ?!", "501 5.5.2 ")
	cl.expectCmd("AUTH EXTERNAL", "334 ")
	cl.expectCmd("*", "501 5.7.0 ")
	for _, a := range relay.Announcements() {
		if _, ok := a.Params["LOGIN"]; ok {
			t.Fatalf("LOGIN announced before a successful AUTH: %+v", a)
		}
	}
	cl.expectCmd("AUTH EXTERNAL "+base64.StdEncoding.EncodeToString([]byte("alice")), "235 2.7.0 Authentication successful")
	cl.expectCmd("AUTH EXTERNAL =", "503 5.5.1 ")
	cl.expectCmd("MAIL FROM:<alice@example.com>", "250")

	a := relay.Announcements()
	last := a[len(a)-1]
	if last.Params["LOGIN"] != "alice" || !strings.HasPrefix(last.Params["TLS"], "TLSv1.3:") {
		t.Fatalf("re-announcement %v, want LOGIN=alice and TLS", last.Params)
	}
	noAuthAtRelay(t, relay)
	if len(h.pws.binds) != 0 {
		t.Errorf("binds %q: a certificate login needs no password", h.pws.binds)
	}

	// "=" is the empty initial response.
	cl = h.tlsGreeted(true)
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("AUTH EXTERNAL =", "235 2.7.0 ")
	a = relay.Announcements()
	if got := a[len(a)-1].Params["LOGIN"]; got != "alice" {
		t.Fatalf("LOGIN=%q, want alice", got)
	}
}

// TestAuthExternalRelayMode: with SmtpAuth relay the relay cannot see the
// client certificate, so the MMP adds EXTERNAL to the relay's mechanisms
// and performs it itself; XPEHLO again carries LOGIN=alice. The relay's
// PLAIN and LOGIN are still the relay's.
func TestAuthExternalRelayMode(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	h := startCert(t, relay.Addr(), false)
	cl := h.tlsGreeted(true)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN EXTERNAL" {
		t.Fatalf("EHLO offers %q, want the relay's PLAIN LOGIN and the MMP's EXTERNAL", got)
	}
	cl.expectCmd("AUTH EXTERNAL", "334 ")
	cl.expectCmd("", "235 2.7.0 Authentication successful")
	// The relay is not asked to authenticate the client again.
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepw")), "503 5.5.1 ")
	if got := cl.sendMail("alice@example.com", "carol@remote.example", "certificate login"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("end of data: %q", got)
	}
	a := relay.Announcements()
	if len(a) != 2 || a[1].Params["LOGIN"] != "alice" {
		t.Fatalf("announcements %+v, want a second one with LOGIN=alice", a)
	}
	noAuthAtRelay(t, relay)

	// SmtpRelayAnnounce none cannot tell the relay: not offered, and
	// the relay's own mechanisms are left alone.
	none := startCert(t, relay.Addr(), false, "SmtpRelayAnnounce", "none")
	cl = none.tlsGreeted(true)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN" {
		t.Fatalf("EHLO with SmtpRelayAnnounce none offers %q", got)
	}
	cl.expectCmd("AUTH EXTERNAL =", "504 5.5.4 ")
}

// TestAuthExternalNotOffered: without a client certificate, or on a clear
// link, EXTERNAL is neither offered nor accepted.
func TestAuthExternalNotOffered(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	h := startCert(t, relay.Addr(), false, "SmtpAuth", "directory")
	cl := h.tlsGreeted(false)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN" {
		t.Fatalf("EHLO without a certificate offers %q", got)
	}
	cl.expectCmd("AUTH EXTERNAL =", "504 5.5.4 ")

	// In relay mode a client's AUTH EXTERNAL does not reach the relay
	// either.
	rm := startCert(t, relay.Addr(), false)
	cl = rm.tlsGreeted(false)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN" {
		t.Fatalf("EHLO without a certificate offers %q", got)
	}
	cl.expectCmd("AUTH EXTERNAL =", "504 5.5.4 ")
	noAuthAtRelay(t, relay)
}

// TestAuthExternalSTARTTLS: a certificate presented in the STARTTLS
// handshake counts; before it EXTERNAL is not offered.
func TestAuthExternalSTARTTLS(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	h := startCert(t, relay.Addr(), false, "SmtpAuth", "directory", "SSLPorts", "-")
	cl := h.greeted()
	got := cl.cmd("EHLO client.example")
	if strings.Contains(got, "EXTERNAL") || !strings.Contains(got, "STARTTLS") {
		t.Fatalf("EHLO before TLS:\n%s", got)
	}
	cl.expectCmd("AUTH EXTERNAL =", "504 5.5.4 ")
	cl.expectCmd("STARTTLS", "220 2.0.0 ")
	cfg := h.cs.ClientConfig("localhost")
	cfg.Certificates = []tls.Certificate{h.cs.Client}
	tc := tls.Client(cl.Conn, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	cl.Conn, cl.R = tc, bufio.NewReader(tc)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN EXTERNAL" {
		t.Fatalf("EHLO after STARTTLS offers %q", got)
	}
	cl.expectCmd("AUTH EXTERNAL =", "235 2.7.0 ")
	a := relay.Announcements()
	if last := a[len(a)-1]; last.Params["LOGIN"] != "alice" {
		t.Fatalf("last announcement %v, want LOGIN=alice", last.Params)
	}
}

// TestAuthExternalUnmapped: a certificate that maps to no directory user
// is refused with 535, and the relay hears no login.
func TestAuthExternalUnmapped(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	h := startCert(t, relay.Addr(), true, "SmtpAuth", "directory")
	cl := h.tlsGreeted(true)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN EXTERNAL" {
		t.Fatalf("EHLO offers %q", got)
	}
	cl.expectCmd("AUTH EXTERNAL =", "535 5.7.8 Authentication credentials invalid")
	cl.expectCmd("MAIL FROM:<mallory@example.org>", "250")
	for _, a := range relay.Announcements() {
		if _, ok := a.Params["LOGIN"]; ok {
			t.Fatalf("LOGIN announced for an unmapped certificate: %+v", a)
		}
	}
	noAuthAtRelay(t, relay)
}

// TestPostfixAuthExternal: SmtpAuth directory with XCLIENT in front of
// Postfix; alice's certificate on the SSL port logs her in, and the one
// XCLIENT, held back until the login was known, makes Postfix relay for
// her.
func TestPostfixAuthExternal(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.11")
	pf := startPostfix(t)
	h := startCert(t, pf.Addr(), false, "SmtpAuth", "directory", "SmtpRelayAnnounce", "xclient")
	cl := h.tlsGreetedFrom("127.0.0.11", true)
	if got := authKeyword(cl.cmd("EHLO client.example")); got != "AUTH PLAIN LOGIN EXTERNAL" {
		t.Fatalf("EHLO offers %q", got)
	}
	cl.expectCmd("AUTH EXTERNAL =", "235 2.7.0 Authentication successful")
	if got := cl.sendMail("alice@example.test", "frank@remote.example", "certificate login"); !strings.HasPrefix(got, "250 2.0.0 Ok: queued") {
		t.Fatalf("end of data: %q", got)
	}
	cl.expectCmd("QUIT", "221 ")
	pf.WaitLog(t, "client=unknown[127.0.0.11], sasl_method=XCLIENT, sasl_username=alice")
	if q := strings.Join(pf.Queue(t), "\n"); !strings.Contains(q, "to=<frank@remote.example>") {
		t.Fatalf("relayed mail not queued: %q", q)
	}
}
