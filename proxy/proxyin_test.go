package proxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// PROXY protocol from a trusted load balancer (127.0.0.1 here): the
// client it names is the client for the directory query (%C) and for
// ConnLimits; a source outside ProxyProtocolTrusted is refused, header
// or not; a trusted one without a header, or with a malformed one, is
// closed.
func TestProxyProtocolIn(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.2")
	old := proxy.ProxyHeaderTimeout
	proxy.ProxyHeaderTimeout = 300 * time.Millisecond
	t.Cleanup(func() { proxy.ProxyHeaderTimeout = old })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	dir := &proxytest.Directory{}
	dir.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{"127.0.0.1"}})
	svc := proxytest.Service(t, map[string]string{
		"ProxyProtocolPorts":   itoa(port),
		"ProxyProtocolTrusted": "127.0.0.1",
		"ConnLimits":           "127.0.0.5|255.255.255.255:1",
		"BGExcluded":           "0.0.0.0/0",
	}, "")
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: protocols[0].new(), Directory: dir})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	open := func(from, header string) (*bufio.Reader, net.Conn) {
		t.Helper()
		c := proxytest.Dial(t, addr, from)
		if header != "" {
			io.WriteString(c.Conn, header)
		}
		c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		return c.R, c.Conn
	}
	first := func(r *bufio.Reader) string {
		l, _ := r.ReadString('\n')
		return strings.TrimSpace(l)
	}

	// v1 from the trusted balancer: served, and the directory sees the client.
	r, c := open("127.0.0.1", "PROXY TCP4 127.0.0.5 127.0.0.1 40000 143\r\n")
	if g := first(r); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting behind PROXY v1: %q", g)
	}
	io.WriteString(c, "a LOGIN alice pw\r\n")
	first(r)
	if q := dir.LastQuery(); q.Client.String() != "127.0.0.5" {
		t.Errorf("directory query client %s, want 127.0.0.5", q.Client)
	}
	// The same client again, through the same balancer: over its limit
	// of one, while another client is served.
	r2, _ := open("127.0.0.1", "PROXY TCP4 127.0.0.5 127.0.0.1 40001 143\r\n")
	if g := first(r2); !strings.HasPrefix(g, "* BYE") {
		t.Errorf("second connection of 127.0.0.5: %q, want BYE (ConnLimits counts the client, not the balancer)", g)
	}
	v2 := string([]byte{0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
		127, 0, 0, 6, 127, 0, 0, 1, 0x9c, 0x41, 0x00, 143})
	if g := first(func() *bufio.Reader { r, _ := open("127.0.0.1", v2); return r }()); !strings.HasPrefix(g, "* OK") {
		t.Errorf("greeting behind PROXY v2: %q", g)
	}
	// Refused: an untrusted source (with or without a header), a trusted
	// one without a header, a malformed header.
	for _, tc := range []struct{ from, header string }{
		{"127.0.0.2", "PROXY TCP4 127.0.0.7 127.0.0.1 40000 143\r\n"},
		{"127.0.0.2", ""},
		{"127.0.0.1", ""},
		{"127.0.0.1", "PROXY TCP4 not-an-address\r\n"},
	} {
		r, _ := open(tc.from, tc.header)
		// Closed at once: end of stream, or a reset when the header is
		// left unread.
		if b, err := io.ReadAll(r); len(b) != 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("from %s with %q: read %q, %v; want the connection closed", tc.from, tc.header, b, err)
		}
	}
}
