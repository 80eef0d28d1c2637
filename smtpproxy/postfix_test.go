package smtpproxy_test

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/postfix"
	"github.com/openmmp/mmp/internal/testenv/slapd"
	"github.com/openmmp/mmp/internal/testenv/twostores"
	"github.com/openmmp/mmp/smtpproxy"
)

// The tests against Postfix announce with XCLIENT; the proxy connects to
// Postfix from 127.0.0.1, the only address allowed to send XCLIENT, and
// clients connect to the proxy from other loopback addresses so that the
// relay's log shows which address it believed in.

// xclientSettings are the settings of a proxy in front of Postfix.
func xclientSettings(relays ...string) map[string]string {
	return map[string]string{
		"SmtpRelays":        strings.Join(relays, " "),
		"SmtpRelayAnnounce": "xclient",
	}
}

// startPostfix starts Postfix with SMTP AUTH for alice (the relay's own
// account, for SmtpAuth relay) and XCLIENT allowed from the proxy.
func startPostfix(t *testing.T, opts ...postfix.Option) *postfix.Server {
	t.Helper()
	return postfix.Start(t, append([]postfix.Option{
		postfix.WithXCLIENTHosts("127.0.0.1"),
		postfix.WithUser("alice", "alicepw"),
	}, opts...)...)
}

// swaks submits one message through the proxy with swaks, a real SMTP
// client, from the local address from, and returns its transcript.
func swaks(t *testing.T, proxyAddr, from string, args ...string) (string, error) {
	t.Helper()
	testenv.Need(t, "swaks")
	host, port, _ := strings.Cut(proxyAddr, ":")
	argv := append([]string{"--server", host, "--port", port, "--local-interface", from,
		"--ehlo", "client.example", "--timeout", "20"}, args...)
	out, err := exec.Command("swaks", argv...).CombinedOutput()
	return string(out), err
}

func TestPostfixRelayAuthDelivers(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.5")
	pf := startPostfix(t)
	h := start(t, setup{settings: xclientSettings(pf.Addr())})
	out, err := swaks(t, h.addr, "127.0.0.5",
		"--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alicepw",
		"--from", "alice@example.test", "--to", "bob@example.test,carol@remote.example",
		"--header", "Subject: submitted through the MMP")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	msgs := pf.WaitDelivered(t, "bob", 1)
	if !strings.Contains(msgs[0], "Subject: submitted through the MMP") {
		t.Fatalf("delivered message:\n%s", msgs[0])
	}
	// The relay performed AUTH and believed the client's own address.
	pf.WaitLog(t, "client=unknown[127.0.0.5], sasl_method=PLAIN, sasl_username=alice")
	if q := strings.Join(pf.Queue(t), "\n"); !strings.Contains(q, "to=<carol@remote.example>") {
		t.Fatalf("relayed mail not queued: %q", q)
	}
}

func TestPostfixUnauthenticatedCannotRelay(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.6")
	pf := startPostfix(t)
	h := start(t, setup{settings: xclientSettings(pf.Addr())})
	cl := h.dial("127.0.0.6")
	cl.reply()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("MAIL FROM:<mallory@example.org>", "250 ")
	cl.expectCmd("RCPT TO:<victim@remote.example>", "554 5.7.1 <victim@remote.example>: Relay access denied")
	// Local mail is still accepted: the relay is an MX for its domain.
	cl.expectCmd("RCPT TO:<bob@example.test>", "250 ")
	cl.expectCmd("QUIT", "221 ")
	pf.WaitLog(t, "reject: RCPT from unknown[127.0.0.6]: 554 5.7.1 <victim@remote.example>: Relay access denied")
}

// TestPostfixClientXCLIENTRefused: a client's own XCLIENT, forging a
// login, reaches Postfix neither before the hand-off (the MMP answers
// 502) nor in the pipe (the filter turns it into a command Postfix
// refuses), and the client still cannot relay.
func TestPostfixClientXCLIENTRefused(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.6")
	pf := startPostfix(t)
	h := start(t, setup{settings: xclientSettings(pf.Addr())})
	cl := h.dial("127.0.0.6")
	cl.reply()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("XCLIENT LOGIN=alice", "502 5.7.0 ")
	cl.expectCmd("MAIL FROM:<mallory@example.org>", "250 ")
	cl.expectCmd("XCLIENT LOGIN=alice", "5")
	cl.expectCmd("RCPT TO:<victim@remote.example>", "554 5.7.1 ")
	if strings.Contains(pf.Log(), "LOGIN=alice") || strings.Contains(pf.Log(), "sasl_username=alice") {
		t.Errorf("Postfix saw the client's XCLIENT:\n%s", pf.Log())
	}
}

func TestPostfixPopBeforeSMTP(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.7")
	testenv.Need(t, "python3")
	pf := startPostfix(t)
	cache := authsvc.New(authsvc.Options{TTL: time.Minute})
	cache.Record(netip.MustParseAddr("127.0.0.7"), "bob")
	h := start(t, setup{settings: xclientSettings(pf.Addr()), opts: smtpproxy.Options{PopBeforeSMTP: cache}})
	host, port, _ := strings.Cut(h.addr, ":")
	// Python's smtplib, without AUTH, from the address that read its
	// mail with POP a moment ago.
	script := `
import smtplib, sys
host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP(host, port, local_hostname="pop.client", source_address=(src, 0), timeout=20)
s.sendmail("bob@example.test", ["dave@remote.example"], "Subject: POP before SMTP\r\n\r\nHello.\r\n")
s.quit()
`
	out, err := exec.Command("python3", "-c", script, host, port, "127.0.0.7").CombinedOutput()
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	pf.WaitLog(t, "client=unknown[127.0.0.7], sasl_method=XCLIENT, sasl_username=bob")
	if q := strings.Join(pf.Queue(t), "\n"); !strings.Contains(q, "to=<dave@remote.example>") {
		t.Fatalf("relayed mail not queued: %q", q)
	}
}

func TestPostfixDirectoryAuth(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.8")
	// alice/alicepw is the relay's own SASL account; the directory has
	// alice with her LDAP password, which Postfix does not know, so a
	// success proves the MMP checked it.
	pf := startPostfix(t)
	ldap := slapd.Start(t, slapd.WithLDIF(twostores.LDIF(t, twostores.Store1, twostores.Store2)))
	dir := directory.New(directory.Options{})
	t.Cleanup(func() { dir.Close() })
	settings := xclientSettings(pf.Addr())
	settings["SmtpAuth"] = "directory"
	settings["LdapUrl"] = ldap.URL + "/" + ldap.BaseDN
	settings["BindDN"] = ldap.ProxyDN
	settings["BindPass"] = ldap.ProxyPass
	h := start(t, setup{settings: settings, router: dir})
	bob := twostores.User("bob")

	cl := h.dial("127.0.0.8")
	cl.reply()
	if got := cl.cmd("EHLO client.example"); !strings.Contains(got, "250 AUTH PLAIN LOGIN") {
		t.Fatalf("EHLO reply does not offer the MMP's AUTH:\n%s", got)
	}
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00bob\x00alicepw")), "535 5.7.8 ")
	cl.expectCmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00bob\x00"+bob.Password)), "235 2.7.0 ")
	if got := cl.sendMail("bob@example.test", "erin@remote.example", "directory auth"); !strings.HasPrefix(got, "250 2.0.0 Ok: queued") {
		t.Fatalf("end of data: %q", got)
	}
	cl.expectCmd("QUIT", "221 ")
	pf.WaitLog(t, "client=unknown[127.0.0.8], sasl_method=XCLIENT, sasl_username=bob")
	if q := strings.Join(pf.Queue(t), "\n"); !strings.Contains(q, "to=<erin@remote.example>") {
		t.Fatalf("relayed mail not queued: %q", q)
	}
	if n := ldap.CountBinds(bob.DN); n != 2 {
		t.Errorf("%d binds as %s, want 2 (one wrong password, one right)", n, bob.DN)
	}

	// Without AUTH the deferred XCLIENT goes before MAIL, and the relay
	// refuses to relay.
	cl = h.dial("127.0.0.8")
	cl.reply()
	cl.expectCmd("EHLO client.example", "250-")
	cl.expectCmd("MAIL FROM:<mallory@example.org>", "250 ")
	cl.expectCmd("RCPT TO:<victim@remote.example>", "554 5.7.1 ")
}

func TestPostfixRelayFailover(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.9")
	pf := startPostfix(t)
	down := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) // a closed port
	h := start(t, setup{settings: xclientSettings(down, pf.Addr())})
	for i := range 3 {
		cl := h.dial("127.0.0.9")
		cl.reply()
		cl.expectCmd("EHLO client.example", "250-")
		if got := cl.sendMail("someone@example.test", "bob@example.test", fmt.Sprintf("failover %d", i)); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("message %d: %q", i, got)
		}
		cl.expectCmd("QUIT", "221 ")
	}
	pf.WaitDelivered(t, "bob", 3)
	// The closed relay was tried by the first session only, then avoided
	// for FailoverTimeout minutes although its turn came again.
	if n := h.dials.attempts(down); n != 1 {
		t.Fatalf("the closed relay was dialled %d times, want 1", n)
	}
	if n := h.dials.attempts(pf.Addr()); n != 3 {
		t.Fatalf("Postfix was dialled %d times, want 3", n)
	}
}

// A Sun SmtpProxyAService.cfg put in front of Postfix keeps the
// extensions today's clients use: Postfix's SMTPUTF8, DSN, CHUNKING and
// ENHANCEDSTATUSCODES reach the client without an EhloKeywords line, and
// an SMTPUTF8 message with DSN goes through the pipe and is delivered.
func TestPostfixStandardExtensionsPassed(t *testing.T) {
	pf := startPostfix(t)
	h := start(t, setup{settings: xclientSettings(pf.Addr())})
	cl := h.dial("")
	cl.reply()
	ehlo := cl.expectCmd("EHLO client.example", "250-")
	for _, kw := range []string{"SMTPUTF8", "DSN", "CHUNKING", "ENHANCEDSTATUSCODES", "8BITMIME", "PIPELINING"} {
		if !strings.Contains(ehlo+"\n", "250-"+kw+"\n") && !strings.Contains(ehlo+"\n", "250 "+kw+"\n") {
			t.Errorf("EHLO through the MMP lacks %s:\n%s", kw, ehlo)
		}
	}
	cl.expectCmd("MAIL FROM:<jürgen@example.test> SMTPUTF8 RET=HDRS", "250 ")
	cl.expectCmd("RCPT TO:<bob@example.test> NOTIFY=NEVER", "250 ")
	cl.expectCmd("DATA", "354 ")
	cl.expectCmd("From: <jürgen@example.test>\r\nTo: <bob@example.test>\r\nSubject: Grüße\r\n\r\nHallo.\r\n.", "250 ")
	cl.expectCmd("QUIT", "221 ")
	msgs := pf.WaitDelivered(t, "bob", 1)
	if !strings.Contains(msgs[0], "Subject: Grüße") {
		t.Fatalf("delivered message:\n%s", msgs[0])
	}
}
