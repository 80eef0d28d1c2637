package xpehlo_test

import (
	"encoding/base64"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/xpehlo"
)

// smtp sends a command and returns the whole reply, lines joined with "\n".
func smtp(c *testenv.Conn, format string, args ...any) string {
	c.Send(format, args...)
	return reply(c)
}

func reply(c *testenv.Conn) string {
	var lines []string
	for {
		l := c.ReadLine()
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

func dial(t *testing.T, r *xpehlo.Relay) *testenv.Conn {
	t.Helper()
	c := testenv.Dial(t, r.Addr())
	if g := c.ReadLine(); g != xpehlo.Greeting {
		t.Fatalf("greeting = %q, want %q", g, xpehlo.Greeting)
	}
	return c
}

// wantTranscript is the golden dialogue of TestTranscript: what a proxy
// test can compare a whole session against.
const wantTranscript = `-- connection 1
S: 220 fake.relay ESMTP
C: XPEHLO client.example PASSWORD=proxypw ADDR=203.0.113.9 PORT=40123 NAME=client+2Bname.example
S: 250-fake.relay Hello client.example [203.0.113.9]
S: 250-VRFY
S: 250-DSN
S: 250-CHUNKING
S: 250-SMTPUTF8
S: 250-8BITMIME
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-STARTTLS
S: 250-AUTH PLAIN LOGIN
S: 250-ENHANCEDSTATUSCODES
S: 250-EXPN
S: 250-ETRN
S: 250-XADR
S: 250-XSTA
S: 250-XCIR
S: 250-XGEN
S: 250-XLOOP 5A1B7C9D
S: 250-NO-SOLICITING
S: 250 HELP
C: AUTH PLAIN AGFsaWNlAHdyb25n
S: 535 5.7.8 Error: authentication failed
C: AUTH PLAIN AGFsaWNlAGFsaWNlcHc=
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<alice@example.test>
S: 250 2.1.0 Ok
C: RCPT TO:<bob@remote.example>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: hi
C: 
C: ..leading dot
C: .
S: 250 2.0.0 Ok: queued as FAKE1
C: STARTTLS
S: 454 4.7.0 TLS not available
C: QUIT
S: 221 2.0.0 Bye
`

func TestTranscript(t *testing.T) {
	t.Parallel()
	r := xpehlo.Start(t, xpehlo.WithPassword("proxypw"), xpehlo.WithUser("alice", "alicepw"))
	c := dial(t, r)
	if got := smtp(c, "XPEHLO client.example PASSWORD=proxypw ADDR=203.0.113.9 PORT=40123 NAME=client+2Bname.example"); !strings.HasSuffix(got, "\n250 HELP") {
		t.Fatalf("XPEHLO = %q, want a 250 list ending in 250 HELP", got)
	}
	plain := func(user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	}
	smtp(c, "AUTH PLAIN %s", plain("alice", "wrong"))
	smtp(c, "AUTH PLAIN %s", plain("alice", "alicepw"))
	smtp(c, "MAIL FROM:<alice@example.test>")
	smtp(c, "RCPT TO:<bob@remote.example>")
	smtp(c, "DATA")
	smtp(c, "Subject: hi\r\n\r\n..leading dot\r\n.")
	smtp(c, "STARTTLS")
	smtp(c, "QUIT")

	if got := r.Transcript(); got != wantTranscript {
		t.Errorf("Transcript() =\n%s\nwant\n%s", got, wantTranscript)
	}
	if got, want := r.Messages(), []string{"Subject: hi\r\n\r\n.leading dot\r\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Messages() = %q, want %q", got, want)
	}
	a := r.Announcements()
	want := map[string]string{"PASSWORD": "proxypw", "ADDR": "203.0.113.9", "PORT": "40123", "NAME": "client+name.example"}
	if len(a) != 1 || a[0].Command != "XPEHLO" || a[0].Helo != "client.example" || !reflect.DeepEqual(a[0].Params, want) {
		t.Errorf("Announcements() = %+v, want one XPEHLO client.example with %v", a, want)
	}
	if lines := r.Lines(); len(lines) != 12 || lines[0] != "XPEHLO client.example PASSWORD=proxypw ADDR=203.0.113.9 PORT=40123 NAME=client+2Bname.example" || lines[len(lines)-1] != "QUIT" {
		t.Errorf("Lines() = %q, want 12 lines from XPEHLO to QUIT", lines)
	}
	if n := r.Connections(); n != 1 {
		t.Errorf("Connections() = %d, want 1", n)
	}
}

func TestXPEHLORefusals(t *testing.T) {
	t.Parallel()
	r := xpehlo.Start(t, xpehlo.WithPassword("proxypw"))
	for _, tc := range []struct{ cmd, want string }{
		{"XPEHLO client.example PASSWORD=wrong ADDR=203.0.113.9 PORT=1", "535 5.7.8"},
		{"XPEHLO client.example ADDR=203.0.113.9 PORT=1", "535 5.7.8"},
		{"XPEHLO PASSWORD=proxypw ADDR=203.0.113.9 PORT=1", "501 5.5.4 XPEHLO: missing HELO argument"},
		{"XPEHLO client.example PASSWORD=proxypw PORT=1", "501 5.5.4 XPEHLO: ADDR"},
		{"XPEHLO client.example PASSWORD=proxypw ADDR=203.0.113.9", "501 5.5.4 XPEHLO: PORT"},
		{"XPEHLO client.example PASSWORD=proxypw ADDR=203.0.113.9 PORT=1 PORT=2", "501 5.5.4 XPEHLO: PORT given twice"},
		{"XPEHLO client.example PASSWORD=proxypw ADDR=203.0.113.9 PORT=1 NAME=a+2", "501 5.5.4 XPEHLO: NAME"},
		{"XPEHLO client.example PASSWORD=proxypw ADDR=203.0.113.9 PORT=1 NAME=a+2b", "501 5.5.4 XPEHLO: NAME"},
	} {
		c := dial(t, r)
		if got := smtp(c, "%s", tc.cmd); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s = %q, want %s...", tc.cmd, got, tc.want)
		}
		// A refused XPEHLO leaves the session without a HELO.
		if got := smtp(c, "MAIL FROM:<a@b>"); !strings.HasPrefix(got, "503 ") {
			t.Errorf("MAIL after refused %s = %q, want 503", tc.cmd, got)
		}
		c.Close()
	}
	if a := r.Announcements(); len(a) != 0 {
		t.Errorf("Announcements() after refusals = %+v, want none", a)
	}

	plain := xpehlo.Start(t, xpehlo.WithoutXPEHLO())
	c := dial(t, plain)
	if got := smtp(c, "XPEHLO client.example ADDR=203.0.113.9 PORT=1"); !strings.HasPrefix(got, "500 ") {
		t.Errorf("XPEHLO to WithoutXPEHLO = %q, want 500", got)
	}
	if got := smtp(c, "EHLO proxy.example"); !strings.HasPrefix(got, "250-fake.relay Hello proxy.example [127.0.0.1]") {
		t.Errorf("EHLO = %q, want the 250 list naming 127.0.0.1", got)
	}
}

func TestAuthLoginAndKeywords(t *testing.T) {
	t.Parallel()
	r := xpehlo.Start(t, xpehlo.WithUser("bob", "bobpw"), xpehlo.WithKeywords("8BITMIME", "AUTH LOGIN"))
	c := dial(t, r)
	if got, want := smtp(c, "EHLO x"), "250-fake.relay Hello x [127.0.0.1]\n250-8BITMIME\n250 AUTH LOGIN"; got != want {
		t.Errorf("EHLO with WithKeywords = %q, want %q", got, want)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	if got := smtp(c, "AUTH LOGIN"); got != "334 "+b64("Username:") {
		t.Fatalf("AUTH LOGIN = %q", got)
	}
	if got := smtp(c, "%s", b64("bob")); got != "334 "+b64("Password:") {
		t.Fatalf("AUTH LOGIN user = %q", got)
	}
	if got := smtp(c, "%s", b64("bobpw")); !strings.HasPrefix(got, "235 ") {
		t.Errorf("AUTH LOGIN password = %q, want 235", got)
	}
	if got := smtp(c, "AUTH PLAIN"); !strings.HasPrefix(got, "503 ") {
		t.Errorf("second AUTH = %q, want 503", got)
	}
	if got := smtp(c, "RCPT TO:<x@y>"); !strings.HasPrefix(got, "503 ") {
		t.Errorf("RCPT before MAIL = %q, want 503", got)
	}
	if got := smtp(c, "BDAT 10 LAST"); !strings.HasPrefix(got, "502 ") {
		t.Errorf("BDAT = %q, want 502", got)
	}
	c.Send("NOOP\n") // "NOOP\n\r\n": a line ending in a bare LF, then an empty one
	if got := reply(c); !strings.HasPrefix(got, "500 5.5.2 Error: bare <LF>") {
		t.Errorf("bare LF line = %q, want 500 bare <LF>", got)
	}
	reply(c) // the empty line: command not recognized
	smtp(c, "QUIT")
	r.WaitLine(t, "QUIT")
}

func TestCloseRestartAndDelay(t *testing.T) {
	t.Parallel()
	r := xpehlo.Start(t, xpehlo.WithGreetingDelay(time.Hour))
	nc, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := nc.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read before the delayed greeting = %d bytes, %v; want a timeout", n, err)
	}

	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close() with a delayed greeting pending did not return")
	}
	if c, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("Dial(%s) after Close succeeded", r.Addr())
	}

	r.SetGreetingDelay(0)
	r.Restart(t)
	c := dial(t, r)
	smtp(c, "QUIT")
	if n := r.Connections(); n != 2 {
		t.Errorf("Connections() = %d, want 2", n)
	}
}
