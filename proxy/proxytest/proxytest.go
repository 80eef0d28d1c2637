// Package proxytest holds helpers for the tests of package proxy and of the
// protocol packages: a configuration built from a few settings, an
// in-memory Directory, descriptor and goroutine counting, and loopback
// connection pairs. It is imported only by _test.go files.
package proxytest

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
)

// Service loads a Sun 6.x style configuration with one IMAP service whose
// ImapProxyAService.cfg has the given "Name value" settings, and optionally
// a vdmap file (its text, in vdmap syntax); VirtualDomainFile is set to it.
// The listening address in ServiceList is a dummy: tests serve their own
// listeners.
func Service(t testing.TB, settings map[string]string, vdmap string) *config.Service {
	t.Helper()
	return ServiceOf(t, "ImapProxyAService", settings, vdmap)
}

// ServiceOf is Service for the service named, ImapProxyAService,
// PopProxyAService or SmtpProxyAService.
func ServiceOf(t testing.TB, name string, settings map[string]string, vdmap string) *config.Service {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("AService.cfg", "default:ServiceList "+name+"@1143\ndefault:LogDir "+filepath.Join(dir, "log")+"\n")
	if _, set := settings["AuthFailureDelay"]; !set {
		// Tests fail logins by the dozen; the ones about the delay set it.
		settings = maps.Clone(settings)
		if settings == nil {
			settings = map[string]string{}
		}
		settings["AuthFailureDelay"] = "0"
	}
	var b strings.Builder
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := settings[k]
		if v == "" || strings.ContainsAny(v, " \t") {
			v = `"` + v + `"`
		}
		fmt.Fprintf(&b, "default:%s %s\n", k, v)
	}
	if vdmap != "" {
		write("vdmap.cfg", vdmap)
		fmt.Fprintf(&b, "default:VirtualDomainFile %s\n", filepath.Join(dir, "vdmap.cfg"))
	}
	write(name+".cfg", b.String())
	inst, problems := config.Load(dir, config.Options{})
	if problems.Fatal() {
		t.Fatalf("proxytest: configuration: %v", problems)
	}
	if len(inst.Services) != 1 {
		t.Fatalf("proxytest: %d services", len(inst.Services))
	}
	return inst.Services[0]
}

// Directory is an in-memory account.Directory: login user part (%U) or
// canonical name (%s) → entry. It records every query. Passwords serve
// both CheckPassword (PreAuth) and ClearPassword (CRAM-MD5, APOP); it maps
// no certificates.
type Directory struct {
	mu        sync.Mutex
	Users     map[string]*account.User // by Name.Canon, then by Name.User
	Passwords map[string]string        // clear-text passwords by DN, for CRAM-MD5 and APOP
	Err       error                    // if set, every lookup fails with it
	Queries   []account.Query
}

// CheckPassword implements account.Directory from Passwords.
func (r *Directory) CheckPassword(ctx context.Context, _ account.Query, u *account.User, password string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pw, ok := r.Passwords[u.DN]; ok && pw == password {
		return nil
	}
	return fmt.Errorf("proxytest: wrong password for %s: %w", u.DN, account.ErrNoUser)
}

// LookupCertificate implements account.Directory: no certificate maps to
// anybody in memory.
func (r *Directory) LookupCertificate(context.Context, *config.Values, *x509.Certificate, *cfgfmt.Map) (*account.User, error) {
	return nil, fmt.Errorf("proxytest: no certificate users: %w", account.ErrNoUser)
}

// RelaySASL implements account.Directory: there is no AuthenticationServer
// in memory.
func (r *Directory) RelaySASL(context.Context, *config.Values, string, netip.Addr, netip.Addr) (account.SASLRelay, error) {
	return nil, fmt.Errorf("proxytest: no AuthenticationServer: %w", account.ErrUnavailable)
}

// ClearPassword implements account.Directory from Passwords.
func (r *Directory) ClearPassword(ctx context.Context, _ *config.Values, u *account.User) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pw, ok := r.Passwords[u.DN]; ok {
		return pw, nil
	}
	return "", fmt.Errorf("proxytest: no clear password for %s: %w", u.DN, account.ErrNoUser)
}

// Lookup implements account.Directory.
func (r *Directory) Lookup(ctx context.Context, q account.Query) (*account.User, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Queries = append(r.Queries, q)
	if r.Err != nil {
		return nil, r.Err
	}
	if u, ok := r.Users[q.Name.Canon]; ok {
		return u, nil
	}
	if u, ok := r.Users[q.Name.User]; ok && q.Name.Domain == "" {
		return u, nil
	}
	return nil, fmt.Errorf("proxytest: %q: %w", q.Name.Canon, account.ErrNoUser)
}

// LastQuery returns the most recent query.
func (r *Directory) LastQuery() account.Query {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.Queries) == 0 {
		return account.Query{}
	}
	return r.Queries[len(r.Queries)-1]
}

// FDs lists this process's open descriptors by kind ("socket", "pipe",
// "file", "anon_inode", ...) from /proc/self/fd. It skips the test where
// /proc is missing.
func FDs(t testing.TB) map[string]int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("proxytest: cannot count descriptors: %v", err)
	}
	kinds := map[string]int{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the directory's own descriptor, closed meanwhile
		}
		kind := "file"
		if i := strings.Index(link, ":"); i > 0 && !strings.HasPrefix(link, "/") {
			kind = link[:i]
		}
		kinds[kind]++
	}
	return kinds
}

// Total adds up a FDs result.
func Total(kinds map[string]int) int {
	n := 0
	for _, v := range kinds {
		n += v
	}
	return n
}

// Settle runs the garbage collector until the splice pipes that Go's
// net package keeps in a sync.Pool are freed (they are closed by cleanups
// run after the pool is emptied, which takes two cycles), and waits until
// cond holds or the deadline passes. It reports whether cond held.
func Settle(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		runtime.GC()
		runtime.GC()
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TCPPair returns the two ends of a loopback TCP connection.
func TCPPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return a.(*net.TCPConn), r.c.(*net.TCPConn)
}

// SetUser adds or replaces an entry, safely against running lookups.
func (r *Directory) SetUser(key string, u *account.User) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Users == nil {
		r.Users = map[string]*account.User{}
	}
	r.Users[key] = u
}

// SetErr makes every lookup fail with err (nil: back to normal).
func (r *Directory) SetErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Err = err
}

// Client is a line-oriented client of a proxy under test, for every
// protocol: IMAP, POP and SMTP tests build on it.
type Client struct {
	T    testing.TB
	Conn net.Conn
	R    *bufio.Reader
}

// Dial connects to addr from the local address from ("" for any) and
// closes the connection when the test ends.
func Dial(t testing.TB, addr, from string) *Client {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Client{T: t, Conn: c, R: bufio.NewReader(c)}
}

// Send writes s as it is.
func (cl *Client) Send(s string) {
	cl.T.Helper()
	cl.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(cl.Conn, s); err != nil {
		cl.T.Fatalf("send %q: %v", s, err)
	}
}

// Line reads one line, which must end with CRLF, and returns it without.
func (cl *Client) Line() string {
	cl.T.Helper()
	cl.Conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	s, err := cl.R.ReadString('\n')
	if err != nil {
		cl.T.Fatalf("read: %v (after %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		cl.T.Fatalf("line %q does not end with CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// Expect reads lines and compares them with want.
func (cl *Client) Expect(want ...string) {
	cl.T.Helper()
	for _, w := range want {
		if got := cl.Line(); got != w {
			cl.T.Fatalf("read %q, want %q", got, w)
		}
	}
}

// ExpectPrefix reads a line and checks its beginning.
func (cl *Client) ExpectPrefix(prefix string) string {
	cl.T.Helper()
	got := cl.Line()
	if !strings.HasPrefix(got, prefix) {
		cl.T.Fatalf("read %q, want it to start with %q", got, prefix)
	}
	return got
}

// Do sends a command line and compares the reply lines.
func (cl *Client) Do(cmd string, want ...string) {
	cl.T.Helper()
	cl.Send(cmd + "\r\n")
	cl.Expect(want...)
}

// Closed checks that the server closed the connection.
func (cl *Client) Closed() {
	cl.T.Helper()
	cl.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(cl.R)
	if err != nil || len(rest) != 0 {
		cl.T.Fatalf("after the end: read %q, %v; want end of stream", rest, err)
	}
}
