package proxy_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/xpehlo"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/smtpproxy"
)

// The behaviours every protocol shares live in the login pipeline
// (proxy.Session.Login); this file tests each of them once against IMAP,
// POP and SMTP, through a table of protocols, so that the front ends
// cannot drift apart again. The stores are a real Dovecot behind a
// counting forwarder; SMTP's relay is the recording XPEHLO relay (no real
// MTA speaks XPEHLO), with SmtpAuth directory so that the MMP itself
// checks SMTP AUTH.

// Outcomes as a client sees them, one word per class of reply.
const (
	ok     = "ok"     // logged in
	auth   = "auth"   // the reply of a failed login
	denied = "denied" // "logging in as another user is not allowed"
	temp   = "temp"   // try again later
	down   = "down"   // the store cannot be reached
)

// protocol is one row of the table.
type protocol struct {
	name    string
	service string // the *.cfg instance name
	store   bool   // logs in to a mail store (not SMTP)
	authzNo string // the class of a refused proxy login
	new     func() proxy.Protocol
	login   func(t *testing.T, c *lineConn, authz, user, pass string) string
}

var protocols = []protocol{
	{name: "IMAP", service: "ImapProxyAService", store: true, authzNo: denied,
		new: func() proxy.Protocol { return imapproxy.New(imapproxy.Options{Host: "mmp"}) }, login: imapLogin},
	{name: "POP", service: "PopProxyAService", store: true, authzNo: denied,
		new: func() proxy.Protocol { return popproxy.New(popproxy.Options{Host: "mmp"}) }, login: popLogin},
	{name: "SMTP", service: "SmtpProxyAService", authzNo: auth,
		new: func() proxy.Protocol { return smtpproxy.New(smtpproxy.Options{Host: "mmp.example"}) }, login: smtpLogin},
}

func plain(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

// viaLOGIN is the authz argument that makes a login use the SASL LOGIN
// mechanism instead of PLAIN: LOGIN can carry an empty password, which
// PLAIN cannot (RFC 4616), so that it reaches the login pipeline.
const viaLOGIN = "\x00LOGIN"

// viaToken is the authz argument that makes a login use X-TOKEN, an
// ExtraSASLMechanisms mechanism the fake AuthenticationServer performs
// (extrasasl_test.go); the password is ignored.
const viaToken = "\x00X-TOKEN"

// authenticate sends command with the mechanism and, for LOGIN, answers
// the two challenges, which start with prompt.
func authenticate(t *testing.T, c *lineConn, command, prompt, authz, user, pass string) {
	b64 := base64.StdEncoding.EncodeToString
	if authz == viaToken {
		tokenLogin(t, c, command, prompt, user)
		return
	}
	if authz != viaLOGIN {
		c.send(command + " PLAIN " + plain(authz, user, pass))
		return
	}
	c.send(command + " LOGIN")
	for _, answer := range []string{user, pass} {
		c.expectPrefix(t, prompt)
		c.send(b64([]byte(answer)))
	}
}

func imapLogin(t *testing.T, c *lineConn, authz, user, pass string) string {
	c.greet(t, "* OK")
	authenticate(t, c, "a AUTHENTICATE", "+ ", authz, user, pass)
	alert := false
	for {
		l := c.line(t)
		switch {
		case strings.HasPrefix(l, "* NO [ALERT]"):
			alert = true
		case strings.HasPrefix(l, "a OK"):
			return ok
		case strings.Contains(l, "[AUTHENTICATIONFAILED]"):
			return auth
		case strings.Contains(l, "[AUTHORIZATIONFAILED]"):
			return denied
		case strings.Contains(l, "[UNAVAILABLE]") && alert:
			return down
		case strings.Contains(l, "[UNAVAILABLE]"):
			return temp
		case strings.HasPrefix(l, "a "):
			return l
		}
	}
}

func popLogin(t *testing.T, c *lineConn, authz, user, pass string) string {
	c.greet(t, "+OK")
	authenticate(t, c, "AUTH", "+ ", authz, user, pass)
	l := c.line(t)
	switch {
	case strings.HasPrefix(l, "+OK"):
		return ok
	case strings.Contains(l, "another user"):
		return denied
	case strings.HasPrefix(l, "-ERR [AUTH]"):
		return auth
	case strings.Contains(l, "out of service"):
		return down
	case strings.HasPrefix(l, "-ERR [SYS/TEMP]"):
		return temp
	}
	return l
}

func smtpLogin(t *testing.T, c *lineConn, authz, user, pass string) string {
	if c.greet(t, "220 ") {
		c.send("EHLO client.example")
		for l := c.line(t); !strings.HasPrefix(l, "250 "); l = c.line(t) {
			if !strings.HasPrefix(l, "250-") {
				t.Fatalf("EHLO: %q", l)
			}
		}
	}
	authenticate(t, c, "AUTH", "334 ", authz, user, pass)
	l := c.line(t)
	switch {
	case strings.HasPrefix(l, "235 "):
		return ok
	case strings.HasPrefix(l, "535 "):
		return auth
	case strings.HasPrefix(l, "454 "):
		return temp
	}
	return l
}

// lineConn is a client connection read line by line.
type lineConn struct {
	net.Conn
	r       *bufio.Reader
	greeted bool // the greeting (and SMTP's EHLO) is behind us
}

// greet reads the greeting once per connection.
func (c *lineConn) greet(t *testing.T, prefix string) bool {
	t.Helper()
	if c.greeted {
		return false
	}
	c.greeted = true
	c.expectPrefix(t, prefix)
	return true
}

func (c *lineConn) send(l string) { io.WriteString(c, l+"\r\n") }

func (c *lineConn) line(t *testing.T) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *lineConn) expectPrefix(t *testing.T, p string) {
	t.Helper()
	if l := c.line(t); !strings.HasPrefix(l, p) {
		t.Fatalf("got %q, want %s...", l, p)
	}
}

// forwarder relays connections to a store and counts them, so that a test
// can tell whether the store was asked at all.
type forwarder struct {
	port  int
	conns atomic.Int32
}

func forward(t *testing.T, to string) *forwarder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &forwarder{port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return f
}

// bench is one protocol's server for one case.
type bench struct {
	p     protocol
	addr  string
	dir   *proxytest.Directory
	store *forwarder
	relay *xpehlo.Relay
}

func (b *bench) login(t *testing.T, authz, user, pass string) (string, time.Duration) {
	t.Helper()
	c := b.dial(t)
	defer c.Close()
	return b.loginOn(t, c, authz, user, pass)
}

// dial opens a client connection, for several logins on one connection.
func (b *bench) dial(t *testing.T) *lineConn {
	t.Helper()
	nc, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &lineConn{Conn: nc, r: bufio.NewReader(nc)}
}

// loginOn logs in on c and says how long it took.
func (b *bench) loginOn(t *testing.T, c *lineConn, authz, user, pass string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	got := b.p.login(t, c, authz, user, pass)
	return got, time.Since(start)
}

func TestLoginPipelineAcrossProtocols(t *testing.T) {
	store := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"), dovecot.WithUser("bob", "bobpw"),
		dovecot.WithMasterUser("storeadmin", "storeadminpw"))
	relay := xpehlo.Start(t, xpehlo.WithPassword("relaypw"))
	authsrv := startAuthServer(t, "alice")
	realDir := directory.New(directory.Options{})
	t.Cleanup(func() { realDir.Close() })
	start := func(t *testing.T, p protocol, settings map[string]string) *bench {
		t.Helper()
		b := &bench{p: p, relay: relay, dir: &proxytest.Directory{Passwords: map[string]string{"uid=alice": "alicepw"}}}
		b.dir.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{"127.0.0.1"}})
		b.dir.SetUser("bob", &account.User{DN: "uid=bob", MailHosts: []string{"127.0.0.1"}})
		to := store.IMAPAddr()
		if p.name == "POP" {
			to = store.POP3Addr()
		}
		b.store = forward(t, to)
		all := map[string]string{"BacksidePort": strconv.Itoa(b.store.port)}
		if !p.store {
			all = map[string]string{"SmtpRelays": relay.Addr(), "SmtpProxyPassword": "relaypw", "SmtpAuth": "directory"}
		}
		for k, v := range settings {
			if p.store || k != "PreAuth" && k != "BacksidePort" {
				all[k] = v
			}
		}
		svc := proxytest.ServiceOf(t, p.service, all, "")
		srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: p.new(), Directory: relayingDirectory{b.dir, realDir}})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		b.addr = ln.Addr().String()
		return b
	}
	each := func(t *testing.T, name string, f func(t *testing.T, p protocol)) {
		for _, p := range protocols {
			t.Run(name+"/"+p.name, func(t *testing.T) { f(t, p) })
		}
	}

	each(t, "right password", func(t *testing.T, p protocol) {
		b := start(t, p, nil)
		if got, _ := b.login(t, "", "alice", "alicepw"); got != ok {
			t.Errorf("login = %s, want %s", got, ok)
		}
	})
	each(t, "own authorization identity", func(t *testing.T, p protocol) {
		b := start(t, p, nil)
		if got, _ := b.login(t, "alice", "alice", "alicepw"); got != ok {
			t.Errorf("login = %s, want %s", got, ok)
		}
	})
	each(t, "unknown user and wrong password get one reply", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"BGExcluded": "127.0.0.0/8"})
		for _, who := range [][2]string{{"alice", "wrong"}, {"nobody", "alicepw"}} {
			if got, _ := b.login(t, "", who[0], who[1]); got != auth {
				t.Errorf("%s/%s = %s, want %s", who[0], who[1], got, auth)
			}
		}
	})
	each(t, "PreAuth keeps a wrong password from the store", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"PreAuth": "yes", "BGExcluded": "127.0.0.0/8"})
		if got, _ := b.login(t, "", "alice", "wrong"); got != auth {
			t.Errorf("wrong password = %s, want %s", got, auth)
		}
		if n := b.store.conns.Load(); n != 0 {
			t.Errorf("the store was contacted %d times for a password the directory refused", n)
		}
		if got, _ := b.login(t, "", "alice", "alicepw"); got != ok {
			t.Errorf("right password = %s, want %s", got, ok)
		}
		if p.store && b.store.conns.Load() != 1 {
			t.Errorf("store contacted %d times, want once", b.store.conns.Load())
		}
		for _, l := range b.relay.Lines() {
			if strings.HasPrefix(l, "AUTH") || strings.Contains(l, "alicepw") {
				t.Errorf("credentials reached the relay: %q", l)
			}
		}
	})
	each(t, "proxy login refused", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"BGExcluded": "127.0.0.0/8"})
		if got, _ := b.login(t, "bob", "alice", "alicepw"); got != p.authzNo {
			t.Errorf("PLAIN as bob = %s, want %s", got, p.authzNo)
		}
		if n := b.store.conns.Load(); n != 0 {
			t.Errorf("the store was contacted %d times for a refused proxy login", n)
		}
	})
	// AdminPolicy simple (RFC 4616 authorization identity): StoreAdmin,
	// with StoreAdminPass, logs in as alice; the store sees a master-user
	// login for alice. Anyone else asking for another identity is
	// refused, and StoreAdmin with a wrong password is a failed login.
	// SMTP has no StoreAdmin: its proxy logins are refused.
	each(t, "StoreAdmin logs in on behalf of a user", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"StoreAdmin": "storeadmin", "StoreAdminPass": "storeadminpw", "BGExcluded": "127.0.0.0/8"})
		const master = "Master user logging in as alice"
		before := strings.Count(store.Log(), master)
		want := ok
		if !p.store {
			want = auth
		}
		if got, _ := b.login(t, "alice", "storeadmin", "storeadminpw"); got != want {
			t.Fatalf("storeadmin as alice = %s, want %s", got, want)
		}
		if !p.store {
			return
		}
		if n := b.store.conns.Load(); n != 1 {
			t.Errorf("store contacted %d times, want once", n)
		}
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(store.Log(), master) == before {
			if time.Now().After(deadline) {
				t.Fatalf("the store logged no master-user login:\n%s", store.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got, _ := b.login(t, "alice", "storeadmin", "wrong"); got != auth {
			t.Errorf("storeadmin with a wrong password = %s, want %s", got, auth)
		}
		if got, _ := b.login(t, "alice", "bob", "bobpw"); got != p.authzNo {
			t.Errorf("bob as alice = %s, want %s", got, p.authzNo)
		}
	})
	// ExtraSASLMechanisms: offered in CAPABILITY, CAPA and EHLO, and
	// performed by the AuthenticationServer, which names the user; the
	// store is then logged in to as StoreAdmin for that user.
	each(t, "ExtraSASLMechanisms relayed to the AuthenticationServer", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"AuthenticationServer": authsrv.ln.Addr().String(), "PreAuth": "yes",
			"ExtraSASLMechanisms": "X-TOKEN", "StoreAdmin": "storeadmin", "StoreAdminPass": "storeadminpw", "BGExcluded": "127.0.0.0/8"})
		c := b.dial(t)
		var offer string
		switch p.name {
		case "IMAP":
			offer = c.line(t)
		case "POP":
			c.line(t)
			c.send("CAPA")
			for l := c.line(t); l != "."; l = c.line(t) {
				offer += l + "\n"
			}
		case "SMTP":
			c.line(t)
			c.send("EHLO client.example")
			for l := c.line(t); ; l = c.line(t) {
				offer += l + "\n"
				if strings.HasPrefix(l, "250 ") {
					break
				}
			}
		}
		if !strings.Contains(offer, "X-TOKEN") {
			t.Errorf("X-TOKEN is not offered:\n%s", offer)
		}
		if got, _ := b.login(t, viaToken, "alice", ""); got != ok {
			t.Errorf("X-TOKEN as alice = %s, want %s", got, ok)
		}
		if got, _ := b.login(t, viaToken, "mallory", ""); got != auth {
			t.Errorf("X-TOKEN as mallory = %s, want %s", got, auth)
		}
		if lines := authsrv.received(); len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-2], "SASL X-TOKEN 127.0.0.1 127.0.0.1") {
			t.Errorf("the AuthenticationServer received %q", lines)
		}
	})
	each(t, "directory unavailable", func(t *testing.T, p protocol) {
		b := start(t, p, nil)
		b.dir.SetErr(fmt.Errorf("test: %w", account.ErrUnavailable))
		if got, _ := b.login(t, "", "alice", "alicepw"); got != temp {
			t.Errorf("login = %s, want %s", got, temp)
		}
	})
	each(t, "malformed credentials are refused before the directory", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"BGExcluded": "127.0.0.0/8"})
		for _, who := range [][2]string{{"alice", ""}, {"", "alicepw"}, {"al\x00ice", "pw"}, {"alice", "p\x00w"}, {"al\r\nice", "pw"}} {
			if got, _ := b.login(t, viaLOGIN, who[0], who[1]); got != auth {
				t.Errorf("%q/%q = %s, want %s", who[0], who[1], got, auth)
			}
		}
		if n := len(b.dir.Queries); n != 0 {
			t.Errorf("%d directory lookups for malformed credentials", n)
		}
	})

	// BadGuys: every failure counts, an empty password too, and delays the
	// next attempt from the address; a success forgives it.
	for _, p := range protocols {
		t.Run("BadGuys/"+p.name, func(t *testing.T) {
			b := start(t, p, map[string]string{"BGPenalty": "1", "BGMaxBadness": "1", "BGDecay": "60"})
			for _, pass := range []string{"wrong", ""} {
				if got, _ := b.login(t, viaLOGIN, "alice", pass); got != auth {
					t.Fatalf("password %q = %s, want %s", pass, got, auth)
				}
				got, took := b.login(t, "", "alice", "alicepw")
				if got != ok || took < 900*time.Millisecond {
					t.Errorf("after password %q: %s after %v, want %s after the 1 s penalty", pass, got, took, ok)
				}
			}
		})
	}
	// A client that retries the same credentials with each mechanism it
	// knows on one connection (neomutt: AUTHENTICATE PLAIN, then LOGIN)
	// made one mistake: BadGuys counts it once. Different passwords count
	// each.
	for _, p := range protocols {
		t.Run("repeated failure counts once/"+p.name, func(t *testing.T) {
			for _, tc := range []struct {
				second string
				want   time.Duration // the penalty the next login waits
			}{{"wrong", 2 * time.Second}, {"wrong too", 4 * time.Second}} {
				// Penalties of 2 s apart, so that a loaded machine's
				// slowness (up to 1.5 s here) cannot blur once and twice.
				b := start(t, p, map[string]string{"BGPenalty": "2", "BGMaxBadness": "10", "BGDecay": "60"})
				c := b.dial(t)
				if got, _ := b.loginOn(t, c, "", "alice", "wrong"); got != auth {
					t.Fatalf("first wrong password = %s", got)
				}
				if got, _ := b.loginOn(t, c, viaLOGIN, "alice", tc.second); got != auth {
					t.Fatalf("second wrong password = %s", got)
				}
				got, took := b.login(t, "", "alice", "alicepw")
				if got != ok || took < tc.want-100*time.Millisecond || took > tc.want+1500*time.Millisecond {
					t.Errorf("after %q then %q: %s after %v, want %s after the %v penalty", "wrong", tc.second, got, took, ok, tc.want)
				}
			}
		})
	}
	// A connection that fails to log in MaxLoginFailures times with
	// different passwords is closed after the last reply.
	each(t, "closed after three failed logins", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"BGExcluded": "127.0.0.0/8"})
		c := b.dial(t)
		for i := range proxy.MaxLoginFailures {
			if got, _ := b.loginOn(t, c, "", "alice", fmt.Sprintf("wrong%d", i)); got != auth {
				t.Fatalf("attempt %d = %s, want %s", i+1, got, auth)
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(c.r)
		if err != nil {
			t.Fatalf("after %d failures: %v, want the connection closed", proxy.MaxLoginFailures, err)
		}
		if p.name == "IMAP" && !strings.HasPrefix(string(rest), "* BYE ") || p.name == "SMTP" && !strings.HasPrefix(string(rest), "421 ") {
			t.Errorf("goodbye %q", rest)
		}
	})
	// MaxUserSessions without a fleet: the process counts the user's
	// sessions; one more gets the protocol's own reply after its login,
	// and the end of a session frees its place.
	each(t, "MaxUserSessions", func(t *testing.T, p protocol) {
		b := start(t, p, map[string]string{"MaxUserSessions": "1"})
		first := b.dial(t)
		if got, _ := b.loginOn(t, first, "", "alice", "alicepw"); got != ok {
			t.Fatalf("first session = %s", got)
		}
		want := map[string]string{"IMAP": "a NO [LIMIT] Too many sessions for this user",
			"POP": "-ERR [IN-USE] Too many sessions for this user", "SMTP": temp}[p.name]
		if got, _ := b.login(t, "", "alice", "alicepw"); got != want {
			t.Errorf("second session = %q, want %q", got, want)
		}
		if got, _ := b.login(t, "", "bob", "bobpw"); p.store && got != ok {
			t.Errorf("another user = %q", got) // SMTP: bob has no password in the directory
		}
		first.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _ := b.login(t, "", "alice", "alicepw")
			if got == ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the first session ended: %q", got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	// A store that cannot be reached.
	for _, p := range protocols[:2] {
		t.Run("store down/"+p.name, func(t *testing.T) {
			b := start(t, p, map[string]string{"BacksidePort": "1"})
			if got, _ := b.login(t, "", "alice", "alicepw"); got != down {
				t.Errorf("login = %s, want %s", got, down)
			}
		})
	}
}
