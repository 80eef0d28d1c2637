package smtpproxy_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/xpehlo"
)

// relayGot reports whether the relay received a line starting with
// prefix (any letter case).
func relayGot(relay *xpehlo.Relay, prefix string) (string, bool) {
	for _, l := range relay.Lines() {
		if strings.HasPrefix(strings.ToUpper(l), strings.ToUpper(prefix)) {
			return l, true
		}
	}
	return "", false
}

// Attack: a client sends its own XPEHLO (guessing the relay's proxy
// password from the MMP's trusted address), XCLIENT (forging LOGIN=) or
// XFORWARD, before the MMP hands the session to the relay and after.
// None of them may reach the relay; each is refused with 5xx and counts
// as a protocol error.
func TestClientProxyCommandsNeverReachTheRelay(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	h := start(t, setup{settings: relaySettings(relay.Addr())})
	cl := h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	for _, cmd := range []string{
		"XPEHLO evil.example PASSWORD=guess1 ADDR=10.0.0.1",
		"xclient ADDR=10.0.0.1 LOGIN=admin",
		"XFORWARD ADDR=10.0.0.1",
	} {
		if got := cl.cmd(cmd); !strings.HasPrefix(got, "5") {
			t.Errorf("%s before the hand-off: %q, want 5xx", cmd, got)
		}
	}
	// The hand-off: from here the relay answers.
	cl.expectCmd("MAIL FROM:<a@example.test>", "250")
	for _, cmd := range []string{
		"XPEHLO evil.example PASSWORD=guess2 ADDR=10.0.0.2",
		"XCLIENT ADDR=10.0.0.2 LOGIN=admin",
		"XFORWARD ADDR=10.0.0.2",
	} {
		if got := cl.cmd(cmd); !strings.HasPrefix(got, "5") {
			t.Errorf("%s in the pipe: %q, want 5xx", cmd, got)
		}
	}
	cl.expectCmd("RSET", "250")
	cl.expectCmd("QUIT", "221")
	time.Sleep(100 * time.Millisecond)
	for _, l := range relay.Lines() {
		if strings.Contains(l, "guess") || strings.Contains(l, "10.0.0.") {
			t.Errorf("the client's proxy command reached the relay: %q", l)
		}
	}
}

// Attack: "AUTH<TAB>PLAIN <credentials>" was not recognised as AUTH and
// went to the relay, around RestrictPlainPasswords. Any command that
// starts with AUTH, in any spacing or case, is the MMP's.
func TestAuthInAnySpacingIsTheMMPs(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword), xpehlo.WithUser("alice", "alicepw"))
	h := start(t, setup{settings: with(relaySettings(relay.Addr()), "RestrictPlainPasswords", "yes")})
	cl := h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepw"))
	for _, cmd := range []string{"AUTH\tPLAIN " + plain, "auth \t plain " + plain, "AUTH\vPLAIN " + plain, "AUTHPLAIN " + plain} {
		if got := cl.cmd(cmd); !strings.HasPrefix(got, "5") {
			t.Errorf("%q on a clear-text link: %q, want 5xx", cmd, got)
		}
	}
	cl.expectCmd("QUIT", "221")
	if l, ok := relayGot(relay, "AUTH"); ok {
		t.Errorf("the relay received %q", l)
	}
}

// Attack: one address made 17,699 wrong SMTP AUTH guesses in 30 s while
// BadGuys held IMAP to under one a second. SMTP AUTH is throttled like
// IMAP and POP: a failure delays the next attempt from the address, and
// a connection is closed after three failed logins.
func TestSMTPAuthThrottled(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	su, _ := directorySetup(relay.Addr())
	su.settings = with(su.settings, "BGPenalty", "1", "BGMaxBadness", "10", "BGDecay", "60")
	h := start(t, su)
	cl := h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	wrong := func(pw string) string {
		return cl.cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+pw)))
	}
	if got := wrong("guess1"); !strings.HasPrefix(got, "535") {
		t.Fatalf("first guess: %q", got)
	}
	start := time.Now()
	if got := wrong("guess2"); !strings.HasPrefix(got, "535") || time.Since(start) < 900*time.Millisecond {
		t.Errorf("second guess: %q after %v, want 535 after the 1 s BadGuys penalty", got, time.Since(start))
	}
	if got := wrong("guess3"); !strings.HasPrefix(got, "535") {
		t.Fatalf("third guess: %q", got)
	}
	if got := cl.reply(); !strings.HasPrefix(got, "421 ") {
		t.Errorf("after three failed logins: %q, want 421 and the connection closed", got)
	}
	cl.Closed()
}
