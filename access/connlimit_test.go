package access

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openmmp/mmp/cfgfmt"
)

func parseLimits(t testing.TB, s string) []cfgfmt.ConnLimit {
	t.Helper()
	l, err := cfgfmt.ParseConnLimits(s)
	if err != nil {
		t.Fatalf("ParseConnLimits(%q) = %v", s, err)
	}
	return l
}

// acquire acquires a connection from a that must be admitted.
func acquire(t *testing.T, c *ConnCounter, a string) func() {
	t.Helper()
	release, ok, limit := c.Acquire(ip(a))
	if !ok {
		t.Fatalf("Acquire(%s) = _, false, %d, want ok (count %d)", a, limit, c.Count(ip(a)))
	}
	return release
}

func checkRefused(t *testing.T, c *ConnCounter, a string, wantLimit int) {
	t.Helper()
	release, ok, limit := c.Acquire(ip(a))
	if ok || limit != wantLimit || release == nil {
		t.Errorf("Acquire(%s) = %v, %v, %d, want non-nil, false, %d", a, release != nil, ok, limit, wantLimit)
	}
	if release != nil {
		release() // harmless on a refusal
	}
}

func checkCount(t *testing.T, c *ConnCounter, a string, want int) {
	t.Helper()
	if got := c.Count(ip(a)); got != want {
		t.Errorf("Count(%s) = %d, want %d", a, got, want)
	}
}

// live returns how many addresses the counter remembers.
func (c *ConnCounter) live() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.counts)
		s.mu.Unlock()
	}
	return n
}

func TestConnCounterDefault(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:20"))
	var releases []func()
	for range 20 {
		releases = append(releases, acquire(t, c, "198.51.100.7"))
	}
	checkRefused(t, c, "198.51.100.7", 20)
	checkRefused(t, c, "::ffff:198.51.100.7", 20) // the same client via a dual-stack listener
	checkCount(t, c, "198.51.100.7", 20)
	// The limit is per address, not shared by the network.
	if _, ok, limit := c.Acquire(ip("198.51.100.8")); !ok || limit != 20 {
		t.Errorf("Acquire(198.51.100.8) = _, %v, %d, want true, 20", ok, limit)
	}

	// Releasing frees a slot.
	releases[0]()
	acquire(t, c, "198.51.100.7")
	checkRefused(t, c, "198.51.100.7", 20)
}

func TestConnCounterLimit(t *testing.T) {
	// The example of docs/reference.md §3.4 plus an IPv6 entry.
	spec := parseLimits(t, "192.168.1.0|255.255.255.0:100,10.0.0.1|255.255.255.255:500,2001:db8::|32:3,0.0.0.0|0.0.0.0:20")
	for _, tt := range []struct {
		limits []cfgfmt.ConnLimit
		ip     string
		want   int
	}{
		{spec, "192.168.1.77", 100},
		{spec, "10.0.0.1", 500},
		{spec, "10.0.0.2", 20},
		{spec, "::ffff:10.0.0.1", 500},
		{spec, "2001:db8:5::1", 3},
		{spec, "2001:db9::1", 20}, // no IPv6 entry matches: the IPv4 catch-all
		// First match as written: a catch-all first hides what follows.
		{parseLimits(t, "0.0.0.0|0.0.0.0:20,10.0.0.1|255.255.255.255:500"), "10.0.0.1", 20},
		// An IPv6 catch-all of its own wins over the IPv4 one.
		{parseLimits(t, "0.0.0.0|0.0.0.0:20,::|0:7"), "2001:db8::1", 7},
		{parseLimits(t, "0.0.0.0|0.0.0.0:20,::|0:7"), "10.1.1.1", 20},
		// No catch-all: whoever no entry covers is unlimited.
		{parseLimits(t, "10.0.0.0|255.0.0.0:5"), "192.0.2.1", Unlimited},
		{parseLimits(t, "10.0.0.0|255.0.0.0:5"), "2001:db8::1", Unlimited},
		{nil, "192.0.2.1", Unlimited},
		// An IPv4 entry narrower than everyone does not reach IPv6.
		{parseLimits(t, "0.0.0.0|128.0.0.0:5"), "2001:db8::1", Unlimited},
	} {
		c := NewConnCounter(tt.limits)
		if got := c.Limit(ip(tt.ip)); got != tt.want {
			t.Errorf("Limit(%s) with %q = %d, want %d", tt.ip, cfgfmt.FormatConnLimits(tt.limits), got, tt.want)
		}
		release, ok, got := c.Acquire(ip(tt.ip))
		if !ok || got != tt.want {
			t.Errorf("Acquire(%s) with %q = _, %v, %d, want true, %d", tt.ip, cfgfmt.FormatConnLimits(tt.limits), ok, got, tt.want)
		}
		release()
	}
}

func TestConnCounterMostSpecific(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "10.0.0.1|255.255.255.255:2,10.0.0.0|255.255.255.0:3,0.0.0.0|0.0.0.0:20"))
	acquire(t, c, "10.0.0.1")
	acquire(t, c, "10.0.0.1")
	checkRefused(t, c, "10.0.0.1", 2)
	for range 3 {
		acquire(t, c, "10.0.0.2")
	}
	checkRefused(t, c, "10.0.0.2", 3)
	acquire(t, c, "10.0.1.2")
}

func TestConnCounterReleaseTwice(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:2"))
	r1 := acquire(t, c, "10.0.0.1")
	acquire(t, c, "10.0.0.1")
	r1()
	r1()
	r1()
	checkCount(t, c, "10.0.0.1", 1)
	acquire(t, c, "10.0.0.1")
	checkRefused(t, c, "10.0.0.1", 2)
}

func TestConnCounterForgets(t *testing.T) {
	c := NewConnCounter(nil)
	var releases []func()
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		for range 3 {
			r, ok, limit := c.Acquire(a)
			if !ok || limit != Unlimited {
				t.Fatalf("Acquire(%s) = _, %v, %d, want true, %d", a, ok, limit, Unlimited)
			}
			releases = append(releases, r)
		}
	}
	if n := c.live(); n != 1000 {
		t.Errorf("%d addresses remembered with 1000 connected, want 1000", n)
	}
	for _, r := range releases {
		r()
	}
	if n := c.live(); n != 0 {
		t.Errorf("%d addresses remembered after every release, want 0", n)
	}
}

func TestConnCounterSetLimits(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:20"))
	var releases []func()
	for range 10 {
		releases = append(releases, acquire(t, c, "10.0.0.1"))
	}
	c.SetLimits(parseLimits(t, "0.0.0.0|0.0.0.0:5"))
	checkCount(t, c, "10.0.0.1", 10)
	checkRefused(t, c, "10.0.0.1", 5)
	for _, r := range releases[:6] {
		r()
	}
	checkCount(t, c, "10.0.0.1", 4)
	acquire(t, c, "10.0.0.1")
	checkRefused(t, c, "10.0.0.1", 5)

	// Counts taken while unlimited hold when a limit arrives.
	c.SetLimits(nil)
	for range 5 {
		acquire(t, c, "10.0.0.2")
	}
	c.SetLimits(parseLimits(t, "10.0.0.2|255.255.255.255:5"))
	checkRefused(t, c, "10.0.0.2", 5)
}

func TestConnCounterZero(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "192.0.2.0|255.255.255.0:0,0.0.0.0|0.0.0.0:20"))
	checkRefused(t, c, "192.0.2.1", 0)
	checkCount(t, c, "192.0.2.1", 0)
}

func TestConnCounterIPv6(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:20"))
	for range 20 {
		acquire(t, c, "2001:db8::1")
	}
	checkRefused(t, c, "2001:db8::1", 20)
	checkRefused(t, c, "2001:db8::1%eth0", 20) // the zone is not part of the client
	checkCount(t, c, "2001:db8::1", 20)

	c = NewConnCounter(parseLimits(t, "2001:db8::|32:1,0.0.0.0|0.0.0.0:20"))
	acquire(t, c, "2001:db8::1")
	checkRefused(t, c, "2001:db8::1", 1)
	acquire(t, c, "2001:db8:0:1::1") // another /64 of the network
}

// An IPv6 host picks addresses in its /64 at will: counted per address, a
// flood from one /64 (2^64 addresses, each under the limit) would be
// limited by nothing. By default the /64 counts as one client, as BadGuys
// groups it.
func TestConnCounterIPv6Groups64(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:20"))
	for i := range 20 {
		acquire(t, c, fmt.Sprintf("2001:db8::%x", i+1))
	}
	checkRefused(t, c, "2001:db8::ffff:1", 20)
	checkRefused(t, c, "2001:db8::1", 20)
	checkCount(t, c, "2001:db8::abcd", 20)
	acquire(t, c, "2001:db8:0:1::1") // the next /64 is another client
	checkCount(t, c, "2001:db8:0:1::2", 1)
	// IPv4 clients are still counted per address.
	for range 20 {
		acquire(t, c, "192.0.2.1")
	}
	checkRefused(t, c, "192.0.2.1", 20)
	acquire(t, c, "192.0.2.2")
}

// ConnLimitsIPv6Prefix chooses the group: 128 counts each address, 48 a
// whole site; a change applies to connections opened afterwards.
func TestConnCounterIPv6Prefix(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:2"))
	c.SetIPv6Prefix(128)
	r1 := acquire(t, c, "2001:db8::1")
	acquire(t, c, "2001:db8::1")
	checkRefused(t, c, "2001:db8::1", 2)
	acquire(t, c, "2001:db8::2")

	c.SetIPv6Prefix(48)
	acquire(t, c, "2001:db8:0:5::1")
	acquire(t, c, "2001:db8:0:6::1")
	checkRefused(t, c, "2001:db8:0:7::1", 2)
	acquire(t, c, "2001:db8:1::1")

	// A connection counted under the old grouping is released from it.
	r1()
	c.SetIPv6Prefix(128)
	checkCount(t, c, "2001:db8::1", 1)
}

func TestConnCounterInvalid(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:0"))
	release, ok, limit := c.Acquire(netip.Addr{})
	if !ok || limit != Unlimited {
		t.Errorf("Acquire(invalid) = _, %v, %d, want true, %d", ok, limit, Unlimited)
	}
	release()
	if n := c.live(); n != 0 {
		t.Errorf("%d addresses remembered after Acquire(invalid), want 0", n)
	}
}

func TestConnCounterConcurrent(t *testing.T) {
	c := NewConnCounter(parseLimits(t, "0.0.0.0|0.0.0.0:20"))
	a := ip("198.51.100.7")
	var admitted atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var releases []func()
	for range 100 {
		wg.Go(func() {
			if r, ok, _ := c.Acquire(a); ok {
				admitted.Add(1)
				mu.Lock()
				releases = append(releases, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != 20 {
		t.Errorf("%d of 100 simultaneous connections from %s admitted, want 20", n, a)
	}
	for _, r := range releases {
		wg.Go(func() { r(); r() })
	}
	wg.Wait()
	checkCount(t, c, a.String(), 0)
	if n := c.live(); n != 0 {
		t.Errorf("%d addresses remembered after every release, want 0", n)
	}
}

// BenchmarkConnCounter measures an Acquire and its release, each
// goroutine connecting from addresses of its own, under the default
// limits.
func BenchmarkConnCounter(b *testing.B) {
	c := NewConnCounter(parseLimits(b, "192.168.1.0|255.255.255.0:100,10.0.0.1|255.255.255.255:500,0.0.0.0|0.0.0.0:20"))
	var next atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		i := 0
		for pb.Next() {
			a := netip.AddrFrom4([4]byte{198, byte(g), byte(i >> 8), byte(i)})
			release, ok, _ := c.Acquire(a)
			if !ok {
				b.Errorf("Acquire(%s) refused", a)
				return
			}
			release()
			i++
		}
	})
}

// BenchmarkConnCounterSameIP is the worst case: every goroutine connects
// from one address, so all contend for one lock.
func BenchmarkConnCounterSameIP(b *testing.B) {
	c := NewConnCounter(nil)
	a := ip("198.51.100.7")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, _, _ := c.Acquire(a)
			release()
		}
	})
}

func ExampleConnCounter() {
	limits, _ := cfgfmt.ParseConnLimits("0.0.0.0|0.0.0.0:2")
	conns := NewConnCounter(limits)
	client := netip.MustParseAddr("192.0.2.1")
	for range 3 {
		release, ok, limit := conns.Acquire(client)
		if !ok {
			fmt.Printf("Connection limit reached for client IP %s (limit %d)\n", client, limit)
			continue
		}
		defer release()
		fmt.Println("admitted")
	}
	// Output:
	// admitted
	// admitted
	// Connection limit reached for client IP 192.0.2.1 (limit 2)
}
