package popproxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

// certRouter maps a certificate whose subject OU is a known user's name
// to that user, as "FilterComps ou=uid" would.
type certRouter struct {
	proxytest.Directory
	mu   sync.Mutex
	maps []*cfgfmt.Map
}

func (r *certRouter) used() []*cfgfmt.Map {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maps
}

func (r *certRouter) LookupCertificate(ctx context.Context, _ *config.Values, c *x509.Certificate, m *cfgfmt.Map) (*account.User, error) {
	r.mu.Lock()
	r.maps = append(r.maps, m)
	r.mu.Unlock()
	for _, ou := range c.Subject.OrganizationalUnit {
		if u, err := r.Lookup(ctx, account.Query{Name: account.Name{User: ou, Canon: ou}}); err == nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("certRouter: %s: %w", c.Subject, account.ErrNoUser)
}

// externalHarness is a POP proxy with TLS, SSLClientCAPEM and
// CertmapFile, AuthService on, and a fake store that knows only the
// store administrator.
type externalHarness struct {
	cs     *testcert.Set
	store  *fakeStore
	addr   string
	router *certRouter
	cache  *authsvc.Cache
}

func startExternal(t *testing.T, extra map[string]string) *externalHarness {
	t.Helper()
	cs := testcert.New(t)
	cm := filepath.Join(t.TempDir(), "certmap.conf")
	if err := os.WriteFile(cm, []byte("certmap default default\ndefault:DNComps\ndefault:FilterComps ou=uid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newFakeStore(t, storeScript{capa: defaultCapa}, map[string]string{"storeadmin": "storeadminpw"})
	settings := map[string]string{
		"BacksidePort": strconv.Itoa(store.port()), "BGExcluded": "127.0.0.0|255.0.0.0",
		"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile, "SSLClientCAPEM": cs.CAFile,
		"CertmapFile": cm, "StoreAdmin": "storeadmin", "StoreAdminPass": "storeadminpw",
		"AuthService": "yes", "AuthServiceTTL": "900",
	}
	for k, v := range extra {
		if v == "-" {
			delete(settings, k)
		} else {
			settings[k] = v
		}
	}
	svc := popService(t, settings, "")
	r := &certRouter{}
	r.SetUser("alice", &account.User{DN: "uid=alice,o=test", MailHosts: []string{"127.0.0.1"}, Attrs: map[string][]string{"uid": {"alice"}}})
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache := authsvc.New(authsvc.Options{TTL: time.Hour})
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: popproxy.New(popproxy.Options{Host: "mmp1", AuthCache: cache}), Directory: r, TLS: tc})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &externalHarness{cs: cs, store: store, addr: ln.Addr().String(), router: r, cache: cache}
}

// tlsClient dials, runs STLS and presents cert (if not nil).
func (h *externalHarness) tlsClient(t *testing.T, cert *tls.Certificate) *client {
	t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{&proxytest.Client{T: t, Conn: c, R: bufio.NewReader(c)}}
	cl.ExpectPrefix("+OK ")
	cl.Do("STLS", "+OK Begin TLS negotiation")
	cfg := h.cs.ClientConfig("localhost")
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tc := tls.Client(c, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	cl.Conn, cl.R = tc, bufio.NewReader(tc)
	return cl
}

func TestAuthExternal(t *testing.T) {
	h := startExternal(t, nil)
	cl := h.tlsClient(t, &h.cs.Client)
	cl.Do("CAPA", "+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN EXTERNAL", ".")
	cl.Do("AUTH", "+OK Supported authentication mechanisms follow", "PLAIN", "LOGIN", "EXTERNAL", ".")
	cl.Send("AUTH EXTERNAL =\r\n")
	cl.loggedIn("storeadmin")
	// Golden transcript: straight to PLAIN, authzid alice, authcid
	// StoreAdmin (docs/reference.md §4.3.4).
	if got, want := h.store.got(0), "AUTH PLAIN "+b64("alice\x00storeadmin\x00storeadminpw")+"\r\nWHOAMI\r\n"; got != want {
		t.Errorf("store received %q, want %q", got, want)
	}
	// Remembered for POP-before-SMTP as the mapped user.
	if user, ok, _ := h.cache.Lookup(context.Background(), netip.MustParseAddr("127.0.0.1")); !ok || user != "alice" {
		t.Errorf("AuthService has %q, %v; want alice", user, ok)
	}
}

func TestAuthExternalAuthzid(t *testing.T) {
	h := startExternal(t, nil)
	cl := h.tlsClient(t, &h.cs.Client)
	// An authorization identity other than the mapped user.
	cl.Do("AUTH EXTERNAL "+b64("bob"), "-ERR [AUTH] Logging in as another user is not allowed")
	// Malformed and cancelled responses.
	cl.Do("AUTH EXTERNAL !!!", "-ERR Malformed authentication response")
	cl.Do("AUTH EXTERNAL", "+ ")
	cl.Do("*", "-ERR Authentication cancelled")
	if n := h.store.conns(); n != 0 {
		t.Fatalf("store contacted %d times", n)
	}
	// Without an initial response: an empty response after "+ ".
	cl.Do("AUTH EXTERNAL", "+ ")
	cl.Send("\r\n")
	cl.loggedIn("storeadmin")

	// The mapped user's own name as authzid.
	cl = h.tlsClient(t, &h.cs.Client)
	cl.Send("AUTH EXTERNAL " + b64("alice") + "\r\n")
	cl.loggedIn("storeadmin")
}

func TestAuthExternalRefused(t *testing.T) {
	t.Run("no certificate", func(t *testing.T) {
		h := startExternal(t, nil)
		cl := h.tlsClient(t, nil)
		cl.Send("CAPA\r\n")
		for l := cl.Line(); l != "."; l = cl.Line() {
			if strings.Contains(l, "EXTERNAL") {
				t.Errorf("EXTERNAL offered without a certificate: %q", l)
			}
		}
		cl.Do("AUTH EXTERNAL =", "-ERR Unsupported authentication mechanism")
	})
	t.Run("no CertmapFile", func(t *testing.T) {
		h := startExternal(t, map[string]string{"CertmapFile": "-"})
		cl := h.tlsClient(t, &h.cs.Client)
		cl.Do("CAPA", "+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN", ".")
		cl.Do("AUTH EXTERNAL =", "-ERR Unsupported authentication mechanism")
	})
	t.Run("no StoreAdmin", func(t *testing.T) {
		h := startExternal(t, map[string]string{"StoreAdmin": "-", "StoreAdminPass": "-"})
		cl := h.tlsClient(t, &h.cs.Client)
		cl.Do("AUTH EXTERNAL =", "-ERR [SYS/TEMP] Login is temporarily unavailable, try again later")
		if n := h.store.conns(); n != 0 {
			t.Errorf("store contacted %d times", n)
		}
	})
	t.Run("no mapping", func(t *testing.T) {
		h := startExternal(t, nil)
		h.router.Users = nil
		cl := h.tlsClient(t, &h.cs.Client)
		cl.Do("AUTH EXTERNAL =", "-ERR [AUTH] Authentication failed")
		if n := h.store.conns(); n != 0 {
			t.Errorf("store contacted %d times", n)
		}
		if m := h.router.used(); len(m) != 1 || !m[0].IsDefault() {
			t.Errorf("maps used: %v", m)
		}
	})
	t.Run("store refuses", func(t *testing.T) {
		h := startExternal(t, map[string]string{"StoreAdminPass": "wrong"})
		cl := h.tlsClient(t, &h.cs.Client)
		cl.Do("AUTH EXTERNAL =", "-ERR [AUTH] Authentication failed")
		if h.cache.Len() != 0 {
			t.Error("a refused login was remembered for POP-before-SMTP")
		}
	})
}
