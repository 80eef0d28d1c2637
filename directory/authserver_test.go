package directory

import (
	"bufio"
	"encoding/base64"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
)

// fakeAuthServer is a third-party authentication service speaking the
// protocol of authserver.go. It decides by password: "good" OK, "temp"
// TEMP, "slow" never answers, "garbage" answers nonsense, "long" answers a
// line that does not end, anything else NO.
type fakeAuthServer struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
}

func startFakeAuthServer(t *testing.T) *fakeAuthServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAuthServer{ln: ln}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { f.serve(c, done) })
		}
	})
	return f
}

func (f *fakeAuthServer) serve(c net.Conn, done chan struct{}) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	f.mu.Lock()
	f.lines = append(f.lines, line)
	f.mu.Unlock()
	fields := strings.Fields(line)
	pw := ""
	if len(fields) > 2 {
		b, _ := base64.StdEncoding.DecodeString(fields[2])
		pw = string(b)
	}
	switch pw {
	case "good":
		c.Write([]byte("OK welcome\r\n"))
	case "temp":
		c.Write([]byte("TEMP token service down\r\n"))
	case "slow":
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	case "garbage":
		c.Write([]byte("HELLO\r\n"))
	case "long":
		c.Write([]byte(strings.Repeat("x", 4000)))
	default:
		c.Write([]byte("NO bad password\r\n"))
	}
}

func (f *fakeAuthServer) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

// TestAuthServer: with AuthenticationServer set, PreAuth asks it instead
// of binding, with the request line of authserver.go, and maps its
// answers; failures are temporary and logged once; nothing is cached.
func TestAuthServer(t *testing.T) {
	f := startFakeAuthServer(t)
	d, lb := newDir(t, Options{OpTimeout: 500 * time.Millisecond, DialTimeout: 500 * time.Millisecond})
	v := loadService(t, map[string]string{
		"AuthenticationServer":         f.ln.Addr().String(),
		"AuthenticationLdapAttributes": "mail cn description",
		"DefaultDomain":                "siroe.com",
	}, "").Values
	q := query("joe", v)
	q.Client = netip.MustParseAddr("::ffff:203.0.113.9")
	q.Server = netip.MustParseAddr("192.168.10.5")
	u := &account.User{DN: "uid=joe,ou=People,o=siroe.com", MailHosts: []string{store1}, Attrs: map[string][]string{
		"mail": {"joe@siroe.com", "joseph@siroe.com"},
		"cn":   {"Joe 100% Smith"},
		"uid":  {"joe"},
	}}

	for _, tt := range []struct {
		pw, want string
	}{
		{"good", "nil"},
		{"good", "nil"}, // asked again: not cached
		{"bad", "ErrNoUser"},
		{"temp", "ErrUnavailable"},
		{"garbage", "ErrUnavailable"},
		{"long", "ErrUnavailable"},
	} {
		if err := d.CheckPassword(t.Context(), q, u, tt.pw); errKind(err) != tt.want {
			t.Errorf("PreAuth(joe, %q) = %v, want %s", tt.pw, err, tt.want)
		}
	}
	start := time.Now()
	if err := d.CheckPassword(t.Context(), q, u, "slow"); errKind(err) != "ErrUnavailable" {
		t.Errorf("PreAuth(joe, slow) = %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("PreAuth(joe, slow) took %v, want about OpTimeout (500ms)", el)
	}
	if err := d.CheckPassword(t.Context(), q, u, ""); errKind(err) != "ErrNoUser" {
		t.Errorf("PreAuth(joe, \"\") = %v, want ErrNoUser without asking", err)
	}

	reqs := f.requests()
	if len(reqs) != 7 {
		t.Fatalf("requests = %d, want 7:\n%s", len(reqs), strings.Join(reqs, ""))
	}
	want := "AUTH joe@siroe.com Z29vZA== 203.0.113.9 192.168.10.5 dn=uid=joe,ou=People,o=siroe.com " +
		"mail=joe@siroe.com mail=joseph@siroe.com cn=Joe%20100%25%20Smith\r\n"
	if reqs[0] != want {
		t.Errorf("request line = %q, want %q", reqs[0], want)
	}

	// The server goes away: temporary failures, one log line, and one
	// when it is back.
	addr := f.ln.Addr().String()
	f.ln.Close()
	for range 2 {
		if err := d.CheckPassword(t.Context(), q, u, "good"); errKind(err) != "ErrUnavailable" {
			t.Errorf("PreAuth(joe) with the AuthenticationServer down = %v, want ErrUnavailable", err)
		}
	}
	log := lb.String()
	if got := strings.Count(log, "AuthenticationServer "+addr+" is not answering"); got != 1 {
		t.Errorf("log lines about the AuthenticationServer being down = %d, want 1:\n%s", got, log)
	}
	if strings.Contains(log, "Z29vZA") || strings.Contains(log, "good") {
		t.Errorf("log shows the password:\n%s", log)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s again: %v", addr, err)
	}
	f.ln = ln
	go func() {
		c, err := ln.Accept()
		if err == nil {
			f.serve(c, make(chan struct{}))
		}
	}()
	t.Cleanup(func() { ln.Close() })
	if err := d.CheckPassword(t.Context(), q, u, "good"); err != nil {
		t.Errorf("PreAuth(joe) with the AuthenticationServer back = %v", err)
	}
	if !strings.Contains(lb.String(), "AuthenticationServer "+addr+" is answering again") {
		t.Errorf("log lacks the recovery of the AuthenticationServer:\n%s", lb.String())
	}
}

func TestAuthEscape(t *testing.T) {
	for in, want := range map[string]string{
		"joe@siroe.com": "joe@siroe.com",
		"a b":           "a%20b",
		"100%":          "100%25",
		"x\r\ny":        "x%0D%0Ay",
		"jürgen":        "j%C3%BCrgen",
		"a=b":           "a=b",
	} {
		if got := authEscape(in); got != want {
			t.Errorf("authEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
