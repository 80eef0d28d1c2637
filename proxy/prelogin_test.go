package proxy_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// imapServer runs the real IMAP front end with settings (no directory,
// no store: these clients never log in).
func imapServer(t *testing.T, settings map[string]string) (*proxy.Server, string) {
	t.Helper()
	svc := proxytest.Service(t, settings, "")
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: imapproxy.New(imapproxy.Options{Host: "mmp"})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

// A client that keeps talking but never logs in is told goodbye once
// LoginGraceTime has passed since it connected, although each command
// renews its idle Timeout.
func TestLoginGraceTimeBusyClient(t *testing.T) {
	_, addr := imapServer(t, map[string]string{"LoginGraceTime": "1", "Timeout": "1800"})
	cl := proxytest.Dial(t, addr, "")
	cl.ExpectPrefix("* OK")
	start := time.Now()
	var last string
	for i := 0; time.Since(start) < 8*time.Second; i++ {
		cl.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(cl.Conn, "a NOOP\r\n"); err != nil {
			break // closed
		}
		cl.Conn.SetReadDeadline(time.Now().Add(time.Second))
		l, err := cl.R.ReadString('\n')
		if err != nil {
			break
		}
		last = strings.TrimSpace(l)
		if strings.HasPrefix(last, "* BYE") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	if !strings.HasPrefix(last, "* BYE") || took > 5*time.Second {
		t.Fatalf("after %v the last line was %q; want * BYE after about 1 s", took.Round(time.Millisecond), last)
	}
	cl.Closed()
}

// A client that makes the MMP's replies pile up without reading them
// blocks the session in a write, where no read deadline reaches it; it
// too is disconnected once LoginGraceTime is over.
func TestLoginGraceTimeStuckWriter(t *testing.T) {
	srv, addr := imapServer(t, map[string]string{"LoginGraceTime": "1", "Timeout": "1800"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	// Commands until the socket buffers are full both ways; the MMP is
	// then stuck writing replies nobody reads.
	go func() {
		cmds := []byte(strings.Repeat("a CAPABILITY\r\n", 4096))
		for {
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(cmds); err != nil {
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	if n := srv.Sessions(); n != 1 {
		t.Fatalf("%d sessions before LoginGraceTime, want 1", n)
	}
	if !proxytest.Settle(10*time.Second, func() bool { return srv.Sessions() == 0 }) {
		t.Fatalf("the session is still open 10 s after LoginGraceTime")
	}
}

// LoginGraceTime ends at the login: a logged-in session lives on.
func TestLoginGraceTimeSparesSessions(t *testing.T) {
	srv, addr := startServer(t, &linkProto{store: echoStore(t)}, map[string]string{"LoginGraceTime": "1"})
	cl := proxytest.Dial(t, addr, "")
	cl.Send("hello\r\n")
	cl.Expect("hello")
	time.Sleep(3 * time.Second)
	cl.Do("still there", "still there")
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}
