package tlsconf_test

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/tlsconf"
)

// ticketServer serves TLS on loopback with whichever Config cfg returns
// at the time of each connection (what a refresh changes), writing one
// line so that a TLS 1.3 client reads its session ticket.
func ticketServer(t *testing.T, cfg func() *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(c, cfg())
				if tc.Handshake() == nil {
					io.WriteString(tc, "* OK\r\n")
					tc.Close()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// resumes connects with the client's session cache and reports whether
// the session was resumed.
func resumes(t *testing.T, addr string, cc *tls.Config) bool {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(&d, "tcp", addr, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState().DidResume
}

// TestTicketsAcrossRefresh: a real Go client with a session cache resumes
// its session after a refresh (a new Config, the key rotated), and after
// a second refresh no longer does with its first ticket: the previous key
// is accepted, the one before is not. A new Config without TicketKeys
// (what a refresh did before) resumes nothing.
func TestTicketsAcrossRefresh(t *testing.T) {
	cs := testcert.New(t, "localhost")
	build := func() *tls.Config {
		c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile}})
		if err != nil {
			t.Fatal(err)
		}
		return c.Client
	}
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			keys := tlsconf.NewTicketKeys()
			var mu sync.Mutex
			cur := build()
			keys.Use(cur)
			addr := ticketServer(t, func() *tls.Config { mu.Lock(); defer mu.Unlock(); return cur })
			refresh := func(withKeys bool) {
				mu.Lock()
				defer mu.Unlock()
				cur = build()
				if withKeys {
					keys.Rotate()
					keys.Use(cur)
				}
			}
			client := func() *tls.Config {
				cc := cs.ClientConfig("localhost")
				cc.MaxVersion = version
				cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				return cc
			}

			cc := client()
			if resumes(t, addr, cc) {
				t.Fatal("the first connection resumed")
			}
			if !resumes(t, addr, cc) {
				t.Fatal("the second connection did not resume")
			}
			refresh(true)
			if !resumes(t, addr, cc) {
				t.Fatal("no resumption after a refresh")
			}

			// A client whose only ticket is from before two refreshes
			// makes a full handshake.
			old := client()
			resumes(t, addr, old)
			refresh(true)
			refresh(true)
			if resumes(t, addr, old) {
				t.Error("a ticket of the key before the previous one resumed")
			}
			if !resumes(t, addr, old) {
				t.Error("the new ticket did not resume")
			}

			// Without TicketKeys a new Config has keys of its own.
			refresh(false)
			if resumes(t, addr, old) {
				t.Error("resumed across a Config without TicketKeys")
			}
		})
	}
}

// TestTicketRotation: without refreshes, the key rotates after
// TicketRotation; a ticket of the previous key still resumes, one that
// old keys alone could decrypt does not.
func TestTicketRotation(t *testing.T) {
	cs := testcert.New(t, "localhost")
	c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	keys := tlsconf.NewTicketKeys()
	var mu sync.Mutex
	now := time.Now()
	tlsconf.SetTicketClock(keys, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	keys.Use(c.Client)
	addr := ticketServer(t, func() *tls.Config { return c.Client })
	client := func() *tls.Config {
		cc := cs.ClientConfig("localhost")
		cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		return cc
	}

	a := client()
	resumes(t, addr, a) // a ticket of key 1
	advance(tlsconf.TicketRotation + time.Minute)
	b := client()
	resumes(t, addr, b) // key 2 made; b's ticket is of key 2
	if !resumes(t, addr, a) {
		t.Error("a ticket of the previous key did not resume")
	}
	advance(tlsconf.TicketRotation + time.Minute)
	// Key 3 is made: key 2 (b's first ticket) is the previous one, key 1
	// is gone; a's ticket is the key-2 one it got when resuming.
	c3 := client()
	resumes(t, addr, c3)
	if !resumes(t, addr, b) {
		t.Error("b's key-2 ticket did not resume after one rotation")
	}
	advance(3 * tlsconf.TicketRotation)
	if resumes(t, addr, c3) {
		t.Error("a ticket resumed after the service was idle for three rotations")
	}
}
