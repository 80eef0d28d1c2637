package popproxy_test

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

// popService is proxytest.ServiceOf for PopProxyAService.
func popService(t testing.TB, settings map[string]string, vdmap string) *config.Service {
	t.Helper()
	return proxytest.ServiceOf(t, "PopProxyAService", settings, vdmap)
}

// syncBuffer collects log lines from every session.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a proxy with the POP protocol, an in-test Router, a fake
// store, an AuthService cache, and a log at LogLevel 10.
type harness struct {
	t      testing.TB
	srv    *proxy.Server
	addr   string
	addrs  []string
	router *proxytest.Directory
	store  *fakeStore
	cache  *authsvc.Cache
	logs   *syncBuffer
}

type setup struct {
	settings map[string]string
	vdmap    string
	listen   []string // default 127.0.0.1:0
	store    storeScript
	users    map[string]string
	dir      string // popproxy.Options.Dir
}

// storeUsers are the fake store's accounts by default.
var storeUsers = map[string]string{"alice": "alicepw", "bob": "bob pw x", "jürgen": "juergenpw"}

func start(t testing.TB, su setup) *harness {
	t.Helper()
	if su.users == nil {
		su.users = storeUsers
	}
	h := &harness{t: t, store: newFakeStore(t, su.store, su.users), logs: &syncBuffer{}}
	// Test clients all come from loopback: BadGuys would make each failed
	// login slow down the next test's; TestBadGuys turns it back on.
	settings := map[string]string{"BacksidePort": strconv.Itoa(h.store.port()), "LogLevel": "10",
		"BGExcluded": "127.0.0.0|255.0.0.0"}
	for k, v := range su.settings {
		settings[k] = v
	}
	svc := popService(t, settings, su.vdmap)
	level, _ := strconv.Atoi(settings["LogLevel"])
	lg, err := logging.Open(logging.Options{Proc: "PopProxy", Level: level, Stderr: h.logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.Close() })
	h.router = &proxytest.Directory{Passwords: map[string]string{}}
	for name, pw := range su.users {
		h.router.SetUser(name, &account.User{DN: "uid=" + name + ",o=test", MailHosts: []string{"127.0.0.1"},
			Attrs: map[string][]string{"uid": {name}}})
		h.router.Passwords["uid="+name+",o=test"] = pw
	}
	h.cache = authsvc.New(authsvc.Options{TTL: time.Hour})
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = proxy.NewServer(proxy.Options{
		Service:   svc,
		Protocol:  popproxy.New(popproxy.Options{Host: "mmp1", AuthCache: h.cache, Dir: su.dir}),
		Directory: h.router,
		Log:       lg,
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

// client is a POP3 client under test.
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
	cl.ExpectPrefix("+OK ")
	return cl
}

// loggedIn checks the store's +OK passed through and the session is piped:
// WHOAMI goes to the store.
func (cl *client) loggedIn(user string) {
	cl.T.Helper()
	cl.Expect("+OK Logged in as " + user + ".")
	cl.Do("WHOAMI", "+OK "+user)
}
