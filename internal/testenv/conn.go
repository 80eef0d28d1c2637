package testenv

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Conn is a raw CRLF line client for IMAP, POP3 and SMTP dialogues in tests.
// It deliberately knows almost nothing about the protocols, so that a test
// shows the exact bytes exchanged. Every method fails the test on an I/O
// error, and every read has a deadline so that a silent peer fails the test
// instead of hanging it.
type Conn struct {
	net.Conn
	R *bufio.Reader
	t testing.TB

	// Timeout bounds each read and write; Dial sets 10 s.
	Timeout time.Duration
}

// Dial connects to addr. The connection is closed by t.Cleanup if the test
// does not close it.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("testenv: Dial(%s): %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &Conn{Conn: c, R: bufio.NewReader(c), t: t, Timeout: 10 * time.Second}
}

// ReadLine reads one line and returns it without the trailing CRLF.
func (c *Conn) ReadLine() string {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(c.Timeout))
	line, err := c.R.ReadString('\n')
	if err != nil {
		c.t.Fatalf("testenv: read from %s: %v (partial %q)", c.RemoteAddr(), err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

// Send writes fmt.Sprintf(format, args...) followed by CRLF.
func (c *Conn) Send(format string, args ...any) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(c.Timeout))
	if _, err := fmt.Fprintf(c.Conn, format+"\r\n", args...); err != nil {
		c.t.Fatalf("testenv: write to %s: %v", c.RemoteAddr(), err)
	}
}

// IMAP sends "tag command" and reads until the tagged reply, which it
// returns with the untagged lines before it. Literals in responses are read
// as ordinary lines, which is enough for FETCH of a header field.
func (c *Conn) IMAP(tag, command string) (untagged []string, tagged string) {
	c.t.Helper()
	c.Send("%s %s", tag, command)
	for {
		line := c.ReadLine()
		if strings.HasPrefix(line, tag+" ") {
			return untagged, line
		}
		untagged = append(untagged, line)
	}
}

// POP3 sends a command and returns the first line of the reply.
func (c *Conn) POP3(command string) string {
	c.t.Helper()
	c.Send("%s", command)
	return c.ReadLine()
}
