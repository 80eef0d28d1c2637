package proxy_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/sasl"
)

// dialFrom connects from a chosen loopback address, so that one test can
// be several clients.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the server turned the connection away.
func refused(t *testing.T, c net.Conn) (string, bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", false // nothing said: the session is waiting for the client
	}
	return strings.TrimSpace(line), strings.HasPrefix(line, "REFUSED")
}

// With the default ConnLimits the 21st simultaneous connection from one
// address is refused, while another address is still served.
func TestConnLimitsDefault(t *testing.T) {
	srv, addr := startServer(t, &linkProto{store: echoStore(t)}, nil)
	for i := 0; i < 20; i++ {
		dialFrom(t, "127.0.0.1", addr)
	}
	if !proxytest.Settle(5*time.Second, func() bool { return srv.Sessions() == 20 }) {
		t.Fatalf("%d sessions, want 20 accepted", srv.Sessions())
	}
	if line, ok := refused(t, dialFrom(t, "127.0.0.1", addr)); !ok || line != "REFUSED Too many connections from your address" {
		t.Errorf("21st connection: %q, want a refusal", line)
	}
	if line, ok := refused(t, dialFrom(t, "127.0.0.2", addr)); ok {
		t.Errorf("another address was refused: %s", line)
	}
}

func TestTCPAccessAtAccept(t *testing.T) {
	_, addr := startServer(t, &linkProto{store: echoStore(t)}, map[string]string{
		"TCPAccess": "-imap:ALL EXCEPT 127.0.0.2",
	})
	if line, ok := refused(t, dialFrom(t, "127.0.0.1", addr)); !ok || line != "REFUSED Access denied" {
		t.Errorf("127.0.0.1: %q, want Access denied", line)
	}
	if line, ok := refused(t, dialFrom(t, "127.0.0.2", addr)); ok {
		t.Errorf("127.0.0.2 refused: %s", line)
	}
}

// routeProto logs every line it reads in as a login name with the
// password "pw", through the login pipeline without a store, and reports
// the outcome, so that a test can watch BadGuys and per-user filters.
type routeProto struct{ linkProto }

func (p *routeProto) Login(ctx context.Context, s *proxy.Session) (*proxy.Store, error) {
	r := bufio.NewReader(s.Client)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, nil
		}
		res, err := s.Login(ctx, sasl.Credentials{Mechanism: "LOGIN", User: strings.TrimSpace(line), Password: "pw"}, nil)
		switch {
		case err != nil:
			return nil, err
		case res.Outcome == proxy.LoggedIn:
			s.Client.Write([]byte("OK\n"))
		default:
			s.Client.Write([]byte("NO\n"))
		}
	}
}

func TestBadGuysAndUserFilter(t *testing.T) {
	router := &proxytest.Directory{Passwords: map[string]string{"uid=alice": "pw", "uid=mallory": "pw"}}
	router.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{"127.0.0.1"}})
	router.SetUser("mallory", &account.User{DN: "uid=mallory", MailHosts: []string{"127.0.0.1"},
		Attrs: map[string][]string{"mailallowedserviceaccess": {"+pop:ALL"}}})
	svc := proxytest.Service(t, map[string]string{"BGPenalty": "1", "BGMaxBadness": "1", "BGDecay": "60"}, "")
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: &routeProto{}, Directory: router})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ask := func(c net.Conn, br *bufio.Reader, name string) (string, time.Duration) {
		start := time.Now()
		c.Write([]byte(name + "\n"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(line), time.Since(start)
	}
	bad := dialFrom(t, "127.0.0.1", ln.Addr().String())
	badR := bufio.NewReader(bad)
	if got, _ := ask(bad, badR, "nobody"); got != "NO" {
		t.Fatalf("unknown user: %s", got)
	}
	// The next attempt from that address waits the penalty, even a good one...
	if got, took := ask(bad, badR, "alice"); got != "OK" || took < 900*time.Millisecond {
		t.Errorf("after a failure: %s after %v, want OK after about 1 s", got, took)
	}
	// ...and the success forgave it.
	if _, took := ask(bad, badR, "alice"); took > 500*time.Millisecond {
		t.Errorf("after a success the login still waited %v", took)
	}
	// Another address is not slowed while one is being delayed.
	ask(bad, badR, "nobody")
	done := make(chan time.Duration)
	go func() { _, took := ask(bad, badR, "alice"); done <- took }()
	good := dialFrom(t, "127.0.0.2", ln.Addr().String())
	if got, took := ask(good, bufio.NewReader(good), "alice"); got != "OK" || took > 500*time.Millisecond {
		t.Errorf("another client: %s after %v, want OK at once", got, took)
	}
	<-done
	// A per-user filter allowing only POP refuses mallory on IMAP, her
	// right password notwithstanding.
	if got, _ := ask(good, bufio.NewReader(good), "mallory"); got != "NO" {
		t.Errorf("mallory on IMAP: %s, want NO by her filter", got)
	}
}

// ipv6Listener accepts on a real listener but reports each connection as
// coming from the next of its IPv6 addresses, so that a test can be many
// hosts of one /64.
type ipv6Listener struct {
	net.Listener
	from []string
}

type fromConn struct {
	net.Conn
	remote net.Addr
}

func (c fromConn) RemoteAddr() net.Addr { return c.remote }

func (l *ipv6Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	a := l.from[0]
	l.from = l.from[1:]
	return fromConn{c, &net.TCPAddr{IP: net.ParseIP(a), Port: 40000}}, nil
}

// ConnLimits counts an IPv6 client by its /64 (ConnLimitsIPv6Prefix): a
// host with a /64 cannot dodge the limit by using another address of it.
func TestConnLimitsIPv6Prefix(t *testing.T) {
	for _, c := range []struct {
		settings map[string]string
		refused  bool
	}{
		{map[string]string{"ConnLimits": "0.0.0.0|0.0.0.0:2"}, true},
		{map[string]string{"ConnLimits": "0.0.0.0|0.0.0.0:2", "ConnLimitsIPv6Prefix": "128"}, false},
	} {
		svc := proxytest.Service(t, c.settings, "")
		srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: &linkProto{store: echoStore(t)}})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(&ipv6Listener{Listener: ln, from: []string{"2001:db8::1", "2001:db8::2", "2001:db8::3"}})
		t.Cleanup(func() { srv.Close() })
		dialFrom(t, "127.0.0.1", ln.Addr().String())
		dialFrom(t, "127.0.0.1", ln.Addr().String())
		if !proxytest.Settle(5*time.Second, func() bool { return srv.Sessions() == 2 }) {
			t.Fatalf("%d sessions, want 2", srv.Sessions())
		}
		line, ok := refused(t, dialFrom(t, "127.0.0.1", ln.Addr().String()))
		if ok != c.refused {
			t.Errorf("%v: third host of 2001:db8::/64 got %q, want refused %v", c.settings, line, c.refused)
		}
	}
}
