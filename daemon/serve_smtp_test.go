package daemon

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/xpehlo"
	"github.com/openmmp/mmp/proxy"
)

// smtpSession greets, sends EHLO and returns the client, for tests that
// only need the relay to have been introduced to.
func smtpSession(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	reply := func() string {
		t.Helper()
		var all []string
		for {
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (after %q)", err, all)
			}
			all = append(all, strings.TrimSuffix(l, "\r\n"))
			if len(l) < 4 || l[3] != '-' {
				return strings.Join(all, "\n")
			}
		}
	}
	if g := reply(); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting %q", g)
	}
	fmt.Fprintf(c, "EHLO client.example\r\n")
	if got := reply(); !strings.HasPrefix(got, "250") {
		t.Fatalf("EHLO: %q", got)
	}
	return c, r
}

// loadSMTPService loads an instance directory with one SMTP service.
func loadSMTPService(t *testing.T, cfg string) *config.Service {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "AService.cfg"), []byte("default:ServiceList SmtpProxyAService@2525\ndefault:LogDir "+dir+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "SmtpProxyAService.cfg"), []byte(cfg), 0o600)
	inst, problems := config.Load(dir, config.Options{})
	if problems.Fatal() {
		t.Fatalf("configuration: %v", problems)
	}
	return inst.Services[0]
}

// fakeXQUERYAUTH answers XQUERYAUTH for one address as a PopProxy in
// another process would (docs/reference.md §4.3.2).
func fakeXQUERYAUTH(t *testing.T, ip, user string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				fmt.Fprintf(c, "+OK POP3 ready\r\n")
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch f := strings.Fields(l); {
					case len(f) == 2 && f[0] == "XQUERYAUTH" && f[1] == ip:
						fmt.Fprintf(c, "+OK %s\r\n", user)
					case len(f) > 0 && f[0] == "QUIT":
						fmt.Fprintf(c, "+OK bye\r\n")
						return
					default:
						fmt.Fprintf(c, "-ERR no\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSMTPProtocolPopBeforeSMTP checks where smtpProtocol sends the
// POP-before-SMTP question: to the in-process cache, or with XQUERYAUTH
// to PopBeforeSmtpServer when that is set, which wins.
func TestSMTPProtocolPopBeforeSMTP(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword("pw"))
	base := fmt.Sprintf("default:SmtpRelays %s\ndefault:SmtpProxyPassword pw\ndefault:PopBeforeSmtpKludgeChannel tcp_intranet\n", relay.Addr())
	inProcess := authsvc.New(authsvc.Options{TTL: time.Minute})
	inProcess.Record(netip.MustParseAddr("127.0.0.1"), "bob")
	empty := authsvc.New(authsvc.Options{TTL: time.Minute})
	for i, tc := range []struct {
		name    string
		cfg     string
		cache   *authsvc.Cache
		channel bool
	}{
		{"in-process cache", base, inProcess, true},
		{"no POP service", base, nil, false},
		{"PopBeforeSmtpServer wins", base + "default:PopBeforeSmtpServer " + fakeXQUERYAUTH(t, "127.0.0.1", "carol") + "\n", empty, true},
		{"PopBeforeSmtpServer says no", base + "default:PopBeforeSmtpServer " + fakeXQUERYAUTH(t, "192.0.2.1", "carol") + "\n", inProcess, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := loadSMTPService(t, tc.cfg)
			srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: smtpProtocol(svc, tc.cache)})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			smtpSession(t, ln.Addr().String())
			a := relay.Announcements()
			if len(a) != i+1 {
				t.Fatalf("%d announcements, want %d", len(a), i+1)
			}
			if _, got := a[i].Params["CHANNEL"]; got != tc.channel {
				t.Fatalf("XPEHLO parameters %v: CHANNEL present %v, want %v", a[i].Params, got, tc.channel)
			}
		})
	}
}

// TestSmtpProxyCommandLine runs the Netscape-style front end end to end:
// `SmtpProxy -p 127.0.0.1:PORT --SmtpRelays ... --SmtpProxyPassword ...`,
// a message through it to the recording relay, then SIGTERM.
func TestSmtpProxyCommandLine(t *testing.T) {
	relay := xpehlo.Start(t, xpehlo.WithPassword("relay pw"))
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	args := []string{"-p", addr, "-o", t.TempDir(), "--SmtpRelays", relay.Addr(), "--SmtpProxyPassword", "relay pw"}
	startDaemon(t, "SmtpProxy", args, addr)

	c, r := smtpSession(t, addr)
	for _, line := range []string{"MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA"} {
		fmt.Fprintf(c, "%s\r\n", line)
		if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "250") && !strings.HasPrefix(l, "354") {
			t.Fatalf("%s: %q", line, l)
		}
	}
	fmt.Fprintf(c, "Subject: through SmtpProxy\r\n\r\nHello.\r\n.\r\nQUIT\r\n")
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "250 ") {
		t.Fatalf("end of data: %q", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(relay.Messages()) == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if msgs := relay.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: through SmtpProxy") {
		t.Fatalf("relay messages %q", msgs)
	}
	// The client's introduction, besides the start-up probe's (EHLO and
	// XPEHLO for the documentation address 192.0.2.1).
	var client []xpehlo.Announcement
	for _, a := range relay.Announcements() {
		if a.Params["ADDR"] == "127.0.0.1" {
			client = append(client, a)
		}
	}
	if len(client) != 1 || client[0].Command != "XPEHLO" || client[0].Params["PASSWORD"] != "relay pw" {
		t.Fatalf("announcements %+v", relay.Announcements())
	}
}
