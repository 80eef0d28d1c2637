package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startTLSServer serves linkProto on a plain and an SSLPorts listener.
func startTLSServer(t *testing.T, cs *testcert.Set, settings map[string]string) (plain, ssl string, logs *lockedBuf) {
	t.Helper()
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := map[string]string{"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile,
		"SSLPorts": "127.0.0.1:" + strconv.Itoa(ln2.Addr().(*net.TCPAddr).Port)}
	for k, v := range settings {
		s[k] = v
	}
	svc := proxytest.Service(t, s, "")
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logs = &lockedBuf{}
	lg, err := logging.Open(logging.Options{Proc: "ImapProxy", Level: 10, Stderr: logs})
	if err != nil {
		t.Fatal(err)
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: &linkProto{store: echoStore(t)}, TLS: tc, Log: lg})
	go srv.Serve(ln1)
	go srv.Serve(ln2)
	t.Cleanup(func() { srv.Close(); lg.Close() })
	return ln1.Addr().String(), ln2.Addr().String(), logs
}

// TestImplicitTLSAccess: TCPAccess sees "imaps" on an SSL port before the
// handshake; its refusal is sent inside TLS.
func TestImplicitTLSAccess(t *testing.T) {
	cs := testcert.New(t)
	plain, ssl, _ := startTLSServer(t, cs, map[string]string{"TCPAccess": "+imaps:ALL$-imap:ALL"})
	if line, ok := refused(t, dialFrom(t, "127.0.0.1", plain)); !ok || line != "REFUSED Access denied" {
		t.Errorf("clear text port: %q, want Access denied", line)
	}
	c, err := tls.Dial("tcp", ssl, cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if line, ok := refused(t, c); ok {
		t.Errorf("SSL port refused: %s", line)
	}
	// Through the pipe: the echo store answers inside TLS.
	c.Write([]byte("hello\nping\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || l != "hello\n" && l != "ping\n" {
		t.Fatalf("echo through TLS: %q, %v", l, err)
	}

	// Refused on the SSL port: the refusal comes inside TLS.
	_, ssl2, _ := startTLSServer(t, cs, map[string]string{"TCPAccess": "-imaps:ALL"})
	c2, err := tls.Dial("tcp", ssl2, cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if line, ok := refused(t, c2); !ok {
		t.Errorf("SSL port with -imaps: %q, want a refusal inside TLS", line)
	}
}

// TestSSLNegotiationFailedLog: a failed handshake is logged as docs/reference.md
// §3.10 has it.
func TestSSLNegotiationFailedLog(t *testing.T) {
	cs := testcert.New(t)
	_, ssl, logs := startTLSServer(t, cs, nil)
	c := dialFrom(t, "127.0.0.1", ssl)
	c.Write([]byte("a CAPABILITY\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 100)
	c.Read(b)
	if !proxytest.Settle(5*time.Second, func() bool {
		return strings.Contains(logs.String(), "SSL negotiation failed for IP 127.0.0.1: ")
	}) {
		t.Fatalf("log:\n%s", logs)
	}
}

// TestSSLPortWithoutCertificate: when TLS could not be set up an SSL port
// refuses its connections rather than serving them in clear text.
func TestSSLPortWithoutCertificate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := proxytest.Service(t, map[string]string{"SSLEnable": "yes", "SSLPorts": strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}, "")
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err == nil || tc == nil || tc.Client != nil {
		t.Fatalf("Load = %+v, %v; want an error and no client config", tc, err)
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: &linkProto{store: echoStore(t)}, TLS: tc})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := dialFrom(t, "127.0.0.1", ln.Addr().String())
	c.Write([]byte("hello\nping\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := bufio.NewReader(c).ReadString('\n'); b != "" {
		t.Fatalf("an SSL port without certificate answered %q", b)
	}
}

// certProto tells the client which verified certificate it presented.
type certProto struct{ linkProto }

func (p *certProto) Login(ctx context.Context, s *proxy.Session) (*proxy.Store, error) {
	name := "NONE"
	if c := s.ClientCertificate(); c != nil {
		name = c.Subject.CommonName
	}
	s.Client.Write([]byte("CERT " + name + "\n"))
	return nil, nil
}

// TestClientCertificate: with SSLClientCAPEM a client certificate is
// verified if given, and not required.
func TestClientCertificate(t *testing.T) {
	cs := testcert.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := proxytest.Service(t, map[string]string{"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile,
		"SSLClientCAPEM": cs.CAFile, "SSLPorts": strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}, "")
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: &certProto{}, TLS: tc})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	for want, certs := range map[string][]tls.Certificate{"CERT alice\n": {cs.Client}, "CERT NONE\n": nil} {
		cfg := cs.ClientConfig("localhost")
		cfg.Certificates = certs
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := bufio.NewReader(c).ReadString('\n'); got != want {
			t.Errorf("got %q, %v; want %q", got, err, want)
		}
		c.Close()
	}
	// A certificate from another CA fails the handshake.
	other := testcert.New(t)
	cfg := cs.ClientConfig("localhost")
	cfg.Certificates = []tls.Certificate{other.Client}
	c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			t.Errorf("a certificate of another CA was accepted: %q", got)
		}
		c.Close()
	}
}
