package smtpproxy_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/smtpproxy"
	"github.com/openmmp/mmp/tlsconf"
)

// testHost is the MMP's host name in every test.
const testHost = "mmp.example.test"

// smtpService is proxytest.ServiceOf for SmtpProxyAService.
func smtpService(t testing.TB, settings map[string]string) *config.Service {
	t.Helper()
	return proxytest.ServiceOf(t, "SmtpProxyAService", settings, "")
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
	if _, set := su.settings["BGPenalty"]; !set {
		// The tests' failed logins all come from loopback; only the
		// BadGuys tests want them delayed.
		m := maps.Clone(su.settings)
		if m == nil {
			m = map[string]string{}
		}
		su.settings = with(m, "BGExcluded", "127.0.0.0/8")
	}
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
		testenv.Unavailable(t, fmt.Sprintf("cannot listen on %s: %v", su.listen, err))
	}
	h.addr = ln.Addr().String()
	go h.srv.Serve(ln)
	t.Cleanup(func() { h.srv.Close() })
	return h
}

// client is a raw SMTP client under test.
type client struct{ *proxytest.Client }

// dial connects to the proxy from the local address from ("" for any).
func (h *harness) dial(from string) *client {
	h.t.Helper()
	return &client{proxytest.Dial(h.t, h.addr, from)}
}

// greeted dials from 127.0.0.1 and checks the greeting.
func (h *harness) greeted() *client {
	h.t.Helper()
	cl := h.dial("")
	cl.expect("220 " + testHost + " ESMTP service (Messaging Multiplexor openmmp 0.1)")
	return cl
}

// reply reads a possibly multi-line reply, lines joined with "\n".
func (cl *client) reply() string {
	cl.T.Helper()
	var lines []string
	for {
		l := cl.Line()
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// cmd sends a command line and returns the reply.
func (cl *client) cmd(line string) string {
	cl.T.Helper()
	cl.Send(line + "\r\n")
	return cl.reply()
}

// expect reads a reply and compares it with want (lines joined by "\n").
func (cl *client) expect(want string) {
	cl.T.Helper()
	if got := cl.reply(); got != want {
		cl.T.Fatalf("reply = %q, want %q", got, want)
	}
}

// expectCmd sends a command and checks the reply starts with prefix.
func (cl *client) expectCmd(line, prefix string) string {
	cl.T.Helper()
	got := cl.cmd(line)
	if !strings.HasPrefix(got, prefix) {
		cl.T.Fatalf("%s: reply = %q, want it to start with %q", line, got, prefix)
	}
	return got
}

// localPort is the client's own port, which XPEHLO and XCLIENT report.
func (cl *client) localPort() int { return cl.Conn.LocalAddr().(*net.TCPAddr).Port }

// sendMail runs MAIL, RCPT, DATA for one message and returns the reply to
// the final dot.
func (cl *client) sendMail(from, to, subject string) string {
	cl.T.Helper()
	cl.expectCmd("MAIL FROM:<"+from+">", "250")
	cl.expectCmd("RCPT TO:<"+to+">", "250")
	cl.expectCmd("DATA", "354")
	return cl.cmd("From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n\r\nHello.\r\n..a dot-stuffed line\r\n.")
}
