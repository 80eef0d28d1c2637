package imapproxy_test

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
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv/testcert"
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

// startExternal starts a proxy with TLS, SSLClientCAPEM and CertmapFile,
// and a fake store that knows only the store administrator.
func startExternal(t *testing.T, extra map[string]string) (*testcert.Set, *fakeStore, string) {
	cs, store, addr, _ := startExternalRouter(t, extra)
	return cs, store, addr
}

func startExternalRouter(t *testing.T, extra map[string]string) (*testcert.Set, *fakeStore, string, *certRouter) {
	cs := testcert.New(t)
	cm := filepath.Join(t.TempDir(), "certmap.conf")
	if err := os.WriteFile(cm, []byte("certmap default default\ndefault:DNComps\ndefault:FilterComps ou=uid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newFakeStore(t, defaultStoreGreeting, map[string]string{"storeadmin": "storeadminpw"})
	settings := map[string]string{
		"BacksidePort": strconv.Itoa(store.port()), "BGExcluded": "127.0.0.0/8",
		"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile, "SSLClientCAPEM": cs.CAFile,
		"CertmapFile": cm, "StoreAdmin": "storeadmin", "StoreAdminPass": "storeadminpw",
		"Capability": "IMAP4rev1 LITERAL+",
	}
	for k, v := range extra {
		if v == "-" {
			delete(settings, k)
		} else {
			settings[k] = v
		}
	}
	svc := proxytest.Service(t, settings, "")
	r := &certRouter{}
	r.SetUser("alice", &account.User{DN: "uid=alice,o=test", MailHosts: []string{"127.0.0.1"}, Attrs: map[string][]string{"uid": {"alice"}}})
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: imapproxy.New(imapproxy.Options{Host: "mmp1"}), Directory: r, TLS: tc})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return cs, store, ln.Addr().String(), r
}

// tlsClient dials, runs STARTTLS and presents cert (if not nil).
func tlsClient(t *testing.T, cs *testcert.Set, addr string, cert *tls.Certificate) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{&proxytest.Client{T: t, Conn: c, R: bufio.NewReader(c)}}
	cl.ExpectPrefix("* OK ")
	cl.Send("s STARTTLS\r\n")
	cl.Expect("s OK Begin TLS negotiation now")
	cfg := cs.ClientConfig("localhost")
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

func TestAuthenticateExternal(t *testing.T) {
	cs, store, addr := startExternal(t, nil)
	cl := tlsClient(t, cs, addr, &cs.Client)
	cl.Send("a CAPABILITY\r\n")
	cl.Expect("* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN AUTH=LOGIN AUTH=EXTERNAL", "a OK CAPABILITY completed")
	cl.Send("b AUTHENTICATE EXTERNAL =\r\n")
	cl.Expect("b OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Logged in as storeadmin")
	cl.Send("w WHOAMI\r\n")
	cl.Expect("* WHOAMI storeadmin", "w OK done")
	// Golden transcript: PLAIN with authzid alice, authcid StoreAdmin.
	plain := base64.StdEncoding.EncodeToString([]byte("alice\x00storeadmin\x00storeadminpw"))
	if got, want := store.got(0), "MMP1 AUTHENTICATE PLAIN "+plain+"\r\nw WHOAMI\r\n"; got != want {
		t.Errorf("store received %q, want %q", got, want)
	}
}

func TestAuthenticateExternalContinuation(t *testing.T) {
	cs, _, addr := startExternal(t, nil)
	cl := tlsClient(t, cs, addr, &cs.Client)
	// authzid other than the mapped user.
	cl.Send("a AUTHENTICATE EXTERNAL " + base64.StdEncoding.EncodeToString([]byte("bob")) + "\r\n")
	cl.ExpectPrefix("a NO [AUTHORIZATIONFAILED] ")
	// Without an initial response: an empty response after "+ ".
	cl.Send("b AUTHENTICATE EXTERNAL\r\n")
	cl.Expect("+ ")
	cl.Send("\r\n")
	cl.ExpectPrefix("b OK ")
}

func TestAuthenticateExternalRefused(t *testing.T) {
	t.Run("no certificate", func(t *testing.T) {
		cs, _, addr := startExternal(t, nil)
		cl := tlsClient(t, cs, addr, nil)
		cl.Send("a CAPABILITY\r\n")
		if l := cl.Line(); strings.Contains(l, "EXTERNAL") {
			t.Errorf("EXTERNAL offered without a certificate: %q", l)
		}
		cl.Line()
		cl.Send("b AUTHENTICATE EXTERNAL =\r\n")
		cl.ExpectPrefix("b NO [CANNOT] ")
	})
	t.Run("no StoreAdmin", func(t *testing.T) {
		cs, _, addr := startExternal(t, map[string]string{"StoreAdmin": "-", "StoreAdminPass": "-"})
		cl := tlsClient(t, cs, addr, &cs.Client)
		cl.Send("b AUTHENTICATE EXTERNAL =\r\n")
		cl.ExpectPrefix("b NO [UNAVAILABLE] ")
	})
	t.Run("no mapping", func(t *testing.T) {
		cs, store, addr, r := startExternalRouter(t, nil)
		r.Users = nil
		cl := tlsClient(t, cs, addr, &cs.Client)
		cl.Send("b AUTHENTICATE EXTERNAL =\r\n")
		cl.ExpectPrefix("b NO [AUTHENTICATIONFAILED] ")
		if store.conns() != 0 {
			t.Errorf("store contacted %d times", store.conns())
		}
		if m := r.used(); len(m) != 1 || !m[0].IsDefault() {
			t.Errorf("maps used: %v", m)
		}
	})
}
