package smtpproxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/smtpproxy"
	"github.com/openmmp/mmp/tlsconf"
)

// testHost is the MMP's host name in every test.
const testHost = "mmp.example.test"

// smtpService loads a Sun 6.x style configuration with one SMTP service
// whose SmtpProxyAService.cfg has the given "Name value" settings. The
// listening address in ServiceList is a dummy: tests serve their own
// listeners.
func smtpService(t testing.TB, settings map[string]string) *config.Service {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("AService.cfg", "default:ServiceList SmtpProxyAService@2525\ndefault:LogDir "+filepath.Join(dir, "log")+"\n")
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := settings[k]
		if v == "" || strings.ContainsAny(v, " \t") {
			v = `"` + v + `"`
		}
		fmt.Fprintf(&b, "default:%s %s\n", k, v)
	}
	write("SmtpProxyAService.cfg", b.String())
	inst, problems := config.Load(dir, config.Options{})
	if problems.Fatal() {
		t.Fatalf("configuration: %v", problems)
	}
	if len(inst.Services) != 1 {
		t.Fatalf("%d services", len(inst.Services))
	}
	return inst.Services[0]
}

// dialLog counts the proxy's connection attempts to each relay address.
type dialLog struct {
	mu    sync.Mutex
	count map[string]int
}

func (d *dialLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.count[addr]++
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *dialLog) attempts(addr string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.count[addr]
}

// harness is a proxy server with the SMTP protocol.
type harness struct {
	t     testing.TB
	srv   *proxy.Server
	addr  string
	dials *dialLog
}

type setup struct {
	settings map[string]string // SmtpProxyAService.cfg
	opts     smtpproxy.Options // Host and Dial are filled in
	router   account.Directory
	listen   string          // default 127.0.0.1:0
	log      *logging.Logger // nil: no log
}

func start(t testing.TB, su setup) *harness {
	t.Helper()
	h := &harness{t: t, dials: &dialLog{count: map[string]int{}}}
	su.opts.Host = testHost
	su.opts.Dial = h.dials.dial
	svc := smtpService(t, su.settings)
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = proxy.NewServer(proxy.Options{
		Service:   svc,
		Protocol:  smtpproxy.New(su.opts),
		Directory: su.router,
		Log:       su.log,
		TLS:       tc,
	})
	if su.listen == "" {
		su.listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", su.listen)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", su.listen, err)
	}
	h.addr = ln.Addr().String()
	go h.srv.Serve(ln)
	t.Cleanup(func() { h.srv.Close() })
	return h
}

// client is a raw SMTP client under test.
type client struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

// dial connects to the proxy from the local address from ("" for any).
func (h *harness) dial(from string) *client {
	h.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return &client{t: h.t, c: c, r: bufio.NewReader(c)}
}

// greeted dials from 127.0.0.1 and checks the greeting.
func (h *harness) greeted() *client {
	h.t.Helper()
	cl := h.dial("")
	cl.expect("220 " + testHost + " ESMTP service (Messaging Multiplexor openmmp 0.1)")
	return cl
}

func (cl *client) send(s string) {
	cl.t.Helper()
	cl.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(cl.c, s); err != nil {
		cl.t.Fatalf("send %q: %v", s, err)
	}
}

// reply reads a possibly multi-line reply, lines joined with "\n".
func (cl *client) reply() string {
	cl.t.Helper()
	var lines []string
	for {
		cl.c.SetReadDeadline(time.Now().Add(15 * time.Second))
		l, err := cl.r.ReadString('\n')
		if err != nil {
			cl.t.Fatalf("read: %v (after %q, partial %q)", err, lines, l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// cmd sends a command line and returns the reply.
func (cl *client) cmd(line string) string {
	cl.t.Helper()
	cl.send(line + "\r\n")
	return cl.reply()
}

// expect reads a reply and compares it with want (lines joined by "\n").
func (cl *client) expect(want string) {
	cl.t.Helper()
	if got := cl.reply(); got != want {
		cl.t.Fatalf("reply = %q, want %q", got, want)
	}
}

// expectCmd sends a command and checks the reply starts with prefix.
func (cl *client) expectCmd(line, prefix string) string {
	cl.t.Helper()
	got := cl.cmd(line)
	if !strings.HasPrefix(got, prefix) {
		cl.t.Fatalf("%s: reply = %q, want it to start with %q", line, got, prefix)
	}
	return got
}

// closed checks that the server closed the connection.
func (cl *client) closed() {
	cl.t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(cl.r)
	if err != nil || len(rest) != 0 {
		cl.t.Fatalf("after the end: read %q, %v; want end of stream", rest, err)
	}
}

// localPort is the client's own port, which XPEHLO and XCLIENT report.
func (cl *client) localPort() int { return cl.c.LocalAddr().(*net.TCPAddr).Port }

// sendMail runs MAIL, RCPT, DATA for one message and returns the reply to
// the final dot.
func (cl *client) sendMail(from, to, subject string) string {
	cl.t.Helper()
	cl.expectCmd("MAIL FROM:<"+from+">", "250")
	cl.expectCmd("RCPT TO:<"+to+">", "250")
	cl.expectCmd("DATA", "354")
	return cl.cmd("From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n\r\nHello.\r\n..a dot-stuffed line\r\n.")
}
