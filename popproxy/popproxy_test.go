package popproxy_test

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// defaultCapaList is the CAPA answer before login with the default
// PopCapability.
var defaultCapaList = []string{"+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN", "."}

func TestGreeting(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"default", nil, "+OK mmp1 POP service (Messaging Multiplexor openmmp 0.1)"},
		{"escapes", map[string]string{"Banner": "%P %v on %h (%p) 100%%"}, "+OK Messaging Multiplexor 0.1 on mmp1 (POP) 100%"},
		{"verbatim", map[string]string{"Banner": "+OK Netscape POP3 proxy ready"}, "+OK Netscape POP3 proxy ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, setup{settings: tt.settings})
			h.dial().Expect(tt.want)
		})
	}
	t.Run("APOP timestamp with CRAMs", func(t *testing.T) {
		h := start(t, setup{settings: map[string]string{"CRAMs": "yes", "Banner": "hi"}})
		cl := h.dial()
		g := cl.Line()
		if !regexp.MustCompile(`^\+OK hi <[0-9]+\.[0-9]+@mmp1>$`).MatchString(g) {
			t.Fatalf("greeting %q, want +OK hi <random.clock@mmp1>", g)
		}
		// A wrong digest is refused by the MMP; the store never sees it.
		cl.Do("APOP alice 0123456789abcdef0123456789abcdef", "-ERR [AUTH] Authentication failed")
		if h.store.conns() != 0 {
			t.Error("a wrong APOP digest reached the store")
		}
		// The right one: MD5 of the timestamp and the clear password.
		stamp := g[strings.IndexByte(g, '<'):]
		cl.Do(fmt.Sprintf("APOP alice %x", md5.Sum([]byte(stamp+"alicepw"))), "+OK Logged in as alice.")
	})
}

func TestCapa(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		h := start(t, setup{})
		h.greeted().Do("CAPA", defaultCapaList...)
	})
	t.Run("configured, computed words replaced", func(t *testing.T) {
		h := start(t, setup{settings: map[string]string{
			"PopCapability": "TOP STLS SASL CRAM-MD5 GSSAPI EXPIRE NEVER LOGIN-DELAY 900 PIPELINING USER X-FOO",
		}})
		h.greeted().Do("CAPA", "+OK Capability list follows", "TOP", "EXPIRE NEVER", "LOGIN-DELAY 900", "PIPELINING",
			"USER", "X-FOO", "SASL PLAIN LOGIN", ".")
	})
	t.Run("RestrictPlainPasswords without TLS", func(t *testing.T) {
		h := start(t, setup{settings: map[string]string{"RestrictPlainPasswords": "yes"}})
		cl := h.greeted()
		cl.Do("CAPA", "+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", ".")
		cl.Do("AUTH", "+OK Supported authentication mechanisms follow", ".")
		privacy := "-ERR [AUTH] Plain-text passwords are not accepted on this connection"
		cl.Do("USER alice", privacy)
		cl.Do("AUTH PLAIN "+b64("\x00alice\x00alicepw"), privacy)
		cl.Do("AUTH LOGIN", privacy)
		if h.store.conns() != 0 {
			t.Error("the store was contacted")
		}
	})
	t.Run("after login the store answers", func(t *testing.T) {
		h := start(t, setup{})
		cl := h.greeted()
		cl.Do("CAPA", defaultCapaList...)
		cl.Do("USER alice", "+OK")
		cl.Do("PASS alicepw", "+OK Logged in as alice.")
		cl.Do("CAPA", "+OK", "TOP", "UIDL", "IMPLEMENTATION fakestore", ".")
	})
}

// The replay, byte for byte.
func TestReplayTranscripts(t *testing.T) {
	long := strings.Repeat("p", 200) // too long for an initial response
	tests := []struct {
		name  string
		capa  []string
		users map[string]string
		login string // the client's side, up to the login reply
		user  string
		store string // what the store receives before WHOAMI
	}{
		{"USER/PASS", defaultCapa, nil, "USER alice\r\nPASS alicepw\r\n", "alice",
			"CAPA\r\nUSER alice\r\nPASS alicepw\r\n"},
		{"password with spaces", defaultCapa, nil, "USER bob\r\nPASS bob pw x\r\n", "bob",
			"CAPA\r\nUSER bob\r\nPASS bob pw x\r\n"},
		{"non-ASCII name", nil, nil, "USER jürgen\r\nPASS juergenpw\r\n", "jürgen",
			"CAPA\r\nUSER jürgen\r\nPASS juergenpw\r\n"},
		{"AUTH PLAIN initial response", defaultCapa, nil, "AUTH PLAIN " + b64("\x00alice\x00alicepw") + "\r\n", "alice",
			"CAPA\r\nAUTH PLAIN " + b64("\x00alice\x00alicepw") + "\r\n"},
		{"AUTH PLAIN own authzid", defaultCapa, nil, "AUTH PLAIN " + b64("alice\x00alice\x00alicepw") + "\r\n", "alice",
			"CAPA\r\nAUTH PLAIN " + b64("\x00alice\x00alicepw") + "\r\n"},
		{"AUTH PLAIN, store without SASL PLAIN", []string{"USER", "SASL CRAM-MD5"}, nil,
			"AUTH PLAIN " + b64("\x00alice\x00alicepw") + "\r\n", "alice",
			"CAPA\r\nUSER alice\r\nPASS alicepw\r\n"},
		{"AUTH PLAIN, store without CAPA", nil, nil, "AUTH PLAIN " + b64("\x00alice\x00alicepw") + "\r\n", "alice",
			"CAPA\r\nUSER alice\r\nPASS alicepw\r\n"},
		{"long password: AUTH PLAIN in two steps", defaultCapa, map[string]string{"alice": long},
			"AUTH PLAIN\r\n" + b64("\x00alice\x00"+long) + "\r\n", "alice",
			"CAPA\r\nAUTH PLAIN\r\n" + b64("\x00alice\x00"+long) + "\r\n"},
		{"password with CRLF goes only by AUTH PLAIN", defaultCapa, map[string]string{"alice": "a\r\nDELE 1"},
			"AUTH LOGIN " + b64("alice") + "\r\n" + b64("a\r\nDELE 1") + "\r\n", "alice",
			"CAPA\r\nAUTH PLAIN " + b64("\x00alice\x00a\r\nDELE 1") + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, setup{store: storeScript{capa: tt.capa}, users: tt.users})
			cl := h.greeted()
			cl.Send(tt.login)
			for strings.HasPrefix(tt.login, "USER") && cl.Line() != "+OK" {
			}
			switch {
			case strings.HasPrefix(tt.login, "AUTH LOGIN"):
				cl.Expect("+ UGFzc3dvcmQ6")
			case strings.HasPrefix(tt.login, "AUTH PLAIN\r\n"):
				cl.Expect("+ ")
			}
			cl.loggedIn(tt.user)
			if got, want := h.store.got(0), tt.store+"WHOAMI\r\n"; got != want {
				t.Errorf("store received\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// A store that announces PIPELINING gets USER and PASS in one write; one
// that does not, each after the reply to the one before. Its CAPA answer
// is cached: the second login to the same store does not ask again.
func TestUserPassPipelined(t *testing.T) {
	for _, tt := range []struct {
		name      string
		capa      []string
		pipelined bool
	}{
		{"PIPELINING", []string{"USER", "PIPELINING"}, true},
		{"no PIPELINING", []string{"USER"}, false},
		{"no CAPA", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, setup{store: storeScript{capa: tt.capa}})
			for i := range 2 {
				cl := h.greeted()
				cl.Do("USER alice", "+OK")
				cl.Send("PASS alicepw\r\n")
				cl.loggedIn("alice")
				want := "USER alice\r\nPASS alicepw\r\nWHOAMI\r\n"
				if i == 0 {
					want = "CAPA\r\n" + want
				}
				if got := h.store.got(i); got != want {
					t.Errorf("login %d: store received %q, want %q", i+1, got, want)
				}
				if got := h.store.pipelinedPass(i); got != tt.pipelined {
					t.Errorf("login %d: PASS already there when USER was read: %v, want %v", i+1, got, tt.pipelined)
				}
				cl.Conn.Close()
			}
		})
	}
}

// A store that refuses USER: with PIPELINING, the refusal of USER is the
// answer and the PASS behind it is read and dropped.
func TestPipelinedUserRefused(t *testing.T) {
	h := start(t, setup{store: storeScript{capa: []string{"USER", "PIPELINING"}, refuseUser: "[AUTH] no such user"}})
	cl := h.greeted()
	cl.Do("USER alice", "+OK")
	cl.Do("PASS alicepw", "-ERR [AUTH] Authentication failed")
	cl.Do("USER alice", "+OK")
	cl.Do("PASS alicepw", "-ERR [AUTH] Authentication failed")
}

// A password the store could only get in PASS, where its CRLF would end
// the command: refused without sending anything but CAPA.
func TestUnreplayable(t *testing.T) {
	h := start(t, setup{store: storeScript{capa: []string{"USER"}}, users: map[string]string{"alice": "a\r\nDELE 1"}})
	cl := h.greeted()
	cl.Send("AUTH PLAIN " + b64("\x00alice\x00a\r\nDELE 1") + "\r\n")
	cl.Expect("-ERR [AUTH] Authentication failed")
	if got := h.store.got(0); got != "CAPA\r\n" {
		t.Errorf("store received %q, want only CAPA", got)
	}
}

func TestAuthPlainWithoutInitialResponse(t *testing.T) {
	h := start(t, setup{store: storeScript{capa: defaultCapa}})
	cl := h.greeted()
	cl.Do("AUTH PLAIN", "+ ")
	cl.Send(b64("\x00alice\x00alicepw") + "\r\n")
	cl.loggedIn("alice")
	if got, want := h.store.got(0), "CAPA\r\nAUTH PLAIN "+b64("\x00alice\x00alicepw")+"\r\nWHOAMI\r\n"; got != want {
		t.Errorf("store received %q, want %q", got, want)
	}
}

func TestAuthLogin(t *testing.T) {
	h := start(t, setup{store: storeScript{capa: defaultCapa}})
	cl := h.greeted()
	cl.Do("AUTH LOGIN", "+ VXNlcm5hbWU6")
	cl.Do(b64("alice"), "+ UGFzc3dvcmQ6")
	cl.Send(b64("alicepw") + "\r\n")
	cl.loggedIn("alice")
	if got, want := h.store.got(0), "CAPA\r\nAUTH PLAIN "+b64("\x00alice\x00alicepw")+"\r\nWHOAMI\r\n"; got != want {
		t.Errorf("store received %q, want %q", got, want)
	}
}

func TestAuthListCancelAndErrors(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Do("AUTH", "+OK Supported authentication mechanisms follow", "PLAIN", "LOGIN", ".")
	cl.Do("AUTH PLAIN", "+ ")
	cl.Do("*", "-ERR Authentication cancelled")
	cl.Do("AUTH LOGIN", "+ VXNlcm5hbWU6")
	cl.Do(b64("alice"), "+ UGFzc3dvcmQ6")
	cl.Do("*", "-ERR Authentication cancelled")
	cl.Do("AUTH CRAM-MD5", "-ERR Unsupported authentication mechanism")
	cl.Do("AUTH PLAIN !!!", "-ERR Malformed authentication response")
	cl.Do("AUTH PLAIN "+b64("bob\x00alice\x00alicepw"), "-ERR [AUTH] Logging in as another user is not allowed")
	// Still usable: three errors are under the budget.
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
	if n := h.store.conns(); n != 1 {
		t.Errorf("store saw %d connections, want 1", n)
	}
}

// Wrong password and unknown user give the same reply, and the client can
// try again on the same connection.
func TestFailedLoginThenRetry(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	want := "-ERR [AUTH] Authentication failed"
	cl.Do("USER alice", "+OK")
	cl.Do("PASS Wr0ngSecret", want)
	cl.Do("USER nobody", "+OK")
	cl.Do("PASS alicepw", want)
	cl.Do("PASS alicepw", "-ERR No USER command given") // USER is used up
	cl.Do("AUTH PLAIN "+b64("\x00alice\x00Wr0ngSecret"), want)
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
	if n := h.store.conns(); n != 3 {
		t.Errorf("store saw %d connections, want 3 (two refused logins, one good; the unknown user is not sent)", n)
	}
}

// A refusal with a code that tells the user something is passed on; an
// ordinary one gets the canned reply, whatever the store's wording.
func TestStoreRefusalText(t *testing.T) {
	for refuse, want := range map[string]string{
		"[IN-USE] Mailbox is locked by another session": "-ERR [IN-USE] Mailbox is locked by another session",
		"[SYS/PERM] Your account is disabled":           "-ERR [SYS/PERM] Your account is disabled",
		"[SYS/TEMP] Maildrop is being moved":            "-ERR [SYS/TEMP] Maildrop is being moved",
		"[AUTH] Wrong password, alice":                  "-ERR [AUTH] Authentication failed",
		"Go away":                                       "-ERR [AUTH] Authentication failed",
	} {
		h := start(t, setup{store: storeScript{refuse: refuse}})
		cl := h.greeted()
		cl.Do("USER alice", "+OK")
		cl.Do("PASS alicepw", want)
	}
}

func TestLookupUnavailable(t *testing.T) {
	h := start(t, setup{})
	h.router.SetErr(fmt.Errorf("ldap down: %w", account.ErrUnavailable))
	cl := h.greeted()
	cl.Do("USER alice", "+OK")
	cl.Do("PASS alicepw", "-ERR [SYS/TEMP] Login is temporarily unavailable, try again later")
	h.router.SetErr(nil)
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
}

// Commands pipelined behind the login reach the store.
func TestPipelinedLogin(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("USER alice\r\nPASS alicepw\r\nSTAT\r\nQUIT\r\n")
	cl.Expect("+OK", "+OK Logged in as alice.", "+OK 1 100", "+OK bye")
	cl.Closed()
}

func TestBeforeLoginCommands(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Do("NOOP", "-ERR Command unknown or not allowed before login")
	cl.Do("STAT", "-ERR Command unknown or not allowed before login")
	cl.Do("STLS", "-ERR STLS is not available")
	cl.Do("USER", "-ERR USER needs one user name")
	cl.Do("QUIT", "+OK Messaging Multiplexor signing off")
	cl.Closed()
	if h.store.conns() != 0 {
		t.Error("the store was contacted")
	}
}

// A line over the limit is answered and skipped; the connection goes on.
func TestOversizeLine(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Do("USER "+strings.Repeat("x", 300), "-ERR Line too long") // over 255, under the reader's limit
	cl.Do("USER "+strings.Repeat("x", 20000), "-ERR Line too long")
	cl.Do("AUTH PLAIN", "+ ")
	cl.Do(strings.Repeat("A", 20000), "-ERR Malformed authentication response")
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
}

func TestErrorBudget(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Do("FOO", "-ERR Command unknown or not allowed before login")
	cl.Do("BOGUS", "-ERR Syntax error") // keywords have 3 or 4 characters
	cl.Do("USER a  b", "-ERR Syntax error in USER")
	cl.Do("", "-ERR Syntax error")
	cl.Do("BAR BAZ", "-ERR Too many invalid commands, closing the connection")
	cl.Closed()
}

func TestIdleBeforeLogin(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"Timeout": "1"}})
	cl := h.greeted()
	t0 := time.Now()
	cl.Expect("-ERR Autologout; idle for too long")
	cl.Closed()
	if d := time.Since(t0); d < 900*time.Millisecond {
		t.Errorf("dropped after %v, want about 1s", d)
	}
}

func TestStoreBadGreeting(t *testing.T) {
	h := start(t, setup{store: storeScript{greeting: "-ERR [SYS/TEMP] too busy"}})
	cl := h.greeted()
	cl.Do("USER alice", "+OK")
	cl.Do("PASS alicepw", "-ERR [SYS/TEMP] Your POP server appears to be temporarily out of service.")
}

// ReplayFormat builds the store's login name from directory attributes;
// the vdmap block of the address reached supplies the domain.
func TestReplayFormatAndVdmap(t *testing.T) {
	h := start(t, setup{
		settings: map[string]string{"ReplayFormat": "%A[uid]@%V"},
		vdmap:    "vdmap two 127.0.0.2\ntwo:DefaultDomain two.example\n",
		listen:   []string{"127.0.0.2:0"},
		users:    map[string]string{"jdoe@two.example": "pw"},
	})
	h.router.SetUser("john@two.example", &account.User{DN: "uid=jdoe", MailHosts: []string{"127.0.0.1"},
		Attrs: map[string][]string{"uid": {"jdoe"}}})
	cl := h.greeted()
	cl.Do("USER john", "+OK")
	cl.Send("PASS pw\r\n")
	cl.loggedIn("jdoe@two.example")
	if got, want := h.store.got(0), "CAPA\r\nUSER jdoe@two.example\r\nPASS pw\r\nWHOAMI\r\n"; got != want {
		t.Errorf("store received %q, want %q", got, want)
	}
}

// Refuse and InternalError write one -ERR line each.
func TestRefuseAndInternalError(t *testing.T) {
	p := popproxy.New(popproxy.Options{})
	for _, tt := range []struct {
		call func(*proxy.Session)
		want string
	}{
		{func(s *proxy.Session) { p.Refuse(s, "Too many connections from your address") }, "-ERR Too many connections from your address\r\n"},
		{p.InternalError, "-ERR [SYS/TEMP] Internal error, closing the connection\r\n"},
	} {
		a, b := net.Pipe()
		go func() { tt.call(&proxy.Session{Client: a}); a.Close() }()
		buf := make([]byte, 200)
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := b.Read(buf)
		if got := string(buf[:n]); got != tt.want {
			t.Errorf("wrote %q, want %q", got, tt.want)
		}
		b.Close()
	}
}

// At LogLevel 10 the log has protocol traces, and still no password.
func TestNoPasswordInLog(t *testing.T) {
	h := start(t, setup{store: storeScript{capa: defaultCapa}, settings: map[string]string{"SpoofEmptyMailbox": "on"}})
	cl := h.greeted()
	cl.login("alice", "Wr0ngSecret", "-ERR [AUTH] Authentication failed")
	cl.Do("AUTH PLAIN "+b64("\x00nobody\x00N0bodySecret"), "-ERR [AUTH] Authentication failed")
	cl.Do("AUTH LOGIN", "+ VXNlcm5hbWU6")
	cl.Do(b64("alice"), "+ UGFzc3dvcmQ6")
	cl.Send(b64("alicepw") + "\r\n")
	cl.loggedIn("alice")
	cl2 := h.greeted()
	cl2.Do("USER bob", "+OK")
	cl2.Send("PASS bob pw x\r\n")
	cl2.loggedIn("bob")
	h.storeDown()
	h.greeted().login("alice", "Sp00fSecret", "+OK Logged in")
	time.Sleep(100 * time.Millisecond) // close lines
	logs := h.logs.String()
	if !strings.Contains(logs, "client command PASS") || !strings.Contains(logs, "logged in to store") {
		t.Fatalf("the log has no protocol trace; LogLevel 10 not in effect?\n%s", logs)
	}
	for _, secret := range []string{"Wr0ngSecret", "N0bodySecret", "alicepw", "bob pw x", "Sp00fSecret",
		b64("alicepw"), b64("\x00alice\x00alicepw"), b64("\x00nobody\x00N0bodySecret")} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the secret %q:\n%s", secret, logs)
		}
	}
	if testing.Verbose() {
		t.Log(logs)
	}
}

// A refused password counts against the client's address, so that its
// next attempt waits BGPenalty; a success forgives it (docs/reference.md §4.6).
func TestBadGuys(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"BGExcluded": "", "BGPenalty": "1"}})
	cl := h.greeted()
	cl.login("alice", "Wr0ngSecret", "-ERR [AUTH] Authentication failed")
	t0 := time.Now()
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
	if d := time.Since(t0); d < 900*time.Millisecond {
		t.Errorf("the login after a refused password took %v, want the 1s penalty", d)
	}
	t0 = time.Now()
	h.greeted().login("alice", "Wr0ngSecret", "-ERR [AUTH] Authentication failed")
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("the attempt after a success took %v, want no penalty", d)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "badguy 127.0.0.1 now has 1 badness") {
		t.Errorf("no badguy line in the log:\n%s", logs)
	}
}
