// Package xpehlo is a recording fake SMTP relay that stands in for a Sun
// MTA speaking the private XPEHLO extension (docs/reference.md §4.4.2), which no real MTA
// outside Sun implements. The MMP's SMTP proxy introduces each client to
// its relay with
//
//	XPEHLO <client-helo-arg> PASSWORD=<SmtpProxyPassword> ADDR=<client-ip> PORT=<client-port>
//	       [NAME=<ptr-name>] [CHANNEL=<PopBeforeSmtpKludgeChannel>] [TLS=...] [SERVERADDR=<local-ip>]
//
// and the relay answers like EHLO. The wire syntax is the Go
// implementation's own guess (an openmmp decision, docs/reference.md §4.4.2), so this relay checks it
// strictly: a missing or malformed ADDR or PORT, a bad xtext escape or a
// repeated parameter is a 501, and a wrong PASSWORD is a 535 when
// WithPassword is set.
//
// The relay answers EHLO and XPEHLO with DefaultKeywords, which include
// keywords the proxy must filter out (VRFY, XADR, ...) and
// STARTTLS, which the proxy must replace with its own. It accepts HELO, MAIL,
// RCPT, DATA, RSET, NOOP, HELP, VRFY, QUIT and AUTH PLAIN and LOGIN (235 for
// an account given with WithUser, 535 otherwise), records every line it
// receives (Lines, Transcript), every introduction (Announcements) and every
// message (Messages), and refuses STARTTLS, BDAT and ETRN, which a proxy
// must not pass on.
//
// Typical usage:
//
//	relay := xpehlo.Start(t, xpehlo.WithPassword("proxypw"), xpehlo.WithUser("alice", "alicepw"))
//	cfg.SmtpRelays, cfg.SmtpProxyPassword = relay.Addr(), "proxypw"
//	... submit a message through the proxy from 127.0.0.1 ...
//	a := relay.Announcements()[0] // a.Params["ADDR"] == "127.0.0.1"
//	msgs := relay.Messages()
//	relay.Close() // fail-over: connections are now refused
//	relay.Restart(t)
//
// For fail-over tests a relay can also be slow (WithGreetingDelay,
// SetGreetingDelay: the greeting comes late, or never within a test) or
// not speak XPEHLO at all (WithoutXPEHLO: 500, like any other MTA).
package xpehlo

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostname is the name the relay gives itself in the greeting and in the
// first line of its EHLO reply.
const Hostname = "fake.relay"

// Greeting is the relay's 220 line.
const Greeting = "220 " + Hostname + " ESMTP"

// DefaultKeywords are the EHLO keywords the relay offers, in this order,
// after the "250-fake.relay Hello ..." line. They resemble a Sun MTA's list
// and include keywords outside the set the proxy passes on (docs/reference.md §4.4.1,
// step 6: 8BITMIME, PIPELINING, ENHANCEDSTATUSCODES, EXPN, HELP, XLOOP,
// ETRN, SIZE, STARTTLS, AUTH plus EhloKeywords; and the standard DSN,
// CHUNKING, BINARYMIME and SMTPUTF8 that openmmp passes as well).
var DefaultKeywords = []string{
	"VRFY",
	"DSN",
	"CHUNKING",
	"SMTPUTF8",
	"8BITMIME",
	"PIPELINING",
	"SIZE 10240000",
	"STARTTLS",
	"AUTH PLAIN LOGIN",
	"ENHANCEDSTATUSCODES",
	"EXPN",
	"ETRN",
	"XADR",
	"XSTA",
	"XCIR",
	"XGEN",
	"XLOOP 5A1B7C9D",
	"NO-SOLICITING",
	"HELP",
}

// Announcement is one introduction of a client: an XPEHLO, EHLO or HELO
// command the relay accepted.
type Announcement struct {
	Command string            // "XPEHLO", "EHLO" or "HELO", upper case
	Helo    string            // the HELO argument, i.e. the client's own name
	Params  map[string]string // XPEHLO's KEY=value parameters, keys upper case, values xtext-decoded; nil otherwise
	Remote  string            // host:port the relay's connection came from (the proxy)
}

// Relay is a running (or closed) fake relay. Its methods are safe for
// concurrent use: the relay serves each connection in its own goroutine.
type Relay struct {
	Host string // the loopback address it listens on, 127.0.0.1 unless WithHost
	Port int

	cfg config

	mu            sync.Mutex
	ln            net.Listener
	conns         map[net.Conn]bool
	closing       chan struct{} // closed by Close: wakes delayed greetings
	delay         time.Duration
	nconn         int
	lines         []string
	transcript    []string
	messages      []string
	announcements []Announcement
	wg            sync.WaitGroup
}

type config struct {
	host     string
	port     int
	password *string
	users    map[string]string
	noXPEHLO bool
	delay    time.Duration
	keywords []string
}

// Option configures Start.
type Option func(*config)

// WithHost sets the loopback address to listen on (default 127.0.0.1).
func WithHost(host string) Option { return func(c *config) { c.host = host } }

// WithPort sets the port (default: one the kernel picks).
func WithPort(port int) Option { return func(c *config) { c.port = port } }

// WithPassword makes XPEHLO require PASSWORD=pw (SmtpProxyPassword = the
// MTA's PROXY_PASSWORD); anything else, or none, is refused with 535.
// Without it any password, or none, is accepted.
func WithPassword(pw string) Option { return func(c *config) { c.password = &pw } }

// WithUser adds an SMTP AUTH account: AUTH PLAIN or LOGIN with this name and
// password succeeds (235), everything else fails (535).
func WithUser(name, password string) Option {
	return func(c *config) { c.users[name] = password }
}

// WithoutXPEHLO makes the relay answer XPEHLO with 500, like an MTA that
// does not know the extension.
func WithoutXPEHLO() Option { return func(c *config) { c.noXPEHLO = true } }

// WithGreetingDelay makes the relay wait d after accepting a connection
// before it sends its greeting, for FailoverTimeout tests. Close ends the
// wait.
func WithGreetingDelay(d time.Duration) Option { return func(c *config) { c.delay = d } }

// WithKeywords replaces DefaultKeywords in the EHLO and XPEHLO replies.
func WithKeywords(keywords ...string) Option {
	return func(c *config) { c.keywords = append([]string(nil), keywords...) }
}

// Start starts a relay on loopback; t.Cleanup closes it.
func Start(t testing.TB, opts ...Option) *Relay {
	t.Helper()
	c := config{host: "127.0.0.1", users: map[string]string{}, keywords: DefaultKeywords}
	for _, o := range opts {
		o(&c)
	}
	r := &Relay{Host: c.host, Port: c.port, cfg: c, delay: c.delay}
	t.Cleanup(r.Close)
	if err := r.listen(); err != nil {
		t.Fatalf("xpehlo: %v", err)
	}
	return r
}

// listen opens the listener on r.Host and r.Port and starts serving.
func (r *Relay) listen() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(r.Host, strconv.Itoa(r.Port)))
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.ln = ln
	r.Port = ln.Addr().(*net.TCPAddr).Port
	r.conns = map[net.Conn]bool{}
	r.closing = make(chan struct{})
	r.mu.Unlock()
	r.wg.Add(1)
	go r.serve(ln)
	return nil
}

// Addr returns host:port of the listener.
func (r *Relay) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Close stops listening, so that new connections are refused, and drops the
// connections in progress. It is safe to call more than once.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.ln == nil {
		r.mu.Unlock()
		return
	}
	r.ln.Close()
	r.ln = nil
	close(r.closing)
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Restart closes the relay if it is open and listens again on the same
// address. What was recorded is kept.
func (r *Relay) Restart(t testing.TB) {
	t.Helper()
	r.Close()
	if err := r.listen(); err != nil {
		t.Fatalf("xpehlo: Restart: %v", err)
	}
}

// SetGreetingDelay changes the greeting delay for connections accepted
// from now on (see WithGreetingDelay).
func (r *Relay) SetGreetingDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// Lines returns every line the relay has received, on all connections in
// the order they arrived, without the CRLF: commands, AUTH responses and
// message lines (still dot-stuffed).
func (r *Relay) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// Transcript returns the dialogue, one line per line sent or received:
// "S: " for the relay, "C: " for its client (the proxy), and "-- connection
// N" before the first line of the N-th connection. Message lines appear as
// received, still dot-stuffed. Connections that overlap in time
// interleave, so compare whole transcripts only in tests with one
// connection at a time.
func (r *Relay) Transcript() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.transcript, "\n") + "\n"
}

// Messages returns the message texts received with DATA, dot-unstuffed,
// with CRLF line endings, in the order the relay accepted them.
func (r *Relay) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

// Announcements returns the accepted XPEHLO, EHLO and HELO commands in
// order.
func (r *Relay) Announcements() []Announcement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Announcement(nil), r.announcements...)
}

// Connections returns how many connections the relay has accepted.
func (r *Relay) Connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nconn
}

// WaitLine waits until a received line starts with prefix and returns it.
// The proxy sends some commands, such as its QUIT after the client has
// gone, after the test's last reply, so a test that wants to see them must
// wait. It fails the test, showing the transcript, after 10 s.
func (r *Relay) WaitLine(t testing.TB, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range r.Lines() {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("xpehlo: no line starting with %q received after 10s; transcript:\n%s", prefix, r.Transcript())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Relay) serve(ln net.Listener) {
	defer r.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.ln != ln { // closed meanwhile
			r.mu.Unlock()
			c.Close()
			return
		}
		r.nconn++
		n, delay, closing := r.nconn, r.delay, r.closing
		r.conns[c] = true
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				r.mu.Lock()
				delete(r.conns, c)
				r.mu.Unlock()
				c.Close()
			}()
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-closing:
					return
				}
			}
			s := &session{relay: r, c: c, rd: bufio.NewReader(c), n: n}
			s.serve()
		}()
	}
}

// session is one connection's state.
type session struct {
	relay   *Relay
	c       net.Conn
	rd      *bufio.Reader
	n       int
	helo    bool   // EHLO, HELO or XPEHLO accepted
	authed  string // the user after a successful AUTH
	mail    bool   // in a transaction
	rcpts   int
	started bool // the transcript has the connection's header line
}

// record appends a line to the transcript, and a line from the client to
// Lines as well.
func (s *session) record(client bool, line string) {
	r := s.relay
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.started {
		s.started = true
		r.transcript = append(r.transcript, fmt.Sprintf("-- connection %d", s.n))
	}
	if client {
		r.lines = append(r.lines, line)
		r.transcript = append(r.transcript, "C: "+line)
	} else {
		r.transcript = append(r.transcript, "S: "+line)
	}
}

func (s *session) reply(lines ...string) {
	for _, l := range lines {
		s.record(false, l)
		fmt.Fprintf(s.c, "%s\r\n", l)
	}
}

// readLine returns the next line without its CRLF; bare is true when it
// ended with LF alone.
func (s *session) readLine() (line string, bare bool, err error) {
	s.c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	l, err := s.rd.ReadString('\n')
	if err != nil {
		if l != "" {
			s.record(true, l) // an unterminated last line
		}
		return "", false, err
	}
	l = strings.TrimSuffix(l, "\n")
	if strings.HasSuffix(l, "\r") {
		l = strings.TrimSuffix(l, "\r")
	} else {
		bare = true
	}
	return l, bare, nil
}

func (s *session) serve() {
	s.reply(Greeting)
	for {
		line, bare, err := s.readLine()
		if err != nil {
			return
		}
		s.record(true, line)
		if bare {
			s.reply("500 5.5.2 Error: bare <LF> received")
			continue
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "XPEHLO":
			s.xpehlo(arg)
		case "EHLO":
			if arg == "" {
				s.reply("501 5.5.4 Syntax: EHLO hostname")
				continue
			}
			s.hello(Announcement{Command: "EHLO", Helo: arg, Remote: s.c.RemoteAddr().String()}, hostOf(s.c.RemoteAddr()))
		case "HELO":
			if arg == "" {
				s.reply("501 5.5.4 Syntax: HELO hostname")
				continue
			}
			s.relay.announce(Announcement{Command: "HELO", Helo: arg, Remote: s.c.RemoteAddr().String()})
			s.helo, s.mail, s.rcpts = true, false, 0
			s.reply("250 " + Hostname)
		case "AUTH":
			if !s.auth(arg) {
				return
			}
		case "MAIL":
			switch {
			case !s.helo:
				s.reply("503 5.5.1 Error: send HELO/EHLO first")
			case s.mail:
				s.reply("503 5.5.1 Error: nested MAIL command")
			case !strings.HasPrefix(strings.ToUpper(arg), "FROM:"):
				s.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
			default:
				s.mail = true
				s.reply("250 2.1.0 Ok")
			}
		case "RCPT":
			switch {
			case !s.mail:
				s.reply("503 5.5.1 Error: need MAIL command")
			case !strings.HasPrefix(strings.ToUpper(arg), "TO:"):
				s.reply("501 5.5.4 Syntax: RCPT TO:<address>")
			default:
				s.rcpts++
				s.reply("250 2.1.5 Ok")
			}
		case "DATA":
			if s.rcpts == 0 {
				s.reply("503 5.5.1 Error: need RCPT command")
				continue
			}
			if !s.data() {
				return
			}
		case "RSET":
			s.mail, s.rcpts = false, 0
			s.reply("250 2.0.0 Ok")
		case "NOOP":
			s.reply("250 2.0.0 Ok")
		case "HELP":
			s.reply("214 2.0.0 " + Hostname + ": a fake relay for tests, see internal/testenv/xpehlo")
		case "VRFY":
			s.reply("252 2.0.0 Cannot VRFY user")
		case "QUIT":
			s.reply("221 2.0.0 Bye")
			return
		case "STARTTLS":
			// Offered so that the proxy's filtering can be seen; the
			// proxy terminates TLS itself and must never pass it on.
			s.reply("454 4.7.0 TLS not available")
		case "BDAT", "ETRN", "EXPN":
			s.reply("502 5.5.1 Error: " + strings.ToUpper(verb) + " not implemented by the fake relay")
		default:
			s.reply("500 5.5.2 Error: command not recognized")
		}
	}
}

// announce records an accepted introduction.
func (r *Relay) announce(a Announcement) {
	r.mu.Lock()
	r.announcements = append(r.announcements, a)
	r.mu.Unlock()
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

// hello records a and sends the EHLO-style reply; addr is the client
// address the relay believes in.
func (s *session) hello(a Announcement, addr string) {
	s.relay.announce(a)
	s.helo, s.mail, s.rcpts, s.authed = true, false, 0, ""
	lines := []string{fmt.Sprintf("%s Hello %s [%s]", Hostname, a.Helo, addr)}
	lines = append(lines, s.relay.cfg.keywords...)
	for i := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		lines[i] = "250" + sep + lines[i]
	}
	s.reply(lines...)
}

// xpehlo checks an XPEHLO command (the part after the verb) and answers it.
func (s *session) xpehlo(arg string) {
	if s.relay.cfg.noXPEHLO {
		s.reply("500 5.5.2 Error: command not recognized")
		return
	}
	fields := strings.Fields(arg)
	if len(fields) == 0 || strings.Contains(fields[0], "=") {
		s.reply("501 5.5.4 XPEHLO: missing HELO argument")
		return
	}
	a := Announcement{Command: "XPEHLO", Helo: fields[0], Params: map[string]string{}, Remote: s.c.RemoteAddr().String()}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			s.reply(fmt.Sprintf("501 5.5.4 XPEHLO: %q is not KEY=value", f))
			return
		}
		k = strings.ToUpper(k)
		if _, dup := a.Params[k]; dup {
			s.reply("501 5.5.4 XPEHLO: " + k + " given twice")
			return
		}
		dv, err := decodeXtext(v)
		if err != nil {
			s.reply(fmt.Sprintf("501 5.5.4 XPEHLO: %s: %v", k, err))
			return
		}
		a.Params[k] = dv
	}
	if net.ParseIP(a.Params["ADDR"]) == nil {
		s.reply(fmt.Sprintf("501 5.5.4 XPEHLO: ADDR %q is not an IP address", a.Params["ADDR"]))
		return
	}
	if p, err := strconv.Atoi(a.Params["PORT"]); err != nil || p < 0 || p > 65535 {
		s.reply(fmt.Sprintf("501 5.5.4 XPEHLO: PORT %q is not a port number", a.Params["PORT"]))
		return
	}
	if pw := s.relay.cfg.password; pw != nil {
		if got, ok := a.Params["PASSWORD"]; !ok || got != *pw {
			s.reply("535 5.7.8 XPEHLO: proxy password incorrect")
			return
		}
	}
	s.hello(a, a.Params["ADDR"])
}

// decodeXtext undoes RFC 3461 xtext: "+XX" is the byte with hex value XX;
// other characters must be printable ASCII other than "+" and "=".
func decodeXtext(v string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case ch == '+':
			if i+2 >= len(v) {
				return "", fmt.Errorf("truncated xtext escape in %q", v)
			}
			n, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
			if err != nil || strings.ToUpper(v[i+1:i+3]) != v[i+1:i+3] {
				return "", fmt.Errorf("bad xtext escape %q", v[i:i+3])
			}
			b.WriteByte(byte(n))
			i += 2
		case ch < '!' || ch > '~' || ch == '=':
			return "", fmt.Errorf("character %q must be xtext-encoded", ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), nil
}

// auth runs an AUTH exchange; it returns false when the connection broke.
func (s *session) auth(arg string) bool {
	if !s.helo {
		s.reply("503 5.5.1 Error: send EHLO first")
		return true
	}
	if s.authed != "" {
		s.reply("503 5.5.1 Error: already authenticated")
		return true
	}
	mech, initial, hasInitial := strings.Cut(arg, " ")
	// ask sends a 334 challenge and returns the decoded response.
	ask := func(challenge string) (string, bool, error) {
		s.reply("334 " + base64.StdEncoding.EncodeToString([]byte(challenge)))
		line, _, err := s.readLine()
		if err != nil {
			return "", false, err
		}
		s.record(true, line)
		if line == "*" {
			return "", false, nil
		}
		d, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return "", false, nil
		}
		return string(d), true, nil
	}
	var user, pass string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		resp := ""
		if hasInitial && initial != "=" {
			d, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				s.reply("501 5.5.2 Error: invalid base64 in AUTH PLAIN")
				return true
			}
			resp = string(d)
		} else {
			var ok bool
			var err error
			if resp, ok, err = ask(""); err != nil {
				return false
			} else if !ok {
				s.reply("501 5.7.0 Error: authentication cancelled or not base64")
				return true
			}
		}
		parts := strings.Split(resp, "\x00")
		if len(parts) != 3 || parts[0] != "" && parts[0] != parts[1] {
			s.reply("535 5.7.8 Error: authentication failed: malformed PLAIN response")
			return true
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		var ok bool
		var err error
		if hasInitial {
			d, derr := base64.StdEncoding.DecodeString(initial)
			if derr != nil {
				s.reply("501 5.5.2 Error: invalid base64 in AUTH LOGIN")
				return true
			}
			user = string(d)
		} else if user, ok, err = ask("Username:"); err != nil {
			return false
		} else if !ok {
			s.reply("501 5.7.0 Error: authentication cancelled or not base64")
			return true
		}
		if pass, ok, err = ask("Password:"); err != nil {
			return false
		} else if !ok {
			s.reply("501 5.7.0 Error: authentication cancelled or not base64")
			return true
		}
	default:
		s.reply("504 5.5.4 Error: unsupported authentication mechanism")
		return true
	}
	if want, ok := s.relay.cfg.users[user]; ok && want == pass {
		s.authed = user
		s.reply("235 2.7.0 Authentication successful")
	} else {
		s.reply("535 5.7.8 Error: authentication failed")
	}
	return true
}

// data reads a message after DATA; it returns false when the connection
// broke.
func (s *session) data() bool {
	s.reply("354 End data with <CR><LF>.<CR><LF>")
	var msg strings.Builder
	for {
		line, _, err := s.readLine()
		if err != nil {
			return false
		}
		s.record(true, line)
		if line == "." {
			break
		}
		msg.WriteString(strings.TrimPrefix(line, "."))
		msg.WriteString("\r\n")
	}
	r := s.relay
	r.mu.Lock()
	r.messages = append(r.messages, msg.String())
	id := len(r.messages)
	r.mu.Unlock()
	s.mail, s.rcpts = false, 0
	s.reply(fmt.Sprintf("250 2.0.0 Ok: queued as FAKE%d", id))
	return true
}
