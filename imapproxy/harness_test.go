package imapproxy_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

// harness is a proxy with the IMAP protocol, an in-test Router and a fake
// store.
type harness struct {
	t      testing.TB
	srv    *proxy.Server
	addr   string // the first listener
	addrs  []string
	router *proxytest.Directory
	store  *fakeStore
}

type setup struct {
	settings map[string]string
	vdmap    string
	listen   []string // addresses to listen on; default 127.0.0.1:0
	greeting string   // of the fake store
	users    map[string]string
	storeTLS tlsconf.StoreOptions // with SSLBacksidePort
}

// storeUsers are the fake store's accounts by default.
var storeUsers = map[string]string{"alice": "alicepw", "bob": "bob pw\"\\", "jürgen": "juergenpw"}

func start(t testing.TB, su setup) *harness {
	t.Helper()
	if su.greeting == "" {
		su.greeting = defaultStoreGreeting
	}
	if su.users == nil {
		su.users = storeUsers
	}
	h := &harness{t: t, store: newFakeStore(t, su.greeting, su.users)}
	// Loopback is no bad guy here: the tests fail logins on purpose, and
	// BadGuys has its own tests in package proxy.
	settings := map[string]string{"BacksidePort": strconv.Itoa(h.store.port()), "BGExcluded": "127.0.0.0/8"}
	for k, v := range su.settings {
		settings[k] = v
	}
	svc := proxytest.Service(t, settings, su.vdmap)
	h.router = &proxytest.Directory{}
	for name := range su.users {
		h.router.SetUser(name, &account.User{DN: "uid=" + name + ",o=test", MailHosts: []string{"127.0.0.1"},
			Attrs: map[string][]string{"uid": {name}}})
	}
	tc, err := tlsconf.Load(svc.Values, su.storeTLS)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = proxy.NewServer(proxy.Options{
		Service:   svc,
		Protocol:  imapproxy.New(imapproxy.Options{Host: "mmp1"}),
		Directory: h.router,
		TLS:       tc,
	})
	if len(su.listen) == 0 {
		su.listen = []string{"127.0.0.1:0"}
	}
	for _, a := range su.listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			testenv.Unavailable(t, fmt.Sprintf("cannot listen on %s: %v", a, err))
		}
		h.addrs = append(h.addrs, ln.Addr().String())
		go h.srv.Serve(ln)
	}
	h.addr = h.addrs[0]
	t.Cleanup(func() { h.srv.Close() })
	return h
}

// client is an IMAP client under test.
type client struct{ *proxytest.Client }

func (h *harness) dial() *client { return h.dialAddr(h.addr) }

func (h *harness) dialAddr(addr string) *client {
	h.t.Helper()
	return &client{proxytest.Dial(h.t, addr, "")}
}

// greeted dials and reads the greeting.
func (h *harness) greeted() *client {
	h.t.Helper()
	cl := h.dial()
	cl.ExpectPrefix("* OK ")
	return cl
}

// loggedIn checks the store's tagged OK passed through and the session is
// piped: WHOAMI goes to the store.
func (cl *client) loggedIn(tag, user string) {
	cl.T.Helper()
	cl.Expect(tag + " OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Logged in as " + user)
	cl.Send("w WHOAMI\r\n")
	cl.Expect("* WHOAMI "+user, "w OK done")
}
