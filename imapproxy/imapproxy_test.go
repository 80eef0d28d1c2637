package imapproxy_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
)

const defaultCaps = "IMAP4 IMAP4rev1 ACL QUOTA LITERAL+ NAMESPACE UIDPLUS CHILDREN BINARY LANGUAGE XSENDER X-NETSCAPE XSERVERINFO AUTH=PLAIN AUTH=LOGIN"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestGreeting(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"default", nil, "* OK [CAPABILITY " + defaultCaps + "] mmp1 IMAP service (Messaging Multiplexor openmmp 0.1)"},
		{"escapes", map[string]string{"Banner": "%P %v on %h (%p) 100%%"},
			"* OK [CAPABILITY " + defaultCaps + "] Messaging Multiplexor 0.1 on mmp1 (IMAP) 100%"},
		{"verbatim", map[string]string{"Banner": "* OK Netscape IMAP4 proxy ready"}, "* OK Netscape IMAP4 proxy ready"},
		{"capability recomputed", map[string]string{"Capability": "IMAP4 STARTTLS AUTH=CRAM-MD5 LOGINDISABLED ID SASL-IR", "Banner": "hi"},
			"* OK [CAPABILITY IMAP4rev1 IMAP4 ID SASL-IR AUTH=PLAIN AUTH=LOGIN] hi"},
		{"login disabled", map[string]string{"RestrictPlainPasswords": "yes", "Capability": "IMAP4rev1", "Banner": "hi"},
			"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, setup{settings: tt.settings})
			cl := h.dial()
			cl.Expect(tt.want)
		})
	}
}

func TestCapabilityNoopLogout(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("a1 CAPABILITY\r\n")
	cl.Expect("* CAPABILITY "+defaultCaps, "a1 OK CAPABILITY completed")
	cl.Send("a2 NOOP\r\n")
	cl.Expect("a2 OK NOOP completed")
	cl.Send("a3 LOGOUT\r\n")
	cl.Expect("* BYE Messaging Multiplexor logging out", "a3 OK LOGOUT completed")
	cl.Closed()
	if h.store.conns() != 0 {
		t.Errorf("the store was contacted %d times before any login", h.store.conns())
	}
}

func TestID(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"Capability": "IMAP4rev1 ID"}})
	cl := h.greeted()
	cl.Send("a ID (\"name\" \"test\")\r\nb ID NIL\r\nc ID foo\r\n")
	cl.Expect(`* ID ("name" "Messaging Multiplexor" "version" "0.1")`, "a OK ID completed",
		`* ID ("name" "Messaging Multiplexor" "version" "0.1")`, "b OK ID completed",
		"c BAD ID takes a parameter list or NIL")

	// Without ID in the capability list, ID is an unknown command.
	h2 := start(t, setup{})
	cl2 := h2.greeted()
	cl2.Send("a ID NIL\r\n")
	cl2.Expect("a BAD Command unknown or not allowed before login")
}

// Pipelined commands are answered in order, in one write.
func TestPipelinedBeforeLogin(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"Capability": "IMAP4rev1 ID"}})
	cl := h.greeted()
	cl.Send("a CAPABILITY\r\nb NOOP\r\nc ID NIL\r\nd FOO\r\ne NOOP\r\n")
	cl.Expect("* CAPABILITY IMAP4rev1 ID AUTH=PLAIN AUTH=LOGIN", "a OK CAPABILITY completed",
		"b OK NOOP completed",
		`* ID ("name" "Messaging Multiplexor" "version" "0.1")`, "c OK ID completed",
		"d BAD Command unknown or not allowed before login",
		"e OK NOOP completed")
}

// The replay, byte for byte: literals always, waiting for "+" unless the
// store has LITERAL+.
func TestLoginReplayTranscripts(t *testing.T) {
	noPlus := "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] no literal+"
	bare := "* OK ready"
	tests := []struct {
		name     string
		greeting string
		send     string // the client's login, tag "a"
		user     string
		store    string // what the store receives
	}{
		{"atom, literal+", defaultStoreGreeting, "a LOGIN alice alicepw\r\n", "alice",
			"MMP1 LOGIN {5+}\r\nalice {7+}\r\nalicepw\r\n"},
		{"atom, sync literals", noPlus, "a LOGIN alice alicepw\r\n", "alice",
			"MMP1 LOGIN {5}\r\nalice {7}\r\nalicepw\r\n"},
		{"no capability in greeting", bare, "a LOGIN alice alicepw\r\n", "alice",
			"MMP1 LOGIN {5}\r\nalice {7}\r\nalicepw\r\n"},
		{"quoted with specials", noPlus, "a LOGIN \"bob\" \"bob pw\\\"\\\\\"\r\n", "bob",
			"MMP1 LOGIN {3}\r\nbob {8}\r\nbob pw\"\\\r\n"},
		{"non-ascii literal", defaultStoreGreeting, "a LOGIN {7+}\r\njürgen juergenpw\r\n", "jürgen",
			"MMP1 LOGIN {7+}\r\njürgen {9+}\r\njuergenpw\r\n"},
		{"plain with SASL-IR", defaultStoreGreeting, "a AUTHENTICATE PLAIN " + b64("\x00alice\x00alicepw") + "\r\n", "alice",
			"MMP1 AUTHENTICATE PLAIN " + b64("\x00alice\x00alicepw") + "\r\n"},
		{"plain, store without SASL-IR", noPlus, "a AUTHENTICATE PLAIN " + b64("alice\x00alice\x00alicepw") + "\r\n", "alice",
			"MMP1 AUTHENTICATE PLAIN\r\n" + b64("\x00alice\x00alicepw") + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, setup{greeting: tt.greeting})
			cl := h.greeted()
			cl.Send(tt.send)
			cl.loggedIn("a", tt.user)
			want := tt.store + "w WHOAMI\r\n"
			if got := h.store.got(0); got != want {
				t.Errorf("store received\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// Client-side literal forms: synchronising {n} gets "+ Ready", {n+} not.
func TestLoginLiterals(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("a LOGIN {5}\r\n")
	cl.Expect("+ Ready for literal data")
	cl.Send("alice {7}\r\n")
	cl.Expect("+ Ready for literal data")
	cl.Send("alicepw\r\n")
	cl.loggedIn("a", "alice")

	cl2 := h.greeted()
	cl2.Send("b LOGIN {5+}\r\nalice {7+}\r\nalicepw\r\n")
	cl2.loggedIn("b", "alice")
}

func TestAuthenticatePlain(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("a AUTHENTICATE PLAIN\r\n")
	cl.Expect("+ ")
	cl.Send(b64("\x00alice\x00alicepw") + "\r\n")
	cl.loggedIn("a", "alice")
}

func TestAuthenticateLogin(t *testing.T) {
	h := start(t, setup{greeting: "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] x"})
	cl := h.greeted()
	cl.Send("a AUTHENTICATE LOGIN\r\n")
	cl.Expect("+ VXNlcm5hbWU6")
	cl.Send(b64("alice") + "\r\n")
	cl.Expect("+ UGFzc3dvcmQ6")
	cl.Send(b64("alicepw") + "\r\n")
	cl.loggedIn("a", "alice")
	if got, want := h.store.got(0), "MMP1 LOGIN {5}\r\nalice {7}\r\nalicepw\r\nw WHOAMI\r\n"; got != want {
		t.Errorf("store received %q, want %q", got, want)
	}

	// With an initial response, the user name.
	cl2 := h.greeted()
	cl2.Send("b AUTHENTICATE LOGIN " + b64("alice") + "\r\n")
	cl2.Expect("+ UGFzc3dvcmQ6")
	cl2.Send(b64("alicepw") + "\r\n")
	cl2.loggedIn("b", "alice")
}

func TestAuthenticateCancelAndErrors(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("a AUTHENTICATE PLAIN\r\n")
	cl.Expect("+ ")
	cl.Send("*\r\n")
	cl.Expect("a BAD Authentication cancelled")
	cl.Send("b AUTHENTICATE LOGIN\r\n")
	cl.Expect("+ VXNlcm5hbWU6")
	cl.Send(b64("alice") + "\r\n")
	cl.Expect("+ UGFzc3dvcmQ6")
	cl.Send("*\r\n")
	cl.Expect("b BAD Authentication cancelled")
	cl.Send("c AUTHENTICATE CRAM-MD5\r\n")
	cl.Expect("c NO [CANNOT] Unsupported authentication mechanism")
	cl.Send("d AUTHENTICATE PLAIN !!!\r\n")
	cl.Expect("d BAD Malformed authentication response")
	cl.Send("e AUTHENTICATE PLAIN " + b64("bob\x00alice\x00alicepw") + "\r\n")
	cl.Expect("e NO [AUTHORIZATIONFAILED] Logging in as another user is not allowed")
	// Still usable: three BADs are under the budget.
	cl.Send("f LOGIN alice alicepw\r\n")
	cl.loggedIn("f", "alice")
}

// A line over the limit is answered BAD and skipped; the connection goes on.
func TestOversizeLine(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("a NOOP " + strings.Repeat("x", 20000) + "\r\n")
	cl.ExpectPrefix("a BAD ")
	cl.Send("b NOOP\r\n")
	cl.Expect("b OK NOOP completed")
	cl.Send("c LOGIN {100000}\r\n")
	cl.ExpectPrefix("c BAD [TOOBIG]")
	cl.Send("d LOGIN alice alicepw\r\n")
	cl.loggedIn("d", "alice")
}

func TestErrorBudget(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	for i := 1; i < 5; i++ {
		cl.Send(fmt.Sprintf("a%d BOGUS\r\n", i))
		cl.Expect(fmt.Sprintf("a%d BAD Command unknown or not allowed before login", i))
	}
	cl.Send("a5 ALSO BOGUS\r\n")
	cl.Expect("a5 BAD Command unknown or not allowed before login", "* BYE Too many invalid commands")
	cl.Closed()
}

// Unknown user and wrong password give the same reply, and the client can
// try again on the same connection.
func TestFailedLoginThenRetry(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("a LOGIN nobody secret\r\n")
	unknown := cl.Line()
	cl.Send("a LOGIN alice wrong\r\n")
	wrong := cl.Line()
	if want := "a NO [AUTHENTICATIONFAILED] Authentication failed"; unknown != want || wrong != want {
		t.Errorf("unknown user: %q, wrong password: %q; want both %q", unknown, wrong, want)
	}
	// The same wrong password again (with another mechanism, as neomutt
	// does) is not a third failure: the connection stays open.
	cl.Send("b AUTHENTICATE PLAIN " + b64("\x00alice\x00wrong") + "\r\n")
	cl.Expect("b NO [AUTHENTICATIONFAILED] Authentication failed")
	cl.Send("c LOGIN alice alicepw\r\n")
	cl.loggedIn("c", "alice")
	if n := h.store.conns(); n != 3 {
		t.Errorf("store saw %d connections, want 3 (two refused logins, one good)", n)
	}
}

// A refusal with a code that tells the user something is passed on; an
// ordinary one gets the canned reply, whatever the store's wording.
func TestStoreRefusalText(t *testing.T) {
	for refuse, want := range map[string]string{
		"[UNAVAILABLE] Mailbox is being moved":         "a NO [UNAVAILABLE] Mailbox is being moved",
		"[AUTHENTICATIONFAILED] Wrong password, alice": "a NO [AUTHENTICATIONFAILED] Authentication failed",
		"Go away": "a NO [AUTHENTICATIONFAILED] Authentication failed",
	} {
		h := start(t, setup{})
		h.store.refuse = refuse
		cl := h.greeted()
		cl.Send("a LOGIN alice alicepw\r\n")
		if got := cl.Line(); got != want {
			t.Errorf("store refusal %q: client got %q, want %q", refuse, got, want)
		}
	}
}

func TestLookupUnavailable(t *testing.T) {
	h := start(t, setup{})
	h.router.SetErr(fmt.Errorf("ldap down: %w", account.ErrUnavailable))
	cl := h.greeted()
	cl.Send("a LOGIN alice alicepw\r\n")
	cl.Expect("a NO [UNAVAILABLE] Login is temporarily unavailable, try again later")
	h.router.SetErr(nil)
	cl.Send("b LOGIN alice alicepw\r\n")
	cl.loggedIn("b", "alice")
}

// No mail host answers: ALERT, UNAVAILABLE, and the session stays usable.
func TestStoreDownThenRetry(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"ServerDownAlert": "Store is down, sorry."}})
	closedPort := "127.0.0.1:1"
	h.router.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{closedPort, closedPort}})
	cl := h.greeted()
	cl.Send("a LOGIN alice alicepw\r\n")
	cl.Expect("* NO [ALERT] Store is down, sorry.", "a NO [UNAVAILABLE] Store is down, sorry.")
	// Hosts are tried in turn: the second one works.
	h.router.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{closedPort, "127.0.0.1"}})
	cl.Send("b LOGIN alice alicepw\r\n")
	cl.loggedIn("b", "alice")
}

// A store that greets with PREAUTH or BYE is as good as down.
func TestStoreBadGreeting(t *testing.T) {
	for _, g := range []string{"* PREAUTH [CAPABILITY IMAP4rev1] welcome", "* BYE too busy", "HELLO"} {
		t.Run(g, func(t *testing.T) {
			h := start(t, setup{greeting: g})
			cl := h.greeted()
			cl.Send("a LOGIN alice alicepw\r\n")
			cl.ExpectPrefix("* NO [ALERT] ")
			cl.ExpectPrefix("a NO [UNAVAILABLE] ")
		})
	}
}

// Untagged store responses before the tagged OK reach the client, and
// commands pipelined behind the login reach the store.
func TestForwardingAroundLogin(t *testing.T) {
	h := start(t, setup{})
	h.store.untagged = "* OK [ALERT] Your mailbox is almost full"
	cl := h.greeted()
	cl.Send("a LOGIN alice alicepw\r\nb NOOP\r\n")
	cl.Expect("* OK [ALERT] Your mailbox is almost full")
	cl.Expect("a OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Logged in as alice", "b OK NOOP completed")
}

func TestLoginDisabled(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"RestrictPlainPasswords": "yes"}})
	cl := h.greeted()
	cl.Send("a LOGIN alice alicepw\r\n")
	cl.Expect("a NO [PRIVACYREQUIRED] Plain-text passwords are not accepted on this connection")
	cl.Send("b AUTHENTICATE PLAIN " + b64("\x00alice\x00alicepw") + "\r\n")
	cl.Expect("b NO [PRIVACYREQUIRED] Plain-text passwords are not accepted on this connection")
	if h.store.conns() != 0 {
		t.Error("the store was contacted")
	}
}

func TestStartTLSNotOffered(t *testing.T) {
	h := start(t, setup{})
	cl := h.greeted()
	cl.Send("a STARTTLS\r\n")
	cl.Expect("a BAD STARTTLS is not available")
}

func TestIdleBeforeLogin(t *testing.T) {
	h := start(t, setup{settings: map[string]string{"Timeout": "1"}})
	cl := h.greeted()
	start := time.Now()
	cl.Expect("* BYE Autologout; idle for too long")
	cl.Closed()
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("dropped after %v, want about 1s", d)
	}
}

// ReplayFormat builds the store's login name from directory attributes.
func TestReplayFormat(t *testing.T) {
	h := start(t, setup{
		settings: map[string]string{"ReplayFormat": "%A[uid]@%V"},
		users:    map[string]string{"jdoe@siroe.com": "pw"},
	})
	h.router.SetUser("john.doe@siroe.com", &account.User{DN: "uid=jdoe", MailHosts: []string{"127.0.0.1"},
		Attrs: map[string][]string{"uid": {"jdoe"}}})
	cl := h.greeted()
	cl.Send("a LOGIN john.doe@siroe.com pw\r\n")
	cl.loggedIn("a", "jdoe@siroe.com")
	if got, want := h.store.got(0), "MMP1 LOGIN {14+}\r\njdoe@siroe.com {2+}\r\npw\r\nw WHOAMI\r\n"; got != want {
		t.Errorf("store received %q, want %q", got, want)
	}
}

// The vdmap block is chosen by the address the client reached: the same
// short name logs in to a different account on each address.
func TestVdmapByLocalAddress(t *testing.T) {
	vdmap := "vdmap two 127.0.0.2\ntwo:DefaultDomain two.example\n" +
		"vdmap three 127.0.0.3\nthree:DefaultDomain three.example\n"
	h := start(t, setup{
		settings: map[string]string{"ReplayFormat": "%s"},
		vdmap:    vdmap,
		listen:   []string{"127.0.0.2:0", "127.0.0.3:0"},
		users:    map[string]string{"alice@two.example": "pw2", "alice@three.example": "pw3"},
	})
	for _, u := range []string{"alice@two.example", "alice@three.example"} {
		h.router.SetUser(u, &account.User{DN: "uid=" + u, MailHosts: []string{"127.0.0.1"}})
	}
	c2 := h.dialAddr(h.addrs[0])
	c2.Line()
	c2.Send("a LOGIN alice pw3\r\n")
	c2.Expect("a NO [AUTHENTICATIONFAILED] Authentication failed")
	c2.Send("b LOGIN alice pw2\r\n")
	c2.loggedIn("b", "alice@two.example")
	if q := h.router.LastQuery(); q.Name.Domain != "two.example" || q.Server.String() != "127.0.0.2" {
		t.Errorf("lookup on 127.0.0.2 = %+v, want domain two.example", q.Name)
	}

	c3 := h.dialAddr(h.addrs[1])
	c3.Line()
	c3.Send("a LOGIN alice pw3\r\n")
	c3.loggedIn("a", "alice@three.example")
	if q := h.router.LastQuery(); q.Name.Domain != "three.example" || q.Server.String() != "127.0.0.3" {
		t.Errorf("lookup on 127.0.0.3 = %+v, want domain three.example", q.Name)
	}
}

// RestrictPlainPasswords is a vdmap property (docs/reference.md §2.10): the address
// of one virtual domain may refuse plain passwords before TLS while
// another accepts them.
func TestVdmapRestrictPlainPasswords(t *testing.T) {
	h := start(t, setup{
		vdmap:  "vdmap strict 127.0.0.2\nstrict:RestrictPlainPasswords yes\n",
		listen: []string{"127.0.0.2:0", "127.0.0.3:0"},
	})
	strict := h.dialAddr(h.addrs[0])
	if g := strict.Line(); !strings.Contains(g, "LOGINDISABLED") || strings.Contains(g, "AUTH=PLAIN") {
		t.Errorf("greeting on the strict address %q, want LOGINDISABLED and no AUTH=PLAIN", g)
	}
	strict.Send("a LOGIN alice alicepw\r\n")
	strict.Expect("a NO [PRIVACYREQUIRED] Plain-text passwords are not accepted on this connection")
	open := h.dialAddr(h.addrs[1])
	if g := open.Line(); strings.Contains(g, "LOGINDISABLED") {
		t.Errorf("greeting on the other address %q, want no LOGINDISABLED", g)
	}
	open.Send("a LOGIN alice alicepw\r\n")
	open.loggedIn("a", "alice")
}
