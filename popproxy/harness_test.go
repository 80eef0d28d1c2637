package popproxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

// popService loads a Sun 6.x style configuration with one POP service
// whose PopProxyAService.cfg has the given settings, and optionally a
// vdmap. (proxytest.Service builds an IMAP service, whose file refuses
// the POP-only parameters.)
func popService(t testing.TB, settings map[string]string, vdmap string) *config.Service {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("AService.cfg", "default:ServiceList PopProxyAService@1110\ndefault:LogDir "+filepath.Join(dir, "log")+"\n")
	var b strings.Builder
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := settings[k]
		if v == "" || strings.ContainsAny(v, " \t") {
			v = `"` + v + `"`
		}
		fmt.Fprintf(&b, "default:%s %s\n", k, v)
	}
	if vdmap != "" {
		write("vdmap.cfg", vdmap)
		fmt.Fprintf(&b, "default:VirtualDomainFile %s\n", filepath.Join(dir, "vdmap.cfg"))
	}
	write("PopProxyAService.cfg", b.String())
	inst, problems := config.Load(dir, config.Options{})
	if problems.Fatal() || len(inst.Services) != 1 {
		t.Fatalf("configuration: %v", problems)
	}
	return inst.Services[0]
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
			t.Skipf("cannot listen on %s: %v", a, err)
		}
		h.addrs = append(h.addrs, ln.Addr().String())
		go h.srv.Serve(ln)
	}
	h.addr = h.addrs[0]
	t.Cleanup(func() { h.srv.Close() })
	return h
}

// client is a POP3 client under test.
type client struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func (h *harness) dial() *client { return h.dialAddr(h.addr) }

func (h *harness) dialAddr(addr string) *client {
	h.t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return &client{t: h.t, c: c, r: bufio.NewReader(c)}
}

// greeted dials and reads the greeting.
func (h *harness) greeted() *client {
	h.t.Helper()
	cl := h.dial()
	cl.expectPrefix("+OK ")
	return cl
}

func (cl *client) send(s string) {
	cl.t.Helper()
	if _, err := io.WriteString(cl.c, s); err != nil {
		cl.t.Fatalf("send %q: %v", s, err)
	}
}

// line reads one line without CRLF.
func (cl *client) line() string {
	cl.t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := cl.r.ReadString('\n')
	if err != nil {
		cl.t.Fatalf("read: %v (after %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		cl.t.Fatalf("line %q does not end with CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// expect reads lines and compares them with want.
func (cl *client) expect(want ...string) {
	cl.t.Helper()
	for _, w := range want {
		if got := cl.line(); got != w {
			cl.t.Fatalf("read %q, want %q", got, w)
		}
	}
}

// expectPrefix reads a line and checks its beginning.
func (cl *client) expectPrefix(prefix string) string {
	cl.t.Helper()
	got := cl.line()
	if !strings.HasPrefix(got, prefix) {
		cl.t.Fatalf("read %q, want it to start with %q", got, prefix)
	}
	return got
}

// do sends a command and compares the reply lines.
func (cl *client) do(cmd string, want ...string) {
	cl.t.Helper()
	cl.send(cmd + "\r\n")
	cl.expect(want...)
}

// closed checks that the server closed the connection.
func (cl *client) closed() {
	cl.t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(cl.r)
	if err != nil || len(rest) != 0 {
		cl.t.Fatalf("after the end: read %q, %v; want end of stream", rest, err)
	}
}

// loggedIn checks the store's +OK passed through and the session is piped:
// WHOAMI goes to the store.
func (cl *client) loggedIn(user string) {
	cl.t.Helper()
	cl.expect("+OK Logged in as " + user + ".")
	cl.do("WHOAMI", "+OK "+user)
}
