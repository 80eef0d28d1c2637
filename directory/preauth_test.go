package directory

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

const (
	aliceDN = "uid=alice,ou=People,o=internet"
	bobDN   = "uid=bob,ou=People,o=internet"
)

// lookupUser looks login up and fails the test if that fails.
func lookupUser(t testing.TB, d *Directory, q account.Query) *account.User {
	t.Helper()
	u, err := d.Lookup(t.Context(), q)
	if err != nil {
		t.Fatalf("Lookup(%q) = %v", q.Name.Orig, err)
	}
	return u
}

// TestPreAuth checks passwords with binds as the user, and the
// pre-authentication cache: a second login is served without a bind,
// failures are never cached, a changed password is refused once the entry
// is AuthCacheTTL old, and the old password is never accepted from the
// cache once the new one has been used.
func TestPreAuth(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d, lb := newDir(t, Options{Now: clock.Now})
	v := values(t, s, "AuthCacheTTL", "60", "AuthCacheSize", "10")
	qa, qb := query("alice", v), query("bob", v)
	alice, bob := lookupUser(t, d, qa), lookupUser(t, d, qb)

	check := func(q account.Query, u *account.User, pw, want string, wantBinds int) {
		t.Helper()
		before := s.CountBinds(u.DN)
		if err := d.CheckPassword(t.Context(), q, u, pw); errKind(err) != want {
			t.Errorf("PreAuth(%s, %q) = %v, want %s", u.DN, pw, err, want)
		}
		if got := s.CountBinds(u.DN) - before; got != wantBinds {
			t.Errorf("PreAuth(%s, %q) sent %d binds, want %d", u.DN, pw, got, wantBinds)
		}
	}
	check(qa, alice, "alicepw", "nil", 1)
	check(qa, alice, "alicepw", "nil", 0) // from the cache
	check(qa, alice, "wrong", "ErrNoUser", 1)
	check(qa, alice, "wrong", "ErrNoUser", 1) // failures are not cached
	check(qa, alice, "", "ErrNoUser", 0)      // never an unauthenticated bind
	check(qa, alice, "alicepw", "nil", 0)     // a wrong password did not evict the right one
	check(qa, &account.User{DN: "uid=nobody,ou=People,o=internet"}, "x", "ErrNoUser", 1)

	// The password changes in the directory: the cached one is accepted
	// until AuthCacheTTL has passed since it was checked (docs/reference.md §2.3), then
	// refused.
	s.SetPassword(t, aliceDN, "alice-new")
	clock.Add(59 * time.Second)
	check(qa, alice, "alicepw", "nil", 0)
	clock.Add(time.Second)
	check(qa, alice, "alicepw", "ErrNoUser", 1)
	check(qa, alice, "alice-new", "nil", 1)
	check(qa, alice, "alice-new", "nil", 0)

	// Once the new password has been used, the old one is never served
	// from the cache, even within the TTL of its entry.
	check(qb, bob, "bobpw", "nil", 1)
	s.SetPassword(t, bobDN, "bob-new")
	check(qb, bob, "bob-new", "nil", 1)
	check(qb, bob, "bobpw", "ErrNoUser", 1)
	check(qb, bob, "bob-new", "nil", 0)

	// The binds never touched the BindDN pool: a lookup still searches
	// as the proxy account, which bound once.
	if _, err := d.Lookup(t.Context(), query("jürgen", v)); err != nil {
		t.Errorf("Lookup(jürgen) after PreAuth = %v", err)
	}
	if got := s.CountBinds(s.ProxyDN); got != 1 {
		t.Errorf("CountBinds(proxy) = %d, want 1", got)
	}

	// The cache holds one entry per DN, and neither key nor value shows a
	// password.
	p, _ := d.pool(v, bindPool)
	c := p.cache(authCacheKind, 10)
	if got := c.len(); got != 2 {
		t.Errorf("auth cache entries = %d, want 2 (one per DN)", got)
	}
	c.mu.Lock()
	for el := c.ll.Front(); el != nil; el = el.Next() {
		it := el.Value.(*lruItem)
		text := fmt.Sprintf("%q %#v", it.key, *it.value.(*authEntry))
		for _, pw := range []string{"alicepw", "alice-new", "bobpw", "bob-new"} {
			if strings.Contains(text, pw) {
				t.Errorf("auth cache entry %s shows the password %q", text, pw)
			}
		}
	}
	c.mu.Unlock()
	for _, pw := range []string{"alicepw", "alice-new", "bobpw", "bob-new", "wrong"} {
		if strings.Contains(lb.String(), pw) {
			t.Errorf("log shows the password %q:\n%s", pw, lb.String())
		}
	}
}

// TestPreAuthCacheOff: AuthCacheSize 0 or AuthCacheTTL 0 bind every time.
func TestPreAuthCacheOff(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{})
	for _, off := range [][]string{{"AuthCacheSize", "0"}, {"AuthCacheTTL", "0"}} {
		v := values(t, s, off...)
		u := lookupUser(t, d, query("alice", v))
		before := s.CountBinds(aliceDN)
		for range 3 {
			if err := d.CheckPassword(t.Context(), query("alice", v), u, "alicepw"); err != nil {
				t.Fatalf("PreAuth(alice) with %s = %v", off, err)
			}
		}
		if got := s.CountBinds(aliceDN) - before; got != 3 {
			t.Errorf("PreAuth(alice) ×3 with %s %s sent %d binds, want 3", off[0], off[1], got)
		}
	}
}

// TestPreAuthDown: with the directory stopped, PreAuth gives ErrUnavailable
// (not ErrNoUser: the password was not refused) within the timeouts, except
// for a password the cache vouches for.
func TestPreAuthDown(t *testing.T) {
	s := slapd.Start(t, slapd.WithLDIF(twoStores(t)))
	d, _ := newDir(t, Options{OpTimeout: 2 * time.Second, DialTimeout: time.Second})
	v := values(t, s)
	alice, bob := lookupUser(t, d, query("alice", v)), lookupUser(t, d, query("bob", v))
	if err := d.CheckPassword(t.Context(), query("alice", v), alice, "alicepw"); err != nil {
		t.Fatalf("PreAuth(alice) = %v", err)
	}
	s.Stop()
	start := time.Now()
	if err := d.CheckPassword(t.Context(), query("bob", v), bob, "bobpw"); errKind(err) != "ErrUnavailable" {
		t.Errorf("PreAuth(bob) with slapd stopped = %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("PreAuth(bob) with slapd stopped took %v", el)
	}
	if err := d.CheckPassword(t.Context(), query("alice", v), alice, "alicepw"); err != nil {
		t.Errorf("PreAuth(alice) from the cache with slapd stopped = %v, want success", err)
	}
	s.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := d.CheckPassword(t.Context(), query("bob", v), bob, "bobpw")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PreAuth(bob) 5s after slapd restarted = %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkPreAuthCached measures a pre-authentication the cache answers:
// an HMAC and a map lookup, no LDAP.
func BenchmarkPreAuthCached(b *testing.B) {
	s := slapd.Start(b, slapd.WithLDIF(twoStores(b)))
	d, _ := newDir(b, Options{Logger: slog.New(slog.DiscardHandler)})
	v := values(b, s)
	q := query("alice", v)
	u := lookupUser(b, d, q)
	if err := d.CheckPassword(b.Context(), q, u, "alicepw"); err != nil {
		b.Fatal(err)
	}
	before := s.CountBinds(aliceDN)
	b.ReportAllocs()
	for b.Loop() {
		if err := d.CheckPassword(b.Context(), q, u, "alicepw"); err != nil {
			b.Fatal(err)
		}
	}
	if got := s.CountBinds(aliceDN) - before; got != 0 {
		b.Errorf("cached pre-authentications sent %d binds, want 0", got)
	}
}

// BenchmarkPreAuthUncached measures a pre-authentication that binds to the
// real slapd over a pooled connection (AuthCacheSize 0).
func BenchmarkPreAuthUncached(b *testing.B) {
	s := slapd.Start(b, slapd.WithLDIF(twoStores(b)))
	d, _ := newDir(b, Options{Logger: slog.New(slog.DiscardHandler)})
	v := values(b, s, "AuthCacheSize", "0")
	q := query("alice", v)
	u := lookupUser(b, d, q)
	b.ReportAllocs()
	for b.Loop() {
		if err := d.CheckPassword(b.Context(), q, u, "alicepw"); err != nil {
			b.Fatal(err)
		}
	}
}
