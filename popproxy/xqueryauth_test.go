package popproxy_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/internal/testenv"
)

// nonLoopback returns an address of this host that is not loopback, to
// reach the proxy from.
func nonLoopback(t *testing.T) string { return testenv.NonLoopback(t) }

func TestXQueryAuth(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"AuthService": "yes", "AuthServiceTTL": "900"}})
	cl := h.greeted()
	cl.Do("XQUERYAUTH 127.0.0.1", "-ERR no recent login")
	cl.login("alice", "Wr0ngSecret", "-ERR [AUTH] Authentication failed") // a failure records nothing
	cl.Do("XQUERYAUTH 127.0.0.1", "-ERR no recent login")
	cl.Do("XQUERYAUTH nonsense", "-ERR XQUERYAUTH needs one IP address")
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")

	q := h.greeted()
	q.Do("XQUERYAUTH 127.0.0.1", "+OK alice")
	q.Do("XQUERYAUTH ::ffff:127.0.0.1", "+OK alice")
	q.Do("XQUERYAUTH 192.0.2.99", "-ERR no recent login")

	// The client of the SMTP proxy speaks the same language.
	user, ok, err := authsvc.Remote{Addr: h.addr}.Lookup(context.Background(), netip.MustParseAddr("127.0.0.1"))
	if user != "alice" || !ok || err != nil {
		t.Errorf("Remote.Lookup = %q, %v, %v; want alice, true, nil", user, ok, err)
	}
}

// With a domain, the user is recorded as the directory knows them.
func TestXQueryAuthDomain(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"AuthService": "yes", "AuthServiceTTL": "900", "DefaultDomain": "siroe.com"}})
	h.router.SetUser("alice@siroe.com", &account.User{DN: "uid=alice", MailHosts: []string{"127.0.0.1"}})
	cl := h.greeted()
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
	h.greeted().Do("XQUERYAUTH 127.0.0.1", "+OK alice@siroe.com")
}

func TestXQueryAuthNotAvailable(t *testing.T) {
	for name, settings := range map[string]map[string]string{
		"AuthService off": {"AuthServiceTTL": "900"},
		"default":         nil,
	} {
		t.Run(name, func(t *testing.T) {
			h := start(t, setup{settings: settings})
			cl := h.greeted()
			cl.login("alice", "alicepw", "+OK Logged in as alice.")
			q := h.greeted()
			q.Do("XQUERYAUTH 127.0.0.1", "-ERR XQUERYAUTH not available")
			if _, _, err := (authsvc.Remote{Addr: h.addr}).Lookup(context.Background(), netip.MustParseAddr("127.0.0.1")); err != authsvc.ErrRefused {
				t.Errorf("Remote.Lookup error %v, want ErrRefused", err)
			}
			if h.cache.Len() != 0 {
				t.Error("a login was recorded with AuthService off")
			}
		})
	}
	t.Run("TTL off", func(t *testing.T) {
		h := start(t, setup{settings: map[string]string{"AuthService": "yes", "AuthServiceTTL": "0"}})
		cl := h.greeted()
		cl.login("alice", "alicepw", "+OK Logged in as alice.")
		h.greeted().Do("XQUERYAUTH 127.0.0.1", "-ERR no recent login")
	})
}

// AuthService in one vdmap block only: logins through the other address
// are not recorded, and XQUERYAUTH is available only on the block's.
func TestXQueryAuthVdmap(t *testing.T) {
	h := start(t, setup{
		settings: map[string]string{"AuthServiceTTL": "900"},
		vdmap:    "vdmap two 127.0.0.2\ntwo:AuthService yes\n",
		listen:   []string{"127.0.0.2:0", "127.0.0.3:0"},
	})
	on, off := h.addrs[0], h.addrs[1]
	c := h.dialAddr(off)
	c.ExpectPrefix("+OK ")
	c.login("alice", "alicepw", "+OK Logged in as alice.")
	q := h.dialAddr(on)
	q.ExpectPrefix("+OK ")
	q.Do("XQUERYAUTH 127.0.0.1", "-ERR no recent login")
	c = h.dialAddr(on)
	c.ExpectPrefix("+OK ")
	c.login("bob", "bob pw x", "+OK Logged in as bob.")
	q.Do("XQUERYAUTH 127.0.0.1", "+OK bob")
	q = h.dialAddr(off)
	q.ExpectPrefix("+OK ")
	q.Do("XQUERYAUTH 127.0.0.1", "-ERR XQUERYAUTH not available")
}

// From an address that is not loopback, XQUERYAUTH needs an explicit
// "+smtp:" allow rule in TCPAccess.
func TestXQueryAuthFromNetwork(t *testing.T) {
	ip := nonLoopback(t)
	for _, tt := range []struct {
		tcpAccess string
		want      string
	}{
		{"", "-ERR XQUERYAUTH not available"},
		{"+ALL:ALL", "-ERR XQUERYAUTH not available"},
		{"-smtp:10.0.0.0/8", "-ERR XQUERYAUTH not available"},
		{"+pop:ALL$+smtp:10.0.0.0/8", "-ERR XQUERYAUTH not available"},
		{"+pop:ALL$+smtp:" + ip, "-ERR no recent login"},
		{"+pop,smtp:ALL EXCEPT 127.0.0.1", "-ERR no recent login"},
	} {
		t.Run(tt.tcpAccess, func(t *testing.T) {
			settings := map[string]string{"AuthService": "yes", "AuthServiceTTL": "900"}
			if tt.tcpAccess != "" {
				settings["TCPAccess"] = tt.tcpAccess
			}
			h := start(t, setup{settings: settings, listen: []string{ip + ":0"}})
			cl := h.greeted()
			cl.Do("XQUERYAUTH 127.0.0.1", tt.want)
		})
	}
}
