package tlsconf_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/tlsconf"
)

func TestKeyExchangeGroups(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []tls.CurveID
		err  string
	}{
		{nil, nil, ""},
		{[]string{"default"}, nil, ""},
		{[]string{"X25519"}, []tls.CurveID{tls.X25519}, ""},
		{[]string{"X25519MLKEM768", "X25519", "P256", "P384"}, []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}, ""},
		{[]string{"SecP256r1MLKEM768", "SecP384r1MLKEM1024", "P521"}, []tls.CurveID{tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024, tls.CurveP521}, ""},
		{[]string{"X448"}, nil, "SSLKeyExchangeGroups: unknown group X448"},
	} {
		got, err := tlsconf.KeyExchangeGroups(tc.in)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("KeyExchangeGroups(%v) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("KeyExchangeGroups(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   []tls.CurveID
		warn bool
	}{
		{nil, false},
		{[]tls.CurveID{tls.X25519MLKEM768, tls.X25519}, false},
		{[]tls.CurveID{tls.CurveP384}, false},
		{[]tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768}, true},
	} {
		if w := tlsconf.KeyExchangeWarning(tc.in); (w != "") != tc.warn || tc.warn && !strings.Contains(w, "TLS 1.2 clients will be refused") {
			t.Errorf("KeyExchangeWarning(%v) = %q", tc.in, w)
		}
	}
}

// serveOnce accepts one connection on a loopback listener and runs the
// server side of a handshake with cfg on it.
func serveOnce(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		tc := tls.Server(c, cfg)
		if tc.Handshake() == nil {
			tc.Write([]byte("* OK ready\r\n"))
			// Wait for the client to go.
			tc.Read(make([]byte, 64))
		}
	}()
	return l.Addr().String()
}

// Go's own client offers every default group (the hybrid post-quantum
// ones first): SSLKeyExchangeGroups decides which one the MMP takes, on
// the client side and towards the stores (SSLBacksidePort).
func TestKeyExchangeGroupsNegotiated(t *testing.T) {
	cs := testcert.New(t, "localhost")
	for _, tc := range []struct {
		groups []string
		want   tls.CurveID
	}{
		{nil, tls.X25519MLKEM768}, // Go's default: hybrid post-quantum first
		{[]string{"X25519"}, tls.X25519},
		{[]string{"P384", "P521"}, tls.CurveP384},
		{[]string{"X25519", "X25519MLKEM768"}, tls.X25519MLKEM768},
	} {
		c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile},
			KeyExchangeGroups: tc.groups, BacksidePort: 993, Store: tlsconf.StoreOptions{CAFile: cs.CAFile}})
		if err != nil {
			t.Fatal(err)
		}
		// Client side: the MMP is the server.
		tcn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", serveOnce(t, c.Client), cs.ClientConfig("localhost"))
		if err != nil {
			t.Fatalf("%v: %v", tc.groups, err)
		}
		if got := tcn.ConnectionState().CurveID; got != tc.want {
			t.Errorf("SSLKeyExchangeGroups %v: client side negotiated %v, want %v", tc.groups, got, tc.want)
		}
		tcn.Close()
		// Store side: the MMP is the client of a store offering Go's defaults.
		store := &tls.Config{Certificates: c.Client.Certificates}
		tcn, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", serveOnce(t, store), c.ForStore("localhost"))
		if err != nil {
			t.Fatalf("%v: store side: %v", tc.groups, err)
		}
		if got := tcn.ConnectionState().CurveID; got != tc.want {
			t.Errorf("SSLKeyExchangeGroups %v: store side negotiated %v, want %v", tc.groups, got, tc.want)
		}
		tcn.Close()
	}
	if _, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile},
		KeyExchangeGroups: []string{"brainpoolP256r1"}}); err == nil || !strings.Contains(err.Error(), "SSLKeyExchangeGroups: unknown group brainpoolP256r1") {
		t.Errorf("Build with an unknown group: %v", err)
	}
}

// openssl s_client (Debian's OpenSSL 3.0 has no ML-KEM) is told the
// groups it offers; the MMP takes the one its SSLKeyExchangeGroups
// allows, after a HelloRetryRequest when the client sent no key share for
// it, and refuses a client with no group in common.
func TestKeyExchangeGroupsOpenSSL(t *testing.T) {
	openssl := testenv.Binary(t, "openssl")
	cs := testcert.New(t, "localhost")
	for _, tc := range []struct {
		groups  []string
		offered string
		want    string // in s_client's "Server Temp Key:" line; "" = refused
	}{
		{nil, "X25519:P-256", "X25519"},
		{nil, "P-384:X25519", "secp384r1"},
		{[]string{"P256"}, "X25519:P-256", "prime256v1"},
		{[]string{"X25519MLKEM768", "X25519"}, "P-256:X25519", "X25519"},
		{[]string{"P384"}, "X25519:P-256", ""},
	} {
		c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile},
			KeyExchangeGroups: tc.groups})
		if err != nil {
			t.Fatal(err)
		}
		addr := serveOnce(t, c.Client)
		cmd := exec.Command(openssl, "s_client", "-connect", addr, "-servername", "localhost", "-CAfile", cs.CAFile,
			"-verify_return_error", "-groups", tc.offered, "-brief")
		cmd.Stdin = strings.NewReader("")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testenv.WaitCommand(t, cmd, 20*time.Second, &out)
		key := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(l), "Server Temp Key:"); ok {
				key = strings.TrimSpace(k)
			}
		}
		switch {
		case tc.want == "" && key != "":
			t.Errorf("SSLKeyExchangeGroups %v, client offers %s: negotiated %q, want refused", tc.groups, tc.offered, key)
		case tc.want != "" && !strings.Contains(key, tc.want):
			t.Errorf("SSLKeyExchangeGroups %v, client offers %s: Server Temp Key %q, want %s\n%s", tc.groups, tc.offered, key, tc.want, out.String())
		}
	}
}
