package popproxy_test

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/twostores"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

// TestCurlPOP3TLS: curl --ssl-reqd logs in through the POP proxy (STLS
// and pop3s://) to the two real Dovecot stores, which the proxy reaches
// over TLS (SSLBacksidePort = their POP3S port).
func TestCurlPOP3TLS(t *testing.T) {
	curl := testenv.Binary(t, "curl")
	cs := testcert.New(t, twostores.Store1, twostores.Store2)
	imaps := testenv.FreePortOn(t, twostores.Store1, twostores.Store2)
	pop3s := testenv.FreePortOn(t, twostores.Store1, twostores.Store2)
	twostores.Start(t, twostores.WithStores(dovecot.WithTLS(cs.CertFile, cs.KeyFile), dovecot.WithTLSPorts(imaps, pop3s)))

	sslPort := testenv.FreePort(t)
	svc := popService(t, map[string]string{"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile,
		"SSLPorts": strconv.Itoa(sslPort), "SSLBacksidePort": strconv.Itoa(pop3s), "RestrictPlainPasswords": "yes",
		"BGExcluded": "127.0.0.0|255.0.0.0"}, "")
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{CAFile: cs.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	router := &proxytest.Directory{}
	for _, a := range twostores.Accounts {
		router.SetUser(a.UID, &account.User{DN: a.DN, MailHosts: []string{a.MailHost}})
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: popproxy.New(popproxy.Options{Host: "mmp1"}), Directory: router, TLS: tc})
	t.Cleanup(func() { srv.Close() })
	var addrs []string
	for _, a := range []string{"127.0.0.1:0", "127.0.0.1:" + strconv.Itoa(sslPort)} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		go srv.Serve(ln)
	}
	for _, uid := range []string{"alice", "bob"} {
		a := twostores.User(uid)
		for i, scheme := range []string{"pop3", "pop3s"} {
			_, port, _ := net.SplitHostPort(addrs[i])
			out, err := exec.Command(curl, "-sS", "--max-time", "20", "--ssl-reqd", "--cacert", cs.CAFile,
				"--connect-to", "localhost:"+port+":"+addrs[i], scheme+"://localhost:"+port+"/1",
				"-u", a.UID+":"+a.Password).CombinedOutput()
			if err != nil {
				t.Fatalf("curl %s as %s: %v\n%s", scheme, uid, err, out)
			}
			if want := "Subject: " + twostores.WelcomeSubject(a); !strings.Contains(string(out), want) {
				t.Errorf("curl %s as %s got %q, want %q", scheme, uid, out, want)
			}
		}
	}
}
