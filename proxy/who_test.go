package proxy_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/who"
)

// recorder is a Watcher that keeps what it heard.
type recorder struct {
	mu     sync.Mutex
	events []string // "in 3", "out 3"
}

func (r *recorder) LoggedIn(s who.Session)  { r.add("in", s) }
func (r *recorder) LoggedOut(s who.Session) { r.add("out", s) }
func (r *recorder) add(what string, s who.Session) {
	r.mu.Lock()
	r.events = append(r.events, what+" "+s.User)
	r.mu.Unlock()
}
func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, ", ")
}

// The registry lists the logged-in sessions with their user, store and
// counts, the Watcher hears each login before its logout, and Kick ends
// a user's IMAP sessions with * BYE.
func TestRegistryAndKick(t *testing.T) {
	store := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"), dovecot.WithUser("bob", "bobpw"))
	_, port, _ := net.SplitHostPort(store.IMAPAddr())
	dir := &proxytest.Directory{}
	for _, u := range []string{"alice", "bob"} {
		dir.SetUser(u, &account.User{DN: "uid=" + u, MailHosts: []string{"127.0.0.1"}})
	}
	rec := &recorder{}
	svc := proxytest.Service(t, map[string]string{"BacksidePort": port, "BGExcluded": "127.0.0.0/8", "AuthFailureDelay": "0"}, "")
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: imapproxy.New(imapproxy.Options{Host: "mmp"}),
		Directory: dir, Watcher: rec})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	login := func(user string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		r.ReadString('\n')
		io.WriteString(c, "a LOGIN "+user+" "+user+"pw\r\n")
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("LOGIN %s: %v", user, err)
			}
			if strings.HasPrefix(l, "a ") {
				if !strings.HasPrefix(l, "a OK") {
					t.Fatalf("LOGIN %s: %s", user, l)
				}
				return c, r
			}
		}
	}
	a1, r1 := login("alice")
	a2, r2 := login("alice")
	login("bob")
	var all []who.Session
	proxytest.Settle(5*time.Second, func() bool { all = srv.LoggedIn(nil, ""); return len(all) == 3 })
	if len(all) != 3 {
		t.Fatalf("LoggedIn = %+v, want 3 sessions", all)
	}
	alice := srv.LoggedIn(who.Match([]string{"ALICE"}), "imap")
	if len(alice) != 2 || alice[0].User != "alice" || alice[0].Store != store.IMAPAddr() || alice[0].Service != "imap" || alice[0].Since.IsZero() {
		t.Errorf("LoggedIn(alice) = %+v", alice)
	}
	if pop := srv.LoggedIn(nil, "pop"); len(pop) != 0 {
		t.Errorf("LoggedIn(pop) = %+v on an IMAP server", pop)
	}
	kicked := srv.Kick(who.Match([]string{"alice"}))
	if len(kicked) != 2 {
		t.Errorf("Kick(alice) = %+v, want her 2 sessions", kicked)
	}
	for i, r := range []*bufio.Reader{r1, r2} {
		[]net.Conn{a1, a2}[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(r)
		if err != nil || string(rest) != "* BYE "+proxy.KickReason+"\r\n" {
			t.Errorf("kicked client read %q, %v; want * BYE and the end", rest, err)
		}
	}
	proxytest.Settle(5*time.Second, func() bool { return strings.Count(rec.String(), "out alice") == 2 })
	if got := rec.String(); strings.Count(got, "in alice") != 2 || strings.Count(got, "out alice") != 2 ||
		strings.Index(got, "in alice") > strings.Index(got, "out alice") || strings.Contains(got, "out bob") {
		t.Errorf("the Watcher heard %s; want two logins of alice, then her two logouts, and bob's login", got)
	}
	if left := srv.LoggedIn(nil, ""); len(left) != 1 || left[0].User != "bob" {
		t.Errorf("after the kick: %+v, want bob alone", left)
	}
}
