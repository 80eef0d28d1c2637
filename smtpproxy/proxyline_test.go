package smtpproxy_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// headerRelay is a relay that expects a HAProxy PROXY v1 header before it
// greets, as Postfix does with smtpd_upstream_proxy_protocol = haproxy,
// and records the header and the commands after it.
type headerRelay struct {
	ln    net.Listener
	lines chan string
}

func startHeaderRelay(t *testing.T) *headerRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &headerRelay{ln: ln, lines: make(chan string, 100)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *headerRelay) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	header, err := br.ReadString('\n')
	if err != nil {
		return
	}
	r.lines <- strings.TrimSuffix(header, "\r\n")
	if !strings.HasPrefix(header, "PROXY ") {
		fmt.Fprintf(c, "421 4.3.0 no PROXY header\r\n")
		return
	}
	fmt.Fprintf(c, "220 header.relay ESMTP\r\n")
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimSuffix(l, "\r\n")
		r.lines <- l
		switch verb, _, _ := strings.Cut(l, " "); strings.ToUpper(verb) {
		case "EHLO":
			fmt.Fprintf(c, "250-header.relay\r\n250-PIPELINING\r\n250-VRFY\r\n250 8BITMIME\r\n")
		case "QUIT":
			fmt.Fprintf(c, "221 2.0.0 Bye\r\n")
			return
		default:
			fmt.Fprintf(c, "250 2.0.0 Ok\r\n")
		}
	}
}

func (r *headerRelay) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-r.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("the relay received nothing")
		return ""
	}
}

func TestProxyProtocolHeader(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.10")
	relay := startHeaderRelay(t)
	h := start(t, setup{settings: map[string]string{"SmtpRelays": relay.ln.Addr().String(), "SmtpRelayAnnounce": "proxy"}})
	cl := h.dial("127.0.0.10")
	cl.reply()
	cl.Send("EHLO client.example\r\n")
	cl.expect("250-" + testHost + "\n250-PIPELINING\n250 8BITMIME")
	_, serverPort, _ := net.SplitHostPort(h.addr)
	want := fmt.Sprintf("PROXY TCP4 127.0.0.10 127.0.0.1 %d %s", cl.localPort(), serverPort)
	if got := relay.next(t); got != want {
		t.Fatalf("header %q, want %q", got, want)
	}
	if got := relay.next(t); got != "EHLO client.example" {
		t.Fatalf("after the header: %q, want the client's EHLO", got)
	}
	cl.expectCmd("MAIL FROM:<a@example.test>", "250 ")
	if got := relay.next(t); got != "MAIL FROM:<a@example.test>" {
		t.Fatalf("piped %q", got)
	}
}
