package proxy_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// StoreAnnounce: the store learns who the client is. A client on
// 127.0.0.5 logs in through the MMP (which reaches Dovecot from
// 127.0.0.1, in login_trusted_networks or haproxy_trusted_networks);
// Dovecot's log names the client, rip=127.0.0.5, not the MMP. A client's
// own ID cannot set the address.
func TestStoreAnnounce(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.5")
	trusted := dovecot.WithConfig("login_trusted_networks = 127.0.0.1/32")
	for _, tc := range []struct {
		proto, announce string
		haproxy         bool
	}{
		{"IMAP", "id", false},
		{"IMAP", "proxy", true},
		{"IMAP", "proxy-v2", true},
		{"POP", "xclient", false},
		{"POP", "proxy", true},
		{"POP", "proxy-v2", true},
	} {
		t.Run(tc.proto+"/"+tc.announce, func(t *testing.T) {
			opts := []dovecot.Option{dovecot.WithUser("alice", "alicepw"), trusted}
			if tc.haproxy {
				opts = append(opts, dovecot.WithHAProxy())
			}
			store := dovecot.Start(t, opts...)
			p := protocols[0]
			port := store.IMAPPort
			if tc.proto == "POP" {
				p, port = protocols[1], store.POP3Port
			}
			dir := &proxytest.Directory{}
			dir.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{store.Host}})
			svc := proxytest.ServiceOf(t, p.service, map[string]string{"BacksidePort": itoa(port), "StoreAnnounce": tc.announce}, "")
			srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: p.new(), Directory: dir})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			cl := proxytest.Dial(t, ln.Addr().String(), "127.0.0.5")
			c := &lineConn{Conn: cl.Conn, r: cl.R}
			if tc.proto == "IMAP" {
				c.greet(t, "* OK")
				c.send(`i ID ("name" "forger" "x-originating-ip" "6.6.6.6")`)
				for l := c.line(t); !strings.HasPrefix(l, "i "); l = c.line(t) {
				}
			}
			if got := p.login(t, c, "", "alice", "alicepw"); got != ok {
				t.Fatalf("login = %s", got)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(store.Log(), "rip=127.0.0.5") {
				if time.Now().After(deadline) {
					t.Fatalf("Dovecot does not name the client:\n%s", store.Log())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if strings.Contains(store.Log(), "6.6.6.6") {
				t.Errorf("the client's own ID set the address:\n%s", store.Log())
			}
			// ID and XCLIENT carry the MMP's session id; a PROXY header
			// cannot.
			if !tc.haproxy && !strings.Contains(store.Log(), "session=<mmp-") {
				t.Errorf("Dovecot's session id does not follow the MMP's log id:\n%s", store.Log())
			}
		})
	}
}
