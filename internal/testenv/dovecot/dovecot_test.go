package dovecot_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
)

const msg = "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: hello alice\r\n\r\nbody\r\n"

// login opens an IMAP session on addr and logs in, failing the test if the
// server refuses.
func login(t *testing.T, addr, user, pass string) *testenv.Conn {
	t.Helper()
	c := testenv.Dial(t, addr)
	if g := c.ReadLine(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting from %s = %q", addr, g)
	}
	if _, tagged := c.IMAP("l1", "LOGIN "+user+" "+pass); !strings.HasPrefix(tagged, "l1 OK") {
		t.Fatalf("LOGIN %s on %s = %q", user, addr, tagged)
	}
	return c
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

func TestIMAP(t *testing.T) {
	t.Parallel()
	s := dovecot.Start(t,
		dovecot.WithHost("127.0.0.11"),
		dovecot.WithUser("alice", "alicepw"),
		dovecot.WithMessage("alice", msg),
	)
	c := login(t, s.IMAPAddr(), "alice", "alicepw")
	untagged, tagged := c.IMAP("a2", "SELECT INBOX")
	if !strings.HasPrefix(tagged, "a2 OK") || !hasLine(untagged, "* 1 EXISTS") {
		t.Fatalf("SELECT INBOX = %q %q, want * 1 EXISTS", untagged, tagged)
	}
	untagged, tagged = c.IMAP("a3", "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
	if !strings.HasPrefix(tagged, "a3 OK") || !hasLine(untagged, "Subject: hello alice") {
		t.Fatalf("FETCH subject = %q %q", untagged, tagged)
	}

	// A message delivered while running shows up at the next NOOP.
	s.Deliver(t, "alice", "Subject: second\r\n\r\nx\r\n")
	if untagged, _ = c.IMAP("a4", "NOOP"); !hasLine(untagged, "* 2 EXISTS") {
		t.Errorf("NOOP after Deliver = %q, want * 2 EXISTS", untagged)
	}
	if out := s.Doveadm(t, "mailbox", "status", "-u", "alice", "messages", "INBOX"); !strings.Contains(out, "messages=2") {
		t.Errorf("doveadm mailbox status = %q, want messages=2", out)
	}

	bad := testenv.Dial(t, s.IMAPAddr())
	bad.ReadLine()
	if _, tagged := bad.IMAP("b1", "LOGIN alice wrong"); !strings.HasPrefix(tagged, "b1 NO") {
		t.Errorf("LOGIN with a wrong password = %q, want NO", tagged)
	}
}

func TestPOP3(t *testing.T) {
	t.Parallel()
	s := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"), dovecot.WithMessage("alice", msg))
	c := testenv.Dial(t, s.POP3Addr())
	if g := c.ReadLine(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting = %q", g)
	}
	for _, cmd := range []string{"USER alice", "PASS alicepw"} {
		if r := c.POP3(cmd); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("%s = %q", cmd, r)
		}
	}
	if r, want := c.POP3("STAT"), "+OK 1 "; !strings.HasPrefix(r, want) {
		t.Errorf("STAT = %q, want %q...", r, want)
	}
}

func TestMasterUser(t *testing.T) {
	t.Parallel()
	s := dovecot.Start(t,
		dovecot.WithUser("alice", "alicepw"),
		dovecot.WithMessage("alice", msg),
		dovecot.WithMasterUser("storeadmin", "adminpw"),
	)
	plain := func(authz, authc, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + authc + "\x00" + pass))
	}
	for _, tc := range []struct {
		name, ir string
		ok       bool
	}{
		{"master for alice", plain("alice", "storeadmin", "adminpw"), true},
		{"wrong master password", plain("alice", "storeadmin", "nope"), false},
		{"master for unknown user", plain("nobody", "storeadmin", "adminpw"), false},
		{"alice cannot act as master", plain("storeadmin", "alice", "alicepw"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testenv.Dial(t, s.IMAPAddr())
			c.ReadLine()
			_, tagged := c.IMAP("m1", "AUTHENTICATE PLAIN "+tc.ir)
			if got := strings.HasPrefix(tagged, "m1 OK"); got != tc.ok {
				t.Fatalf("AUTHENTICATE PLAIN = %q, want ok=%v", tagged, tc.ok)
			}
			if !tc.ok {
				return
			}
			// The session is alice's own.
			if untagged, _ := c.IMAP("m2", "SELECT INBOX"); !hasLine(untagged, "* 1 EXISTS") {
				t.Errorf("SELECT INBOX as master = %q", untagged)
			}
		})
	}
}

// TestTwoHosts runs two stores on the same port of two loopback addresses,
// the layout the MMP's single BacksidePort needs.
func TestTwoHosts(t *testing.T) {
	t.Parallel()
	hosts := []string{"127.0.0.11", "127.0.0.12"}
	testenv.NeedLoopback(t, hosts...)
	imap := testenv.FreePortOn(t, hosts...)
	pop := testenv.FreePortOn(t, hosts...)
	var stores []*dovecot.Server
	for _, h := range hosts {
		stores = append(stores, dovecot.Start(t,
			dovecot.WithHost(h), dovecot.WithPorts(imap, pop),
			dovecot.WithUser("u", "pw"),
			dovecot.WithMessage("u", "Subject: on "+h+"\r\n\r\nx\r\n")))
	}
	for i, s := range stores {
		if s.IMAPPort != imap || s.Host != hosts[i] {
			t.Errorf("store %d on %s, want %s port %d", i, s.IMAPAddr(), hosts[i], imap)
		}
		c := login(t, s.IMAPAddr(), "u", "pw")
		c.IMAP("s", "SELECT INBOX")
		if untagged, _ := c.IMAP("f", "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"); !hasLine(untagged, "Subject: on "+hosts[i]) {
			t.Errorf("store %s served %q", hosts[i], untagged)
		}
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"), dovecot.WithMessage("alice", msg))
	c := login(t, s.IMAPAddr(), "alice", "alicepw")
	addr := s.IMAPAddr()

	s.Stop()
	if s.Running() {
		t.Fatal("Running() after Stop = true")
	}
	// Open sessions are cut and no new ones are accepted.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.R.ReadString('\n'); err == nil {
		if _, err := c.R.ReadString('\n'); err == nil {
			t.Error("session still open after Stop")
		}
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("IMAP port still accepting after Stop")
	}

	s.Restart(t)
	if s.IMAPAddr() != addr {
		t.Errorf("address after Restart = %s, want %s", s.IMAPAddr(), addr)
	}
	c = login(t, s.IMAPAddr(), "alice", "alicepw")
	if untagged, _ := c.IMAP("s", "SELECT INBOX"); !hasLine(untagged, "* 1 EXISTS") {
		t.Errorf("SELECT INBOX after Restart = %q", untagged)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t)
	s := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"), dovecot.WithTLS(cert, key))
	if s.IMAPSPort == 0 || s.POP3SPort == 0 {
		t.Fatalf("IMAPSPort, POP3SPort = %d, %d", s.IMAPSPort, s.POP3SPort)
	}
	for _, tc := range []struct{ addr, greeting string }{{s.IMAPSAddr(), "* OK"}, {s.POP3SAddr(), "+OK"}} {
		conn, err := tls.Dial("tcp", tc.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("tls.Dial(%s): %v", tc.addr, err)
		}
		buf := make([]byte, 512)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		conn.Close()
		if err != nil || !strings.HasPrefix(string(buf[:n]), tc.greeting) {
			t.Errorf("greeting over TLS from %s = %q, %v", tc.addr, buf[:n], err)
		}
	}
	// STARTTLS is offered on the plain port.
	c := testenv.Dial(t, s.IMAPAddr())
	c.ReadLine()
	if untagged, _ := c.IMAP("c", "CAPABILITY"); !hasLine(untagged, "STARTTLS") {
		t.Errorf("CAPABILITY = %q, want STARTTLS", untagged)
	}
}

// selfSigned writes a throwaway certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "testenv store"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
