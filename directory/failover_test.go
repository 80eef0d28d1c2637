package directory

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// hostPort is the host:port of a slapd, for LdapUrl.
func hostPort(s *slapd.Server) string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// TestFailoverTwoServers runs lookups and pre-authentications without
// pause against two replicas named in LdapUrl (both forms of docs/reference.md §2.2),
// stops the first in the middle and checks that no login lost its answer;
// then stops the second too, checks that logins fail as temporary within
// the timeouts, and that the same Directory serves them again once one
// replica is back.
func TestFailoverTwoServers(t *testing.T) {
	for _, form := range []string{"hosts", "urls"} {
		t.Run(form, func(t *testing.T) {
			ldif := []slapd.Option{slapd.WithLDIF(twoStores(t)), slapd.WithLDIF(manyLDIF())}
			s1 := slapd.Start(t, ldif...)
			s2 := slapd.Start(t, ldif...)
			url := "ldap://" + hostPort(s1) + " " + hostPort(s2) + "/o=internet"
			if form == "urls" {
				url = "ldap://" + hostPort(s1) + "/o=internet ldap://" + hostPort(s2) + "/o=internet"
			}
			d, lb := newDir(t, Options{OpTimeout: 2 * time.Second, DialTimeout: time.Second})
			v := values(t, s1, "LdapUrl", url, "LdapCacheSize", "0", "AuthCacheSize", "0")
			alice := lookupUser(t, d, query("alice", v))

			var (
				stop    atomic.Bool
				ops     atomic.Int64
				errsMu  sync.Mutex
				errs    []string
				wg      sync.WaitGroup
				stopped = make(chan struct{})
			)
			for w := range 8 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						var err error
						what := ""
						if i%4 == 3 {
							what = "PreAuth(alice)"
							err = d.CheckPassword(ctx, query("alice", v), alice, "alicepw")
						} else {
							login := fmt.Sprintf("user%03d", (w*37+i)%manyUsers)
							what = "Lookup(" + login + ")"
							_, err = d.Lookup(ctx, query(login, v))
						}
						cancel()
						ops.Add(1)
						if err != nil {
							errsMu.Lock()
							errs = append(errs, fmt.Sprintf("%s: %v", what, err))
							errsMu.Unlock()
						}
					}
				})
			}
			waitOps := func(n int64) {
				t.Helper()
				target := ops.Load() + n
				deadline := time.Now().Add(10 * time.Second)
				for ops.Load() < target {
					if time.Now().After(deadline) {
						t.Fatalf("fewer than %d operations in 10s", n)
					}
					time.Sleep(time.Millisecond)
				}
			}
			waitOps(200)
			go func() { s1.Stop(); close(stopped) }()
			<-stopped
			waitOps(500)
			stop.Store(true)
			wg.Wait()
			if len(errs) > 0 {
				t.Errorf("%d of %d operations failed while the first replica stopped, e.g.:\n%s",
					len(errs), ops.Load(), strings.Join(errs[:min(len(errs), 5)], "\n"))
			}
			if got := strings.Count(lb.String(), "ldap://"+hostPort(s1)+" is down"); got != 1 {
				t.Errorf("log lines about %s being down = %d, want 1", hostPort(s1), got)
			}
			t.Logf("%d operations, the first replica stopped after about 200", ops.Load())

			// Both down: temporary failure within the timeouts.
			s2.Stop()
			for _, login := range []string{"user001", "user002"} {
				start := time.Now()
				if _, err := d.Lookup(ctxTimeout(t, 10*time.Second), query(login, v)); errKind(err) != "ErrUnavailable" {
					t.Errorf("Lookup(%s) with both replicas stopped = %v, want ErrUnavailable", login, err)
				}
				if el := time.Since(start); el > 3*time.Second {
					t.Errorf("Lookup(%s) with both replicas stopped took %v, want less than OpTimeout + DialTimeout", login, el)
				}
			}
			if err := d.CheckPassword(ctxTimeout(t, 10*time.Second), query("alice", v), alice, "alicepw"); errKind(err) != "ErrUnavailable" {
				t.Errorf("PreAuth(alice) with both replicas stopped = %v, want ErrUnavailable", err)
			}

			// The second comes back: the same Directory finds it.
			s2.Restart(t)
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err := d.Lookup(t.Context(), query("user003", v))
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Lookup(user003) 5s after the second replica restarted = %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := d.CheckPassword(t.Context(), query("alice", v), alice, "alicepw"); err != nil {
				t.Errorf("PreAuth(alice) after the second replica restarted = %v", err)
			}
		})
	}
}

// TestVdmapOwnPoolAndCache: a vdmap domain with its own LdapUrl, BindDN and
// cache sizes searches its own directory as its own identity with its own
// caches (docs/reference.md §2.10); one that shares the directory and identity of the
// service but not LdapCacheSize does not shrink the service's cache.
func TestVdmapOwnPoolAndCache(t *testing.T) {
	s1 := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	s2 := slapd.Start(t, slapd.WithLDIF(ldifFile(t, "schema1.ldif")))
	d, _ := newDir(t, Options{})
	svc := loadService(t, map[string]string{
		"LdapUrl": s1.URL + "/o=internet", "BindDN": s1.ProxyDN, "BindPass": s1.ProxyPass,
		"HostedDomains": "no", "LdapCacheSize": "10", "AuthCacheSize": "10",
	}, fmt.Sprintf("vdmap other 127.0.0.2\nother:LdapUrl %s/o=internet\nother:BindDN %q\nother:BindPass %s\n"+
		"other:HostedDomains yes\nother:DefaultDomain varrius.com\nother:LdapCacheSize 2\nother:AuthCacheSize 0\n\n"+
		"vdmap small 127.0.0.3\nsmall:LdapUrl %s/o=internet\nsmall:BindDN %q\nsmall:BindPass %s\nsmall:LdapCacheSize 1\n",
		s2.URL, s2.AdminDN, s2.AdminPass, s1.URL, s1.ProxyDN, s1.ProxyPass))
	at := func(local string) func(login string) *userAt {
		v := svc.ForLocal(netip.MustParseAddr(local))
		return func(login string) *userAt {
			q := query(login, v)
			q.Server = netip.MustParseAddr(local)
			return &userAt{q: q}
		}
	}
	main, other, small := at("127.0.0.1"), at("127.0.0.2"), at("127.0.0.3")

	lookup := func(s *slapd.Server, ua *userAt, wantHost string, wantSearches int) *userAt {
		t.Helper()
		before := countSearches(s)
		u, err := d.Lookup(t.Context(), ua.q)
		if err != nil || u.MailHosts[0] != wantHost {
			t.Fatalf("Lookup(%s) on %s = %+v, %v; want %s", ua.q.Name.Orig, ua.q.Server, u, err, wantHost)
		}
		if got := countSearches(s) - before; got != wantSearches {
			t.Errorf("Lookup(%s) on %s sent %d searches, want %d", ua.q.Name.Orig, ua.q.Server, got, wantSearches)
		}
		ua.u = u
		return ua
	}
	// Its own directory: alice is varrius.com's alice there. Its cache
	// holds two entries: a domain node and a user.
	lookup(s1, main("alice"), store1, 1)
	oa := lookup(s2, other("alice"), store2, 2) // domain node and user
	lookup(s2, other("alice"), store2, 0)
	lookup(s2, other("alice@siroe.com"), store1, 2) // evicts varrius.com and its alice
	lookup(s2, other("alice"), store2, 2)
	// Its own identity.
	if got := s2.CountBinds(s2.AdminDN); got != 1 {
		t.Errorf("CountBinds(%s) on the vdmap's directory = %d, want 1", s2.AdminDN, got)
	}
	if got := s2.CountBinds(s2.ProxyDN); got != 0 {
		t.Errorf("CountBinds(%s) on the vdmap's directory = %d, want 0", s2.ProxyDN, got)
	}
	// Same directory and identity, smaller cache: its own cache, and the
	// service's entries stay.
	lookup(s1, main("bob"), store2, 1)
	lookup(s1, small("alice"), store1, 1)
	lookup(s1, small("bob"), store2, 1)
	lookup(s1, small("alice"), store1, 1)
	lookup(s1, main("alice"), store1, 0)
	lookup(s1, main("bob"), store2, 0)
	d.mu.Lock()
	pools := len(d.pools)
	d.mu.Unlock()
	if pools != 2 {
		t.Errorf("search pools = %d, want 2 (the service's, shared with the small domain, and the other domain's)", pools)
	}

	// Pre-authentication caches: 10 entries for the service, none for the
	// vdmap domain.
	ma := main("alice")
	ma.u = lookup(s1, ma, store1, 0).u
	for range 2 {
		if err := d.CheckPassword(t.Context(), ma.q, ma.u, "alicepw"); err != nil {
			t.Fatalf("PreAuth(alice) = %v", err)
		}
		if err := d.CheckPassword(t.Context(), oa.q, oa.u, "varrius-alice"); err != nil {
			t.Fatalf("PreAuth(alice) on the vdmap domain = %v", err)
		}
	}
	if got := s1.CountBinds(aliceDN); got != 1 {
		t.Errorf("binds of alice on the service's directory = %d, want 1 (AuthCacheSize 10)", got)
	}
	if got := s2.CountBinds(oa.u.DN); got != 2 {
		t.Errorf("binds of %s on the vdmap's directory = %d, want 2 (AuthCacheSize 0)", oa.u.DN, got)
	}
}

// userAt is a login at one server address, and its lookup result.
type userAt struct {
	q account.Query
	u *account.User
}

// TestStartTLS: with Options.StartTLS, ldap:// connections are encrypted
// before the BindDN's password is sent; a server without TLS is not used
// in clear text.
func TestStartTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, "127.0.0.1")
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)),
		slapd.WithSchema(fmt.Sprintf("TLSCertificateFile %s\nTLSCertificateKeyFile %s\n", certFile, keyFile)))
	d, _ := newDir(t, Options{StartTLS: true, RootCAs: pool})
	v := values(t, s)
	if u, err := d.Lookup(t.Context(), query("alice", v)); err != nil || u.MailHosts[0] != store1 {
		t.Fatalf("Lookup(alice) with StartTLS = %+v, %v; want %s", u, err, store1)
	}
	u := lookupUser(t, d, query("bob", v))
	if err := d.CheckPassword(t.Context(), query("bob", v), u, "bobpw"); err != nil {
		t.Errorf("PreAuth(bob) with StartTLS = %v", err)
	}
	if log := s.Log(); strings.Count(log, "STARTTLS") < 2 {
		t.Errorf("slapd log shows %d STARTTLS, want one per connection (search and bind pools)", strings.Count(log, "STARTTLS"))
	}

	// A server whose certificate we do not trust, and one without TLS:
	// ErrUnavailable, and no bind is ever sent.
	untrusted, _ := newDir(t, Options{StartTLS: true, DialTimeout: time.Second})
	if _, err := untrusted.Lookup(t.Context(), query("alice", v)); errKind(err) != "ErrUnavailable" {
		t.Errorf("Lookup(alice) with StartTLS to an untrusted certificate = %v, want ErrUnavailable", err)
	}
	plain := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d2, _ := newDir(t, Options{StartTLS: true, RootCAs: pool, DialTimeout: time.Second})
	if _, err := d2.Lookup(t.Context(), query("alice", values(t, plain))); errKind(err) != "ErrUnavailable" || !strings.Contains(err.Error(), "StartTLS") {
		t.Errorf("Lookup(alice) with StartTLS to a server without TLS = %v, want ErrUnavailable naming StartTLS", err)
	}
	if got := plain.CountBinds(plain.ProxyDN); got != 0 {
		t.Errorf("binds sent to a server that refused StartTLS = %d, want 0", got)
	}
}

// selfSigned writes a self-signed certificate for ip and its key as PEM
// files, and returns them with a pool that trusts the certificate.
func selfSigned(t *testing.T, ip string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: ip},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP(ip)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
