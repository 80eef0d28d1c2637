// Package proxytest holds helpers for the tests of package proxy and of the
// protocol packages: a configuration built from a few settings, an
// in-memory Directory, descriptor and goroutine counting, and loopback
// connection pairs. It is imported only by _test.go files.
package proxytest

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
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
