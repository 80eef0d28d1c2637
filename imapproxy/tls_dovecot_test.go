package imapproxy_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/twostores"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

// tlsProxy is an IMAP proxy with TLS on both sides: STARTTLS on plain,
// implicit TLS on ssl, and SSLBacksidePort to the stores.
type tlsProxy struct {
	srv        *proxy.Server
	plain, ssl string
}

func startTLSProxy(tb testing.TB, cs *testcert.Set, storeCA string, settings map[string]string, users map[string]string) *tlsProxy {
	tb.Helper()
	sslPort := testenv.FreePort(tb)
	s := map[string]string{"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile,
		"SSLPorts": strconv.Itoa(sslPort), "BGExcluded": "127.0.0.0|255.0.0.0"}
	for k, v := range settings {
		s[k] = v
	}
	svc := proxytest.Service(tb, s, "")
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{CAFile: storeCA})
	if err != nil {
		tb.Fatal(err)
	}
	router := &proxytest.Directory{}
	for u, host := range users {
		router.SetUser(u, &account.User{DN: "uid=" + u, MailHosts: []string{host}})
	}
	p := &tlsProxy{srv: proxy.NewServer(proxy.Options{Service: svc, Protocol: imapproxy.New(imapproxy.Options{}), Directory: router, TLS: tc})}
	for _, a := range []*string{&p.plain, &p.ssl} {
		addr := "127.0.0.1:0"
		if a == &p.ssl {
			addr = "127.0.0.1:" + strconv.Itoa(sslPort)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		*a = ln.Addr().String()
		go p.srv.Serve(ln)
	}
	tb.Cleanup(func() { p.srv.Close() })
	return p
}

// TestDovecotStoreTLS: SSLBacksidePort makes the proxy log in to a real
// Dovecot over TLS, verifying its certificate.
func TestDovecotStoreTLS(t *testing.T) {
	cs := testcert.New(t)
	store := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"),
		dovecot.WithMessage("alice", "From: a@example.com\r\nSubject: over TLS twice\r\n\r\nhi\r\n"),
		dovecot.WithTLS(cs.CertFile, cs.KeyFile))
	p := startTLSProxy(t, cs, cs.CAFile, map[string]string{"SSLBacksidePort": strconv.Itoa(store.IMAPSPort),
		"BacksidePort": strconv.Itoa(store.IMAPPort), "RestrictPlainPasswords": "yes"}, map[string]string{"alice": store.Host})

	c, err := tls.Dial("tcp", p.ssl, cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := &client{&proxytest.Client{T: t, Conn: c, R: bufio.NewReader(c)}}
	cl.ExpectPrefix("* OK [CAPABILITY ")
	cl.Send("a LOGIN alice alicepw\r\n")
	cl.ExpectPrefix("a OK ")
	cl.Send("b SELECT INBOX\r\nc FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n")
	var got string
	for {
		l := cl.Line()
		if strings.HasPrefix(l, "Subject:") {
			got = l
		}
		if strings.HasPrefix(l, "c ") {
			break
		}
	}
	if got != "Subject: over TLS twice" {
		t.Fatalf("fetched %q", got)
	}
	// Dovecot logs "TLS" in the login line of an encrypted connection.
	time.Sleep(200 * time.Millisecond)
	if log := store.Log(); !strings.Contains(log, "user=<alice>") || !strings.Contains(log, "TLS") {
		t.Errorf("Dovecot did not see a TLS login:\n%s", log)
	}

	// A store certificate from another CA is refused: the store counts as
	// down, the client gets the MMP's own reply.
	other := testcert.New(t)
	p2 := startTLSProxy(t, cs, other.CAFile, map[string]string{"SSLBacksidePort": strconv.Itoa(store.IMAPSPort)},
		map[string]string{"alice": store.Host})
	c2, err := tls.Dial("tcp", p2.ssl, cs.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	cl2 := &client{&proxytest.Client{T: t, Conn: c2, R: bufio.NewReader(c2)}}
	cl2.ExpectPrefix("* OK ")
	cl2.Send("a LOGIN alice alicepw\r\n")
	for {
		l := cl2.Line()
		if strings.HasPrefix(l, "a ") {
			if !strings.HasPrefix(l, "a NO ") {
				t.Fatalf("login through an unverified store: %q", l)
			}
			break
		}
	}
}

// TestCurlTLS: curl --ssl-reqd logs in through the proxy (STARTTLS and
// imaps://) to the two real Dovecot stores, which the proxy reaches over
// TLS.
func TestCurlTLS(t *testing.T) {
	curl := testenv.Binary(t, "curl")
	cs := testcert.New(t, twostores.Store1, twostores.Store2)
	imaps := testenv.FreePortOn(t, twostores.Store1, twostores.Store2)
	pop3s := testenv.FreePortOn(t, twostores.Store1, twostores.Store2)
	env := twostores.Start(t, twostores.WithStores(dovecot.WithTLS(cs.CertFile, cs.KeyFile), dovecot.WithTLSPorts(imaps, pop3s)))
	users := map[string]string{}
	for _, a := range twostores.Accounts {
		users[a.UID] = a.MailHost
	}
	p := startTLSProxy(t, cs, cs.CAFile, map[string]string{"SSLBacksidePort": strconv.Itoa(imaps),
		"RestrictPlainPasswords": "yes"}, users)
	for _, uid := range []string{"alice", "bob"} {
		a := twostores.User(uid)
		for _, url := range []string{"imap://" + p.plain + "/INBOX;MAILINDEX=1", "imaps://" + p.ssl + "/INBOX;MAILINDEX=1"} {
			out, err := exec.Command(curl, "-sS", "--max-time", "20", "--ssl-reqd", "--cacert", cs.CAFile,
				"--connect-to", "localhost:"+portOf(url)+":"+hostPort(url), strings.Replace(url, "127.0.0.1", "localhost", 1),
				"-u", a.UID+":"+a.Password).CombinedOutput()
			if err != nil {
				t.Fatalf("curl %s as %s: %v\n%s", url, uid, err, out)
			}
			if want := "Subject: " + twostores.WelcomeSubject(a); !strings.Contains(string(out), want) {
				t.Errorf("curl %s as %s got %q, want %q", url, uid, out, want)
			}
		}
	}
	_ = env
}

func hostPort(url string) string {
	rest := url[strings.Index(url, "://")+3:]
	return rest[:strings.IndexByte(rest, '/')]
}

func portOf(url string) string {
	_, port, _ := net.SplitHostPort(hostPort(url))
	return port
}

// The TLS benchmarks compare a client speaking IMAPS to Dovecot directly
// with the same client speaking IMAPS to the MMP, which reaches Dovecot
// over TLS too (SSLBacksidePort) or in clear text:
//
//	go test -run '^$' -bench 'TLS' -benchtime 3s ./imapproxy/
type tlsBenchEnv struct {
	cs      *testcert.Set
	store   *dovecot.Server
	targets []struct{ name, addr string }
}

func startTLSBench(b *testing.B) *tlsBenchEnv {
	b.Helper()
	cs := testcert.New(b)
	var opts []dovecot.Option
	for i := range benchUsers {
		opts = append(opts, dovecot.WithUser(fmt.Sprintf("user%d", i), "pw"))
	}
	opts = append(opts, dovecot.WithMessage("user0", bigMessage()), dovecot.WithTLS(cs.CertFile, cs.KeyFile))
	store := dovecot.Start(b, opts...)
	users := map[string]string{}
	for i := range benchUsers {
		users[fmt.Sprintf("user%d", i)] = store.Host
	}
	both := startTLSProxy(b, cs, cs.CAFile, map[string]string{"SSLBacksidePort": strconv.Itoa(store.IMAPSPort)}, users)
	front := startTLSProxy(b, cs, cs.CAFile, map[string]string{"BacksidePort": strconv.Itoa(store.IMAPPort)}, users)
	return &tlsBenchEnv{cs: cs, store: store, targets: []struct{ name, addr string }{
		{"direct-imaps", store.IMAPSAddr()}, {"proxy-tls-both-sides", both.ssl}, {"proxy-tls-client-only", front.ssl}}}
}

func tlsBenchDial(tb testing.TB, cs *testcert.Set, addr string) *benchConn {
	c, err := tls.Dial("tcp", addr, cs.ClientConfig("localhost"))
	if err != nil {
		tb.Fatal(err)
	}
	bc := &benchConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	if _, err := bc.r.ReadString('\n'); err != nil {
		tb.Fatal(err)
	}
	return bc
}

func BenchmarkTLSLogin(b *testing.B) {
	e := startTLSBench(b)
	for _, tg := range e.targets {
		b.Run(tg.name, func(b *testing.B) {
			var next atomic.Int32
			b.SetParallelism((benchUsers + 1) / max(1, runtimeProcs()))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				user := fmt.Sprintf("user%d", int(next.Add(1)-1)%benchUsers)
				for pb.Next() {
					bc := tlsBenchDial(b, e.cs, tg.addr)
					bc.do(b, "LOGIN "+user+" pw")
					bc.do(b, "LOGOUT")
					bc.c.Close()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
		})
	}
}

func BenchmarkTLSFetch10MB(b *testing.B) {
	e := startTLSBench(b)
	for _, tg := range e.targets {
		b.Run(tg.name, func(b *testing.B) {
			bc := tlsBenchDial(b, e.cs, tg.addr)
			defer bc.c.Close()
			bc.do(b, "LOGIN user0 pw")
			bc.do(b, "EXAMINE INBOX")
			b.SetBytes(bigSize)
			b.ResetTimer()
			for range b.N {
				bc.do(b, "FETCH 1 BODY.PEEK[]")
			}
		})
	}
}
