package directory

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// TestPoolBound: 200 concurrent lookups of different users share at most
// MaxConns connections, each bound once; none opens a connection of its
// own.
func TestPoolBound(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)), slapd.WithLDIF(manyLDIF()))
	d, _ := newDir(t, Options{})
	v := values(t, s)
	conns, binds := bindConns(s), s.CountBinds(s.ProxyDN)

	var wg sync.WaitGroup
	errs := make(chan error, manyUsers)
	for i := range manyUsers {
		wg.Go(func() {
			login := fmt.Sprintf("user%03d", i)
			u, err := d.Lookup(ctxTimeout(t, 10*time.Second), query(login, v))
			if err != nil {
				errs <- fmt.Errorf("Lookup(%s) = %v, want success", login, err)
			} else if u.MailHosts[0] != store2 {
				errs <- fmt.Errorf("Lookup(%s) = %q, want %s", login, u.MailHosts, store2)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	gotConns, gotBinds := newBindConns(s, conns), s.CountBinds(s.ProxyDN)-binds
	if gotConns < 1 || gotConns > DefaultMaxConns {
		t.Errorf("connections used for %d concurrent lookups = %d, want 1..%d", manyUsers, gotConns, DefaultMaxConns)
	}
	if gotBinds != gotConns {
		t.Errorf("proxy binds for %d concurrent lookups = %d, want one per connection (%d)", manyUsers, gotBinds, gotConns)
	}
	if got := countSearches(s); got < manyUsers {
		t.Errorf("searches = %d, want at least %d", got, manyUsers)
	}
	t.Logf("%d lookups: %d connections, %d binds", manyUsers, gotConns, gotBinds)
}

// TestPoolWaitsWithinContext: with every connection taken, a lookup waits
// for one only as long as its context allows.
func TestPoolWaitsWithinContext(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{MaxConns: 1})
	v := values(t, s)
	if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
		t.Fatalf("Lookup(alice) = %v", err)
	}
	p, _ := d.pool(v, searchPool)
	c, err := p.get(t.Context(), "")
	if err != nil {
		t.Fatalf("pool.get = %v", err)
	}
	start := time.Now()
	_, err = d.Lookup(ctxTimeout(t, 200*time.Millisecond), query("bob", v))
	if errKind(err) != "ErrUnavailable" || !strings.Contains(err.Error(), "waiting for a free connection") {
		t.Errorf("Lookup(bob) with the only connection taken = %v, want ErrUnavailable waiting for a free connection", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Lookup(bob) with the only connection taken returned after %v, want about 200ms", el)
	}
	p.put(c)
	if _, err := d.Lookup(t.Context(), query("bob", v)); err != nil {
		t.Errorf("Lookup(bob) after the connection came back = %v", err)
	}
	if got := s.CountBinds(s.ProxyDN); got != 1 {
		t.Errorf("CountBinds(proxy) = %d, want 1", got)
	}
}

// TestPoolRefreshInterval: connections older than LdapRefreshInterval are
// replaced (docs/reference.md §2.2).
func TestPoolRefreshInterval(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{})
	v := values(t, s, "LdapRefreshInterval", "1", "LdapCacheSize", "0")
	for range 3 {
		if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
			t.Fatalf("Lookup(alice) = %v", err)
		}
	}
	if got := s.CountBinds(s.ProxyDN); got != 1 {
		t.Errorf("connections (proxy binds) for 3 lookups within LdapRefreshInterval = %d, want 1", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
		t.Fatalf("Lookup(alice) = %v", err)
	}
	if got := s.CountBinds(s.ProxyDN); got != 2 {
		t.Errorf("connections (proxy binds) after LdapRefreshInterval passed = %d, want 2", got)
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
}

// TestFailover: the first host of LdapUrl refuses connections; lookups go
// to the second, and the first is not dialled on every login.
func TestFailover(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, lb := newDir(t, Options{})
	dead := closedPort(t)
	live := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	v := values(t, s, "LdapUrl", "ldap://"+dead+" "+live+"/o=internet", "LdapCacheSize", "0")
	p, _ := d.pool(v, searchPool)
	for i := range 3 {
		if u, err := d.Lookup(t.Context(), query("alice", v)); err != nil || u.MailHosts[0] != store1 {
			t.Fatalf("Lookup(alice) #%d with %s down = %+v, %v; want %s", i, dead, u, err, store1)
		}
		dropIdle(p) // so that every lookup dials
	}
	if got := strings.Count(lb.String(), "ldap://"+dead+" is down"); got != 1 {
		t.Errorf("log lines about %s being down = %d, want 1 (skipped for %s)\n%s", dead, got, hostDownFor, lb.String())
	}
	if got := s.CountBinds(s.ProxyDN); got != 3 {
		t.Errorf("connections (proxy binds) to the live host = %d, want one per lookup (3)", got)
	}
	// The other form of LdapUrl: complete URLs.
	v = values(t, s, "LdapUrl", "ldap://"+dead+"/o=internet ldap://"+live+"/o=internet")
	if _, err := d.Lookup(t.Context(), query("bob", v)); err != nil {
		t.Errorf("Lookup(bob) with fail-over URLs = %v", err)
	}
}

// TestDirectoryDown: with the directory stopped, a lookup fails fast with
// ErrUnavailable; after a restart the same Directory recovers on its own.
func TestDirectoryDown(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{OpTimeout: 2 * time.Second, DialTimeout: time.Second})
	v := values(t, s)
	if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
		t.Fatalf("Lookup(alice) = %v", err)
	}
	s.Stop()
	for _, login := range []string{"bob", "jürgen", "bob"} { // uncached, then cached
		start := time.Now()
		_, err := d.Lookup(ctxTimeout(t, 10*time.Second), query(login, v))
		if errKind(err) != "ErrUnavailable" {
			t.Errorf("Lookup(%s) with slapd stopped = %v, want ErrUnavailable", login, err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("Lookup(%s) with slapd stopped took %v, want less than OpTimeout", login, el)
		}
	}
	// Alice is cached and still found: the cache is what lets logins
	// continue through a short directory outage.
	if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
		t.Errorf("Lookup(alice) from the cache with slapd stopped = %v, want success", err)
	}

	s.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := d.Lookup(t.Context(), query("bob", v))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Lookup(bob) 5s after slapd restarted = %v, want success", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := d.Lookup(t.Context(), query("jürgen", v)); err != nil {
		t.Errorf("Lookup(jürgen) after restart = %v", err)
	}
}

// TestDirectoryHung: slapd is frozen (SIGSTOP). The kernel still accepts
// connections for it, so only timeouts can save the login; a lookup gives
// ErrUnavailable within about two OpTimeouts (the try and the retry), and
// the Directory recovers when slapd thaws.
func TestDirectoryHung(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	pidText, err := os.ReadFile(filepath.Join(s.Dir, "slapd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatalf("slapd.pid: %v", err)
	}
	const opTimeout = 300 * time.Millisecond
	d, _ := newDir(t, Options{OpTimeout: opTimeout, DialTimeout: opTimeout})
	v := values(t, s)
	if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
		t.Fatalf("Lookup(alice) = %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, pid)
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw) // before the fixture's own cleanup stops slapd

	start := time.Now()
	_, err = d.Lookup(t.Context(), query("bob", v))
	if errKind(err) != "ErrUnavailable" {
		t.Errorf("Lookup(bob) with slapd frozen = %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 4*opTimeout {
		t.Errorf("Lookup(bob) with slapd frozen took %v, want at most about 2×%v", el, opTimeout)
	}
	// A context shorter than OpTimeout wins.
	d2, _ := newDir(t, Options{})
	start = time.Now()
	_, err = d2.Lookup(ctxTimeout(t, 200*time.Millisecond), query("bob", v))
	if errKind(err) != "ErrUnavailable" {
		t.Errorf("Lookup(bob) with slapd frozen and a 200ms context = %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Lookup(bob) with slapd frozen and a 200ms context took %v", el)
	}

	thaw()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := d.Lookup(t.Context(), query("bob", v))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Lookup(bob) 5s after slapd thawed = %v, want success", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClose: a closed Directory refuses lookups instead of reconnecting.
func TestClose(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{})
	v := values(t, s)
	if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
		t.Fatalf("Lookup(alice) = %v", err)
	}
	d.Close()
	if _, err := d.Lookup(t.Context(), query("alice", v)); errKind(err) != "ErrUnavailable" {
		t.Errorf("Lookup(alice) after Close = %v, want ErrUnavailable", err)
	}
	if err := d.bindDN(t.Context(), v, "uid=alice,ou=People,o=internet", "alicepw"); errKind(err) != "ErrUnavailable" {
		t.Errorf("Bind(alice) after Close = %v, want ErrUnavailable", err)
	}
}

// dropIdle closes the idle connections of p, as if they had aged out.
func dropIdle(p *pool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		p.close(c)
	}
}

// TestLDAPS: ldaps:// speaks TLS first; against a plain LDAP port the
// handshake fails and the login is told to come back later.
func TestLDAPS(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{DialTimeout: 2 * time.Second})
	v := values(t, s, "LdapUrl", fmt.Sprintf("ldaps://%s:%d/o=internet", s.Host, s.Port))
	_, err := d.Lookup(t.Context(), query("alice", v))
	if errKind(err) != "ErrUnavailable" || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("Lookup(alice) over ldaps:// to a plain LDAP port = %v, want ErrUnavailable with a TLS error", err)
	}
	if got := d.tlsConfig("ldap.example.com:636"); got.ServerName != "ldap.example.com" || got.InsecureSkipVerify {
		t.Errorf("tlsConfig(ldap.example.com:636) = ServerName %q InsecureSkipVerify %v, want verification of ldap.example.com",
			got.ServerName, got.InsecureSkipVerify)
	}
}

// waitStopped waits until every thread of pid is stopped: kill(SIGSTOP)
// returns before a thread busy on another CPU has stopped, and such a
// thread could still answer one more request.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			// The state follows the command name in parentheses.
			if i := strings.LastIndexByte(string(b), ')'); err == nil && i >= 0 && i+2 < len(b) && b[i+2] != 'T' && b[i+2] != 't' {
				stopped = false
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd (pid %d) did not stop within 5s of SIGSTOP", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
