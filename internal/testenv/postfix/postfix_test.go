package postfix_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/postfix"
)

// session is a raw SMTP client that shows the log in its failures. It
// is not a testenv.Conn because some tests connect from a chosen local
// address.
type session struct {
	c  net.Conn
	r  *bufio.Reader
	t  *testing.T
	pf *postfix.Server
}

// dial connects to pf, from the local address from unless it is "", and
// reads the greeting.
func dial(t *testing.T, pf *postfix.Server, from string) *session {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", pf.Addr())
	if err != nil {
		t.Fatalf("Dial(%s) from %q: %v", pf.Addr(), from, err)
	}
	t.Cleanup(func() { c.Close() })
	s := &session{c: c, r: bufio.NewReader(c), t: t, pf: pf}
	if g := s.reply(); !strings.HasPrefix(g, "220 "+postfix.Banner) {
		t.Fatalf("greeting = %q, want 220 %s\nmaillog:\n%s", g, postfix.Banner, pf.Log())
	}
	return s
}

// reply reads a possibly multi-line reply and returns it, lines joined with
// "\n".
func (s *session) reply() string {
	s.t.Helper()
	var lines []string
	for {
		s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("read from %s: %v (partial %q)\nmaillog:\n%s", s.pf.Addr(), err, l, s.pf.Log())
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// cmd sends a command and returns the reply.
func (s *session) cmd(format string, args ...any) string {
	s.t.Helper()
	s.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(s.c, format+"\r\n", args...); err != nil {
		s.t.Fatalf("write to %s: %v", s.pf.Addr(), err)
	}
	return s.reply()
}

// expect sends a command and fails the test, showing the log, unless the
// reply starts with want.
func (s *session) expect(want, format string, args ...any) string {
	s.t.Helper()
	got := s.cmd(format, args...)
	if !strings.HasPrefix(got, want) {
		s.t.Fatalf("%s = %q, want %s...\nmaillog:\n%s", fmt.Sprintf(format, args...), got, want, s.pf.Log())
	}
	return got
}

// message sends MAIL, RCPT for each recipient (each must be accepted) and
// DATA, and returns the queue id from the final reply.
func (s *session) message(from string, to []string, subject string) string {
	s.t.Helper()
	s.expect("250 ", "MAIL FROM:<%s>", from)
	for _, r := range to {
		s.expect("250 ", "RCPT TO:<%s>", r)
	}
	s.expect("354 ", "DATA")
	got := s.expect("250 ", "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nbody\r\n.", from, to[0], subject)
	_, id, _ := strings.Cut(got, "queued as ")
	return id
}

func TestSwaksDelivers(t *testing.T) {
	t.Parallel()
	swaks := needSwaks(t)
	pf := postfix.Start(t)
	out, err := exec.Command(swaks, "--server", pf.Addr(), "--from", "carol@remote.example",
		"--to", "user@example.test", "--header", "Subject: via swaks").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nmaillog:\n%s", err, out, pf.Log())
	}
	msgs := pf.WaitDelivered(t, "user", 1)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: via swaks") || !strings.Contains(msgs[0], "Delivered-To: user@example.test") {
		t.Errorf("Delivered(user) = %q, want one message with Subject: via swaks", msgs)
	}
	if got := pf.Delivered(t, "user@example.test"); len(got) != 1 {
		t.Errorf("Delivered(user@example.test) = %d messages, want 1", len(got))
	}
	if got := pf.Delivered(t, "nobody"); len(got) != 0 {
		t.Errorf("Delivered(nobody) = %q, want none", got)
	}
}

// needSwaks returns the path of swaks or skips the test (fails under CI).
// testenv.Need would do, but its table does not know swaks' Debian package.
func needSwaks(t *testing.T) string {
	t.Helper()
	p, err := testenv.LookPath("swaks")
	if err != nil {
		if testenv.InCI() {
			t.Fatal("testenv: swaks not installed (apt-get install swaks); failing instead of skipping because CI is set")
		}
		t.Skip("testenv: swaks not installed (apt-get install swaks)")
	}
	return p
}

// TestRelayPolicy runs the relay checks an MMP relay depends on against one
// instance that lets 127.0.0.1 (the proxy) send XCLIENT.
func TestRelayPolicy(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t,
		postfix.WithXCLIENTHosts("127.0.0.1"),
		postfix.WithUser("alice", "alicepw"))

	t.Run("untrusted client may not relay", func(t *testing.T) {
		s := dial(t, pf, "")
		s.expect("250", "EHLO proxy.test")
		s.expect("250 ", "MAIL FROM:<x@remote.example>")
		s.expect("554 5.7.1 <someone@remote.example>: Relay access denied", "RCPT TO:<someone@remote.example>")
		// Local mail is still accepted.
		s.expect("250 ", "RCPT TO:<bob@example.test>")
		s.expect("221 ", "QUIT")
		pf.WaitLog(t, "reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <someone@remote.example>: Relay access denied")
	})

	t.Run("XCLIENT names the real client", func(t *testing.T) {
		s := dial(t, pf, "")
		if ehlo := s.expect("250", "EHLO proxy.test"); !strings.Contains(ehlo, "XCLIENT") {
			t.Errorf("EHLO reply to an authorized host lacks XCLIENT:\n%s", ehlo)
		}
		s.expect("220 "+postfix.Banner, "XCLIENT ADDR=203.0.113.9 NAME=client.example LOGIN=alice")
		s.expect("250", "EHLO realclient.example")
		id := s.message("alice@example.test", []string{"bob@example.test", "someone@remote.example"}, "announced")
		s.expect("221 ", "QUIT")
		line := pf.WaitLog(t, id+": client=client.example[203.0.113.9]")
		if !strings.Contains(line, "sasl_method=XCLIENT, sasl_username=alice") {
			t.Errorf("log line = %q, want sasl_method=XCLIENT, sasl_username=alice", line)
		}
		msgs := pf.WaitDelivered(t, "bob", 1)
		if !strings.Contains(msgs[0], "Received: from realclient.example (client.example [203.0.113.9])") {
			t.Errorf("delivered message does not name the announced client:\n%s", msgs[0])
		}
		// The remote recipient was accepted because XCLIENT LOGIN counts as
		// authenticated (SASL is enabled): it waits in the queue.
		if q := strings.Join(pf.Queue(t), "\n"); !strings.Contains(q, id+" ") || !strings.Contains(q, "to=<someone@remote.example>") {
			t.Errorf("Queue() = %q, want %s with to=<someone@remote.example>", q, id)
		}
		if m := pf.QueuedMessage(t, id); !strings.Contains(m, "Subject: announced") {
			t.Errorf("QueuedMessage(%s) = %q, want Subject: announced", id, m)
		}
	})

	t.Run("XCLIENT from another address is refused", func(t *testing.T) {
		testenv.NeedLoopback(t, "127.0.0.3")
		s := dial(t, pf, "127.0.0.3")
		if ehlo := s.expect("250", "EHLO intruder.test"); strings.Contains(ehlo, "XCLIENT") {
			t.Errorf("EHLO reply to an unauthorized host offers XCLIENT:\n%s", ehlo)
		}
		s.expect("550 5.7.0 Error: insufficient authorization", "XCLIENT ADDR=203.0.113.9 LOGIN=alice")
		s.expect("250 ", "MAIL FROM:<alice@example.test>")
		s.expect("554 5.7.1", "RCPT TO:<someone@remote.example>")
	})

	t.Run("SMTP AUTH", func(t *testing.T) {
		s := dial(t, pf, "")
		if ehlo := s.expect("250", "EHLO client.test"); !strings.Contains(ehlo, "250-AUTH PLAIN LOGIN") {
			t.Errorf("EHLO reply lacks AUTH PLAIN LOGIN:\n%s", ehlo)
		}
		s.expect("535 5.7.8", "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong")))
		s.expect("334 ", "AUTH LOGIN")
		s.expect("334 ", "%s", base64.StdEncoding.EncodeToString([]byte("alice")))
		s.expect("235 2.7.0", "%s", base64.StdEncoding.EncodeToString([]byte("alicepw")))
		id := s.message("alice@example.test", []string{"someone@remote.example"}, "authenticated")
		pf.WaitLog(t, id+": client=unknown[127.0.0.1], sasl_method=LOGIN, sasl_username=alice")
		pf.WaitLog(t, "SASL PLAIN authentication failed")
	})
}

// TestXCLIENTLoginNeedsSASL is the measurement behind the package doc: with
// SMTP AUTH off, XCLIENT LOGIN is logged but permit_sasl_authenticated does
// not match.
func TestXCLIENTLoginNeedsSASL(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.WithoutSASL(), postfix.WithXCLIENTHosts("127.0.0.1"))
	s := dial(t, pf, "")
	if ehlo := s.expect("250", "EHLO proxy.test"); strings.Contains(ehlo, "AUTH") {
		t.Errorf("EHLO reply with WithoutSASL offers AUTH:\n%s", ehlo)
	}
	s.expect("220 ", "XCLIENT ADDR=203.0.113.9 NAME=client.example LOGIN=alice")
	s.expect("250", "EHLO realclient.example")
	s.expect("250 ", "MAIL FROM:<alice@example.test>")
	s.expect("554 5.7.1 <someone@remote.example>: Relay access denied", "RCPT TO:<someone@remote.example>")
	s.expect("250 ", "RSET")
	id := s.message("alice@example.test", []string{"bob@example.test"}, "local only")
	s.expect("221 ", "QUIT")
	pf.WaitLog(t, id+": client=client.example[203.0.113.9], sasl_method=XCLIENT, sasl_username=alice")
}

func TestMynetworks(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.WithMynetworks("127.0.0.1/32"), postfix.WithDomain("one.test", "two.test"))
	s := dial(t, pf, "")
	s.expect("250", "EHLO trusted.test")
	id := s.message("x@one.test", []string{"far@remote.example", "a@two.test", "b@one.test"}, "trusted")
	s.expect("221 ", "QUIT")
	if got := pf.WaitDelivered(t, "b", 1); len(got) != 1 {
		t.Errorf("Delivered(b) = %d messages, want 1", len(got))
	}
	pf.WaitDelivered(t, "a@two.test", 1)
	q := pf.Queue(t)
	if len(q) != 1 || !strings.HasPrefix(q[0], id+" ") || !strings.HasSuffix(q[0], "from=<x@one.test> to=<far@remote.example>") {
		t.Errorf("Queue() = %q, want only %s for far@remote.example", q, id)
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t)
	s := dial(t, pf, "")
	s.expect("250", "EHLO a.test")
	id := s.message("a@example.test", []string{"dora@example.test"}, "before")
	s.expect("221 ", "QUIT")
	pf.WaitDelivered(t, "dora", 1)
	// Postfix delivers at least once: stopped after the maildir file was
	// written but before the queue manager removed the message, it
	// delivers the message again after the restart.
	pf.WaitLog(t, id+": removed")

	pf.Stop()
	if pf.Running() {
		t.Fatal("Running() after Stop = true")
	}
	if c, err := net.DialTimeout("tcp", pf.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("Dial(%s) after Stop succeeded", pf.Addr())
	}
	pf.Restart(t)
	s = dial(t, pf, "")
	s.expect("250", "EHLO a.test")
	s.message("a@example.test", []string{"dora@example.test"}, "after")
	s.expect("221 ", "QUIT")
	if msgs := pf.WaitDelivered(t, "dora", 2); !strings.Contains(msgs[1], "Subject: after") {
		t.Errorf("second message = %q, want Subject: after", msgs[1])
	}
}

// TestDovecotSASL points Postfix at a real Dovecot auth server: the set-up
// for a relay whose users live in the message store's passdb.
func TestDovecotSASL(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	dovecot.Start(t,
		dovecot.WithUser("alice", "alicepw"),
		dovecot.WithConfig(fmt.Sprintf("service auth {\n  inet_listener sasl {\n    address = 127.0.0.1\n    port = %d\n  }\n}", port)))
	pf := postfix.Start(t, postfix.WithDovecotSASL(fmt.Sprintf("inet:127.0.0.1:%d", port)))
	s := dial(t, pf, "")
	s.expect("250", "EHLO client.test")
	s.expect("535 5.7.8", "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong")))
	s.expect("235 2.7.0", "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepw")))
	s.expect("250 ", "MAIL FROM:<alice@example.test>")
	s.expect("250 ", "RCPT TO:<someone@remote.example>")
}
