package directory

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// fakeClock is Options.Now for cache tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestCache counts slapd's SRCH lines: a repeated lookup is served from
// the cache until LdapCacheTTL has passed, the cache holds LdapCacheSize
// entries, and failures are not cached.
func TestCache(t *testing.T) {
	s := startLDAP(t)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d, _ := newDir(t, Options{Now: clock.Now})
	v := values(t, s, "LdapCacheTTL", "60", "LdapCacheSize", "2")

	lookup := func(login string, wantSearches int, wantErr string) {
		t.Helper()
		before := countSearches(s)
		_, err := d.Lookup(t.Context(), query(login, v))
		if errKind(err) != wantErr {
			t.Fatalf("Lookup(%q) = %v, want %s", login, err, wantErr)
		}
		if got := countSearches(s) - before; got != wantSearches {
			t.Errorf("Lookup(%q) sent %d searches, want %d", login, got, wantSearches)
		}
	}
	lookup("alice", 1, "nil")
	lookup("alice", 0, "nil")
	clock.Add(59 * time.Second)
	lookup("alice", 0, "nil")
	clock.Add(time.Second)
	lookup("alice", 1, "nil") // expired at LdapCacheTTL

	lookup("bob", 1, "nil")
	lookup("jürgen", 1, "nil") // evicts alice, the least recently used
	lookup("bob", 0, "nil")
	lookup("alice", 1, "nil")

	// Failures are searched every time.
	lookup("nobody", 1, "ErrNoUser")
	lookup("nobody", 1, "ErrNoUser")
	lookup("carol", 1, "ErrNoUser")
	lookup("carol", 1, "ErrNoUser")
	lookup("dave", 1, "ErrUnavailable")
	lookup("dave", 1, "ErrUnavailable")

	// A different filter for the same user is a different entry.
	v2 := values(t, s, "LdapCacheTTL", "60", "LdapCacheSize", "2", "SearchFormat", "(&(uid=%s)(objectClass=inetMailUser))")
	before := countSearches(s)
	d.Lookup(t.Context(), query("bob", v2))
	if got := countSearches(s) - before; got != 1 {
		t.Errorf("Lookup(bob) with another SearchFormat sent %d searches, want 1", got)
	}

	// LdapCacheSize 0 and LdapCacheTTL 0 turn the cache off.
	for _, off := range [][]string{{"LdapCacheSize", "0"}, {"LdapCacheTTL", "0"}} {
		v := values(t, s, off...)
		for range 2 {
			before := countSearches(s)
			if _, err := d.Lookup(t.Context(), query("alice", v)); err != nil {
				t.Fatalf("Lookup(alice) with %s = %v", off, err)
			}
			if got := countSearches(s) - before; got != 1 {
				t.Errorf("Lookup(alice) with %s %s sent %d searches, want 1", off[0], off[1], got)
			}
		}
	}
}

// TestCacheHostedDomain: the domain node is cached too, so a cached domain
// costs one search per new user, not two.
func TestCacheHostedDomain(t *testing.T) {
	s := startLDAP(t)
	d, _ := newDir(t, Options{})
	v := values(t, s, "HostedDomains", "yes")
	for _, tt := range []struct {
		login string
		want  int
	}{{"judy@example.org", 2}, {"twin@example.org", 1}, {"judy@example.org", 0}} {
		before := countSearches(s)
		if _, err := d.Lookup(t.Context(), query(tt.login, v)); err != nil {
			t.Fatalf("Lookup(%q) = %v", tt.login, err)
		}
		if got := countSearches(s) - before; got != tt.want {
			t.Errorf("Lookup(%q) sent %d searches, want %d", tt.login, got, tt.want)
		}
	}
}

func TestLRU(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newLRU(3)
	for i := range 5 {
		c.add(fmt.Sprint(i), i, now)
	}
	if got := c.len(); got != 3 {
		t.Errorf("len after 5 adds to an LRU of 3 = %d, want 3", got)
	}
	for i, want := range []bool{false, false, true, true, true} { // in order: 4 ends most recent
		if _, ok := c.get(fmt.Sprint(i), now, time.Minute); ok != want {
			t.Errorf("get(%q) found = %v, want %v", fmt.Sprint(i), ok, want)
		}
	}
	c.get("2", now, time.Minute) // 2 is now the most recent
	c.add("5", 5, now)           // evicts 3
	if _, ok := c.get("3", now, time.Minute); ok {
		t.Errorf("get(3) after it became least recently used and 5 was added: found, want evicted")
	}
	if v, ok := c.get("2", now.Add(59*time.Second), time.Minute); !ok || v != 2 {
		t.Errorf("get(2) before the TTL = %v, %v; want 2, true", v, ok)
	}
	if _, ok := c.get("2", now.Add(time.Minute), time.Minute); ok {
		t.Errorf("get(2) at the TTL: found, want expired")
	}
	if _, ok := c.get("4", now.Add(-time.Second), time.Minute); ok {
		t.Errorf("get(4) with the clock turned back: found, want dropped")
	}
}

// BenchmarkLookupCached measures a lookup answered from the cache: the
// cost of every login of a user seen within LdapCacheTTL.
func BenchmarkLookupCached(b *testing.B) {
	s := slapd.Start(b, slapd.WithLDIF(twoStores(b)))
	d, _ := newDir(b, Options{Logger: slog.New(slog.DiscardHandler)})
	v := values(b, s)
	q := query("alice", v)
	if _, err := d.Lookup(b.Context(), q); err != nil {
		b.Fatal(err)
	}
	before := countSearches(s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Lookup(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	if got := countSearches(s) - before; got != 0 {
		b.Errorf("cached lookups sent %d searches, want 0", got)
	}
}

// BenchmarkLookupUncached measures a lookup that searches the real slapd
// over a pooled, already bound connection.
func BenchmarkLookupUncached(b *testing.B) {
	s := slapd.Start(b, slapd.WithLDIF(twoStores(b)))
	d, _ := newDir(b, Options{Logger: slog.New(slog.DiscardHandler)})
	v := values(b, s, "LdapCacheSize", "0")
	q := query("alice", v)
	if _, err := d.Lookup(b.Context(), q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Lookup(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupUncachedParallel is the same with concurrent logins
// sharing the pool.
func BenchmarkLookupUncachedParallel(b *testing.B) {
	s := slapd.Start(b, slapd.WithLDIF(twoStores(b)))
	d, _ := newDir(b, Options{Logger: slog.New(slog.DiscardHandler)})
	v := values(b, s, "LdapCacheSize", "0")
	q := query("alice", v)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Lookup(b.Context(), q); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
