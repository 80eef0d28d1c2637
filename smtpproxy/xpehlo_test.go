package smtpproxy_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/xpehlo"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/smtpproxy"
)

// proxyPassword has every character xtext must encode in it.
const proxyPassword = "pw=x y+"

// relaySettings are the settings of a proxy in front of the given relays.
func relaySettings(relays ...string) map[string]string {
	return map[string]string{
		"SmtpRelays":        strings.Join(relays, " "),
		"SmtpProxyPassword": proxyPassword,
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[0+i]] = kv[i+1]
	}
	return m
}

// filteredEHLO is the proxy's EHLO reply to the fake relay's
// DefaultKeywords: VRFY, STARTTLS and the X-keywords not in
// EhloKeywords are gone.
func filteredEHLO(extra ...string) string {
	lines := []string{testHost, "DSN", "CHUNKING", "SMTPUTF8", "8BITMIME", "PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "EXPN", "ETRN"}
	lines = append(lines, extra...)
	lines = append(lines, "XLOOP 5A1B7C9D", "HELP")
	for i := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		lines[i] = "250" + sep + lines[i]
	}
	return strings.Join(lines, "\n")
}

func TestXPEHLOLineAndPipe(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword), xpehlo.WithUser("alice", "alicepw"))
	h := start(t, setup{settings: relaySettings(relay.Addr())})
	cl := h.greeted()
	cl.Send("EHLO client.example\r\n")
	cl.expect(filteredEHLO())

	want := fmt.Sprintf("XPEHLO client.example PASSWORD=pw+3Dx+20y+2B ADDR=127.0.0.1 PORT=%d SERVERADDR=127.0.0.1", cl.localPort())
	if got := relay.Lines(); len(got) != 1 || got[0] != want {
		t.Fatalf("relay received %q, want [%q]", got, want)
	}
	a := relay.Announcements()[0]
	if a.Params["PASSWORD"] != proxyPassword || a.Params["ADDR"] != "127.0.0.1" || a.Params["CHANNEL"] != "" {
		t.Errorf("announcement %+v", a)
	}

	// AUTH is the relay's business (SmtpAuth relay): it starts the pipe.
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepw"))
	cl.expectCmd("AUTH PLAIN "+plain, "235 ")
	if got := cl.sendMail("alice@example.test", "carol@remote.example", "through the MMP"); !strings.HasPrefix(got, "250 2.0.0 Ok: queued as FAKE1") {
		t.Fatalf("end of data: %q", got)
	}
	cl.expectCmd("QUIT", "221 ")
	cl.Closed()
	msgs := relay.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: through the MMP\r\n") || !strings.Contains(msgs[0], "\r\n.a dot-stuffed line\r\n") {
		t.Fatalf("messages = %q", msgs)
	}
}

func TestXPEHLOPopBeforeSMTP(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	cache := authsvc.New(authsvc.Options{TTL: time.Minute})
	cache.Record(netip.MustParseAddr("127.0.0.1"), "bob")
	h := start(t, setup{
		settings: with(relaySettings(relay.Addr()), "PopBeforeSmtpKludgeChannel", "tcp_intranet"),
		opts:     smtpproxy.Options{PopBeforeSMTP: cache},
	})
	cl := h.greeted()
	cl.Send("EHLO pop.client\r\n")
	cl.expect(filteredEHLO())
	want := fmt.Sprintf("XPEHLO pop.client PASSWORD=pw+3Dx+20y+2B ADDR=127.0.0.1 PORT=%d CHANNEL=tcp_intranet SERVERADDR=127.0.0.1", cl.localPort())
	if got := relay.Lines()[0]; got != want {
		t.Fatalf("relay received %q, want %q", got, want)
	}

	// Another address without a POP login is introduced as it is.
	testenv.NeedLoopback(t, "127.0.0.2")
	cl2 := h.dial("127.0.0.2")
	cl2.reply()
	cl2.expectCmd("EHLO other.client", "250-")
	a := relay.Announcements()[1]
	if _, ok := a.Params["CHANNEL"]; ok || a.Params["ADDR"] != "127.0.0.2" {
		t.Fatalf("client without POP login announced with %v", a.Params)
	}
}

func TestXPEHLORefusedTriesNextRelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  xpehlo.Option
		want string // the first relay's refusal
	}{
		{"wrong password", xpehlo.WithPassword("another password"), "535 5.7.8"},
		{"no XPEHLO", xpehlo.WithoutXPEHLO(), "500 5.5.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := xpehlo.Start(t, tc.opt)
			good := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
			h := start(t, setup{settings: relaySettings(bad.Addr(), good.Addr())})
			cl := h.greeted()
			cl.Send("EHLO client.example\r\n")
			cl.expect(filteredEHLO())
			if !strings.Contains(bad.Transcript(), "S: "+tc.want) {
				t.Fatalf("first relay did not refuse:\n%s", bad.Transcript())
			}
			if n := len(good.Announcements()); n != 1 {
				t.Fatalf("second relay has %d announcements", n)
			}
			// The refusing relay is avoided by the next sessions, even
			// when the round robin comes back to it.
			for i := range 3 {
				cl := h.greeted()
				cl.expectCmd("EHLO client"+fmt.Sprint(i)+".example", "250-")
			}
			if n := bad.Connections(); n != 1 {
				t.Errorf("refusing relay was connected %d times, want 1", n)
			}
			if n := len(good.Announcements()); n != 4 {
				t.Errorf("second relay has %d announcements, want 4", n)
			}
		})
	}
}

func TestEHLOKeywordFiltering(t *testing.T) {
	relay := xpehlo.Start(t)
	h := start(t, setup{settings: with(relaySettings(relay.Addr()), "EhloKeywords", "xadr NO-SOLICITING")})
	cl := h.greeted()
	cl.Send("EHLO client.example\r\n")
	want := strings.Join([]string{
		"250-" + testHost,
		"250-DSN",
		"250-CHUNKING",
		"250-SMTPUTF8",
		"250-8BITMIME",
		"250-PIPELINING",
		"250-SIZE 10240000",
		"250-AUTH PLAIN LOGIN",
		"250-ENHANCEDSTATUSCODES",
		"250-EXPN",
		"250-ETRN",
		"250-XADR",
		"250-XLOOP 5A1B7C9D",
		"250-NO-SOLICITING",
		"250 HELP",
	}, "\n")
	cl.expect(want)

	// A second EHLO introduces the client again; HELO gets one line.
	cl.Send("HELO client.example\r\n")
	cl.expect("250 " + testHost)
	if n := len(relay.Announcements()); n != 2 {
		t.Fatalf("%d announcements after the second greeting, want 2", n)
	}
	// STARTTLS is the MMP's, and it has none yet; the relay never sees it.
	cl.expectCmd("STARTTLS", "502 5.5.1")
	for _, l := range relay.Lines() {
		if strings.HasPrefix(l, "STARTTLS") {
			t.Fatalf("STARTTLS reached the relay")
		}
	}
}

func TestRestrictPlainPasswordsRelayMode(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithUser("alice", "alicepw"))
	h := start(t, setup{settings: with(relaySettings(relay.Addr()), "RestrictPlainPasswords", "yes")})
	cl := h.greeted()
	cl.Send("EHLO client.example\r\n")
	if got := cl.reply(); strings.Contains(got, "AUTH") {
		t.Fatalf("EHLO offers AUTH PLAIN or LOGIN on a clear link:\n%s", got)
	}
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepw")), "538 5.7.11 ")
	cl.expectCmd("AUTH LOGIN", "538 5.7.11 ")
	cl.expectCmd("NOOP", "250 ")
	cl.expectCmd("RSET", "250 ")
	// Mail without AUTH goes to the relay, which decides.
	cl.expectCmd("MAIL FROM:<alice@example.test>", "250 2.1.0 Ok")
	for _, l := range relay.Lines() {
		if strings.HasPrefix(l, "AUTH") {
			t.Fatalf("a clear-text password reached the relay: %q", l)
		}
	}
}

// passwords is a directory whose password checks are in memory (DN →
// password) and recorded.
type passwords struct {
	account.Directory // the users
	mu                sync.Mutex
	byDN              map[string]string
	err               error
	binds             []string
}

func (p *passwords) CheckPassword(ctx context.Context, _ account.Query, u *account.User, pw string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	dn := u.DN
	p.binds = append(p.binds, dn)
	if p.err != nil {
		return p.err
	}
	if want, ok := p.byDN[dn]; ok && want == pw {
		return nil
	}
	return fmt.Errorf("test: wrong password for %s: %w", dn, account.ErrNoUser)
}

func directorySetup(relay string) (setup, *passwords) {
	router := &proxytest.Directory{Users: map[string]*account.User{
		"alice": {DN: "uid=alice,o=test", MailHosts: []string{"store1"}},
	}}
	pw := &passwords{Directory: router, byDN: map[string]string{"uid=alice,o=test": "alice pw"}}
	return setup{
		settings: with(relaySettings(relay), "SmtpAuth", "directory"),
		router:   pw,
	}, pw
}

func TestDirectoryAuthXPEHLO(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword))
	su, pw := directorySetup(relay.Addr())
	h := start(t, su)
	cl := h.greeted()
	cl.Send("EHLO client.example\r\n")
	// The relay's AUTH goes; the MMP offers its own.
	want := strings.Replace(filteredEHLO(), "250-AUTH PLAIN LOGIN\n", "", 1)
	want = strings.Replace(want, "250 HELP", "250-HELP\n250 AUTH PLAIN LOGIN", 1)
	cl.expect(want)

	cl.expectCmd("MAIL FROM:<alice@example.test>", "250") // without AUTH: the relay decides
	cl.expectCmd("QUIT", "221")

	cl = h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong")), "535 5.7.8 Authentication credentials invalid")
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00nobody\x00alice pw")), "535 5.7.8 ")
	cl.expectCmd("AUTH PLAIN", "334 ")
	cl.expectCmd("*", "501 5.7.0 ")
	cl.expectCmd("AUTH LOGIN", "334 VXNlcm5hbWU6")
	cl.expectCmd(base64.StdEncoding.EncodeToString([]byte("alice")), "334 UGFzc3dvcmQ6")
	cl.expectCmd(base64.StdEncoding.EncodeToString([]byte("alice pw")), "235 2.7.0 Authentication successful")
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alice pw")), "503 5.5.1 ")
	cl.expectCmd("MAIL FROM:<alice@example.test>", "250")

	// The relay heard the login in a second XPEHLO, and never AUTH.
	last := relay.Announcements()[len(relay.Announcements())-1]
	if last.Params["LOGIN"] != "alice" || last.Params["PASSWORD"] != proxyPassword {
		t.Fatalf("re-announcement %v, want LOGIN=alice", last.Params)
	}
	for _, l := range relay.Lines() {
		if strings.HasPrefix(l, "AUTH") || strings.Contains(l, "alice pw") {
			t.Fatalf("credentials reached the relay: %q", l)
		}
	}
	if len(pw.binds) != 2 {
		t.Errorf("binds %q, want 2 (the unknown user is not bound)", pw.binds)
	}

	// A directory that cannot answer is a temporary failure.
	pw.mu.Lock()
	pw.err = fmt.Errorf("test: %w", account.ErrUnavailable)
	pw.mu.Unlock()
	cl = h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("alice\x00alice\x00alice pw")), "454 4.7.0 Temporary authentication failure")
}

func TestBeforeEHLO(t *testing.T) {
	relay := xpehlo.Start(t)
	h := start(t, setup{settings: relaySettings(relay.Addr())})
	cl := h.greeted()
	cl.expectCmd("NOOP", "250 2.0.0")
	cl.expectCmd("noop with an argument", "250 2.0.0")
	cl.expectCmd("RSET", "250 2.0.0")
	cl.expectCmd("RSET now", "501 5.5.4 ")
	cl.expectCmd("HELP", "214 2.0.0 "+testHost)
	for _, c := range []string{"MAIL FROM:<a@b>", "RCPT TO:<a@b>", "DATA", "AUTH PLAIN"} {
		cl.expectCmd(c, "503 5.5.1 EHLO first")
	}
	cl.expectCmd("XYZZY", "500 5.5.2 ")
	cl.expectCmd("EHLO", "501 5.5.4 ")
	cl.expectCmd("EHLO key=value", "501 5.5.4 ")
	cl.expectCmd("QUIT", "221 2.0.0 "+testHost)
	cl.Closed()
	if n := relay.Connections(); n != 0 {
		t.Fatalf("the relay was connected %d times before any EHLO", n)
	}
}

func TestErrorBudgetAndLineLength(t *testing.T) {
	relay := xpehlo.Start(t)
	h := start(t, setup{settings: relaySettings(relay.Addr())})
	cl := h.greeted()
	cl.expectCmd("NOOP "+strings.Repeat("x", 1000), "500 5.5.2 Line too long")
	cl.expectCmd("NOOP "+strings.Repeat("x", 20000), "500 5.5.2 Line too long")
	cl.expectCmd("NOOP", "250 ")
	for range 7 {
		cl.expectCmd("XYZZY", "500 ")
	}
	cl.Send("XYZZY\r\n")
	cl.expect("500 5.5.2 Command not recognized")
	cl.expect("421 4.7.0 " + testHost + " Too many errors, closing transmission channel")
	cl.Closed()
}

func TestIdleTimeout(t *testing.T) {
	relay := xpehlo.Start(t)
	h := start(t, setup{settings: with(relaySettings(relay.Addr()), "Timeout", "1")})
	cl := h.greeted()
	cl.expect("421 4.4.2 " + testHost + " Idle timeout, closing transmission channel")
	cl.Closed()
}

func TestNoRelayReachable(t *testing.T) {
	down := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	h := start(t, setup{settings: relaySettings(down)})
	cl := h.greeted()
	cl.expectCmd("EHLO client.example", "421 4.3.0 "+testHost+" Service not available, closing transmission channel")
	cl.Closed()
}

func TestSlowRelayFailover(t *testing.T) {
	slow := xpehlo.Start(t, xpehlo.WithGreetingDelay(time.Minute))
	good := xpehlo.Start(t)
	h := start(t, setup{settings: with(relaySettings(slow.Addr(), good.Addr()), "FailoverTimeout", "1")})
	cl := h.greeted()
	began := time.Now()
	cl.expectCmd("EHLO client.example", "250-")
	if d := time.Since(began); d < time.Second || d > 5*time.Second {
		t.Errorf("EHLO took %v; want FailoverTimeout (1s) for the silent relay", d)
	}
	if len(good.Announcements()) != 1 || len(slow.Announcements()) != 0 {
		t.Fatalf("announcements: slow %d, good %d", len(slow.Announcements()), len(good.Announcements()))
	}
	// Avoided for a minute: the next sessions go straight to the good one.
	cl = h.greeted()
	began = time.Now()
	cl.expectCmd("EHLO client.example", "250-")
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("second EHLO took %v: the slow relay was tried again", d)
	}
	if n := h.dials.attempts(slow.Addr()); n != 1 {
		t.Errorf("slow relay dialled %d times, want 1", n)
	}
}

func TestRefusedByConnLimits(t *testing.T) {
	relay := xpehlo.Start(t)
	h := start(t, setup{settings: with(relaySettings(relay.Addr()), "ConnLimits", "127.0.0.1|255.255.255.255:1")})
	first := h.greeted()
	cl := h.dial("")
	if got := cl.reply(); !strings.HasPrefix(got, "421 4.7.0 "+testHost+" ") {
		t.Fatalf("second connection: %q, want 421", got)
	}
	cl.Closed()
	first.expectCmd("QUIT", "221 ")
}

func TestClientLookupName(t *testing.T) {
	names, err := netLookupAddr("127.0.0.1")
	if err != nil || len(names) == 0 {
		testenv.Unavailable(t, fmt.Sprintf("127.0.0.1 has no host name here (/etc/hosts): %v", err))
	}
	relay := xpehlo.Start(t)
	h := start(t, setup{settings: with(relaySettings(relay.Addr()), "ClientLookup", "yes")})
	cl := h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	got := relay.Announcements()[0].Params["NAME"]
	if got == "" || !contains(names, got) {
		t.Fatalf("NAME=%q, want one of %q", got, names)
	}
}

// TestNoPasswordInLog runs sessions that carry every kind of password the
// SMTP proxy handles (the proxy password in XPEHLO, PLAIN and LOGIN
// credentials checked by the MMP, PLAIN credentials piped to the relay)
// at LogLevel 10, protocol traces included, and searches the log for them.
func TestNoPasswordInLog(t *testing.T) {
	dir := t.TempDir()
	lg, err := logging.Open(logging.Options{Dir: dir, Level: 10, Proc: "SmtpProxy"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.Close() })
	relay := xpehlo.Start(t, xpehlo.WithPassword(proxyPassword), xpehlo.WithUser("bob", "bob relay pw"))
	su, _ := directorySetup(relay.Addr())
	su.log = lg
	h := start(t, su)
	cl := h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alice pw")), "235 ")
	cl.expectCmd("QUIT", "221 ")
	cl = h.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("AUTH LOGIN "+base64.StdEncoding.EncodeToString([]byte("alice")), "334 ")
	cl.expectCmd(base64.StdEncoding.EncodeToString([]byte("wrong pw")), "535 ")

	relayMode := start(t, setup{settings: relaySettings(relay.Addr()), log: lg})
	cl = relayMode.greeted()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00bob\x00bob relay pw")), "235 ")
	cl.expectCmd("QUIT", "221 ")
	relay.WaitLine(t, "QUIT")
	h.srv.Close()
	relayMode.srv.Close()

	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var all strings.Builder
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	log := all.String()
	if !strings.Contains(log, "to relay") || !strings.Contains(log, "PASSWORD=**redacted**") {
		t.Fatalf("the log has no protocol trace; LogLevel 10 should show one:\n%s", log)
	}
	for _, secret := range []string{proxyPassword, xtextOf(proxyPassword), "alice pw", "wrong pw", "bob relay pw",
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alice pw")),
		base64.StdEncoding.EncodeToString([]byte("wrong pw")),
		base64.StdEncoding.EncodeToString([]byte("\x00bob\x00bob relay pw"))} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q:\n%s", secret, log)
		}
	}
}

// xtextOf is the xtext form the proxy password takes in XPEHLO.
func xtextOf(s string) string {
	return strings.NewReplacer("=", "+3D", " ", "+20", "+", "+2B").Replace(s)
}
