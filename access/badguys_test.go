package access

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a time source the tests move by hand.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	calls atomic.Int64 // how many times Now was called
}

func newClock() *clock {
	return &clock{t: time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sunDefaults returns the Sun 6 defaults of docs/reference.md §2.5 on clk.
func sunDefaults(clk *clock) BadGuysConfig {
	return BadGuysConfig{
		Max:        10000,
		Penalty:    2 * time.Second,
		MaxBadness: 60 * time.Second,
		Decay:      900 * time.Second,
		Now:        clk.Now,
	}
}

var ip = netip.MustParseAddr

func checkDelay(t *testing.T, b *BadGuys, a string, want time.Duration) {
	t.Helper()
	if got := b.Delay(ip(a)); got != want {
		t.Errorf("Delay(%s) = %v, want %v", a, got, want)
	}
}

func checkLen(t *testing.T, b *BadGuys, want int) {
	t.Helper()
	if got := b.Len(); got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}

func TestBadGuysAccrue(t *testing.T) {
	for _, linear := range []bool{false, true} {
		clk := newClock()
		cfg := sunDefaults(clk)
		cfg.Linear = linear
		b := NewBadGuys(cfg)
		const a = "198.51.100.7"
		for n := 1; n <= 40; n++ {
			want := min(time.Duration(n)*cfg.Penalty, cfg.MaxBadness)
			got, logged := b.Failure(ip(a))
			if got != want || !logged {
				t.Fatalf("Linear=%v: failure %d: Failure(%s) = %v, %v, want %v, true", linear, n, a, got, logged, want)
			}
			checkDelay(t, b, a, want)
		}
		checkDelay(t, b, "198.51.100.8", 0)
	}
}

func TestBadGuysStep(t *testing.T) {
	clk := newClock()
	b := NewBadGuys(sunDefaults(clk))
	const a = "198.51.100.7"
	for range 3 {
		b.Failure(ip(a))
	}
	clk.Advance(899 * time.Second)
	checkDelay(t, b, a, 6*time.Second)
	clk.Advance(time.Second)
	checkDelay(t, b, a, 0)
	checkLen(t, b, 0)

	// A new failure after forgiveness starts from nothing.
	if got, _ := b.Failure(ip(a)); got != 2*time.Second {
		t.Errorf("Failure(%s) after decay = %v, want 2s", a, got)
	}
	// Each failure restarts the decay.
	clk.Advance(800 * time.Second)
	b.Failure(ip(a))
	clk.Advance(800 * time.Second)
	checkDelay(t, b, a, 4*time.Second)
}

func TestBadGuysLinear(t *testing.T) {
	clk := newClock()
	cfg := sunDefaults(clk)
	cfg.Linear = true
	b := NewBadGuys(cfg)
	const a = "198.51.100.7"
	b.Failure(ip(a))
	b.Failure(ip(a))
	checkDelay(t, b, a, 4*time.Second)
	clk.Advance(450 * time.Second)
	checkDelay(t, b, a, 2*time.Second)
	clk.Advance(225 * time.Second)
	checkDelay(t, b, a, time.Second)

	// A failure adds to what is left, not to the original penalty.
	if got, _ := b.Failure(ip(a)); got != 3*time.Second {
		t.Errorf("Failure(%s) at 3/4 decay = %v, want 3s", a, got)
	}
	clk.Advance(900 * time.Second)
	checkDelay(t, b, a, 0)
	checkLen(t, b, 0)
}

func TestBadGuysExcluded(t *testing.T) {
	clk := newClock()
	cfg := sunDefaults(clk)
	cfg.Excluded = []netip.Prefix{
		netip.MustParsePrefix("192.168.50.0/24"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("2001:db8:1::5/128"),
	}
	b := NewBadGuys(cfg)
	for _, a := range []string{"192.168.50.9", "::ffff:192.168.50.9", "127.0.0.1", "2001:db8:1::5", "2001:db8:1::5%eth0"} {
		for range 5 {
			if got, logged := b.Failure(ip(a)); got != 0 || logged {
				t.Errorf("Failure(%s) = %v, %v, want 0, false", a, got, logged)
			}
		}
		checkDelay(t, b, a, 0)
	}
	checkLen(t, b, 0)

	// The neighbour of an excluded host in the same /64 is penalised, the
	// excluded host still is not.
	b.Failure(ip("2001:db8:1::6"))
	checkDelay(t, b, "2001:db8:1::6", 2*time.Second)
	checkDelay(t, b, "2001:db8:1::5", 0)
	b.Success(ip("2001:db8:1::5"))
	checkDelay(t, b, "2001:db8:1::6", 2*time.Second)
}

func TestBadGuysEviction(t *testing.T) {
	clk := newClock()
	cfg := sunDefaults(clk)
	cfg.Max = 3
	b := NewBadGuys(cfg)
	fail := func(a string) {
		t.Helper()
		if _, logged := b.Failure(ip(a)); !logged {
			t.Fatalf("Failure(%s) not counted", a)
		}
		clk.Advance(time.Second)
	}
	fail("10.0.0.1")
	fail("10.0.0.2")
	fail("10.0.0.3")
	fail("10.0.0.1") // now the newest: 10.0.0.2 has the oldest failure
	fail("10.0.0.4")
	checkLen(t, b, 3)
	checkDelay(t, b, "10.0.0.2", 0)
	checkDelay(t, b, "10.0.0.1", 4*time.Second)
	checkDelay(t, b, "10.0.0.3", 2*time.Second)
	checkDelay(t, b, "10.0.0.4", 2*time.Second)
	fail("10.0.0.5")
	checkDelay(t, b, "10.0.0.3", 0)
	checkDelay(t, b, "10.0.0.5", 2*time.Second)

	// Forgiven clients make room before anyone is evicted: all three go,
	// not just the oldest.
	clk.Advance(cfg.Decay)
	fail("10.0.0.6")
	checkLen(t, b, 1)
}

func TestBadGuysSuccess(t *testing.T) {
	clk := newClock()
	b := NewBadGuys(sunDefaults(clk))
	const a = "198.51.100.7"
	for range 3 {
		b.Failure(ip(a))
	}
	b.Failure(ip("198.51.100.8"))
	// The success is still delayed (the caller waits Delay first) ...
	checkDelay(t, b, a, 6*time.Second)
	// ... then forgiven.
	b.Success(ip(a))
	checkDelay(t, b, a, 0)
	checkDelay(t, b, "198.51.100.8", 2*time.Second)
	checkLen(t, b, 1)
	b.Success(ip("203.0.113.1")) // not in the table: nothing happens
	b.Success(netip.Addr{})
	checkLen(t, b, 1)
}

func TestBadGuysReconfigure(t *testing.T) {
	clk := newClock()
	cfg := sunDefaults(clk)
	b := NewBadGuys(cfg)
	for i := 1; i <= 5; i++ {
		for range i {
			b.Failure(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
		}
		clk.Advance(time.Second)
	}
	cfg.Max = 2
	cfg.MaxBadness = 9 * time.Second
	b.Reconfigure(cfg)
	checkLen(t, b, 2)
	checkDelay(t, b, "10.0.0.3", 0)
	checkDelay(t, b, "10.0.0.4", 8*time.Second)
	checkDelay(t, b, "10.0.0.5", 9*time.Second) // the new cap applies

	cfg.Excluded = []netip.Prefix{netip.MustParsePrefix("10.0.0.4/32")}
	b.Reconfigure(cfg)
	checkDelay(t, b, "10.0.0.4", 0)

	cfg.Decay = 10 * time.Second // a shorter decay forgives sooner
	b.Reconfigure(cfg)
	clk.Advance(10 * time.Second)
	checkDelay(t, b, "10.0.0.5", 0)

	b.Failure(ip("10.0.0.9"))
	cfg.Max = 0 // BadGuys off
	b.Reconfigure(cfg)
	checkLen(t, b, 0)
	if got, logged := b.Failure(ip("10.0.0.9")); got != 0 || logged {
		t.Errorf("Failure(10.0.0.9) with BGMax 0 = %v, %v, want 0, false", got, logged)
	}
}

func TestBadGuysOff(t *testing.T) {
	for _, mod := range []func(*BadGuysConfig){
		func(c *BadGuysConfig) { c.Max = 0 },
		func(c *BadGuysConfig) { c.Penalty = 0 },
		func(c *BadGuysConfig) { c.MaxBadness = 0 },
		func(c *BadGuysConfig) { c.Decay = 0 },
	} {
		cfg := sunDefaults(newClock())
		mod(&cfg)
		b := NewBadGuys(cfg)
		if got, logged := b.Failure(ip("10.0.0.1")); got != 0 || logged {
			t.Errorf("%+v: Failure(10.0.0.1) = %v, %v, want 0, false", cfg, got, logged)
		}
		checkDelay(t, b, "10.0.0.1", 0)
	}
}

func TestBadGuysAddresses(t *testing.T) {
	clk := newClock()
	b := NewBadGuys(sunDefaults(clk))
	// An IPv4 client seen through a dual-stack listener is the same client.
	b.Failure(ip("::ffff:198.51.100.7"))
	b.Failure(ip("198.51.100.7"))
	checkDelay(t, b, "198.51.100.7", 4*time.Second)
	checkDelay(t, b, "::ffff:198.51.100.7", 4*time.Second)

	// IPv6 clients are grouped by /64.
	b.Failure(ip("2001:db8:a:b::1"))
	b.Failure(ip("2001:db8:a:b:ffff:ffff:ffff:ffff"))
	b.Failure(ip("fe80::1%eth0"))
	checkDelay(t, b, "2001:db8:a:b:1234::99", 4*time.Second)
	checkDelay(t, b, "2001:db8:a:c::1", 0)
	checkDelay(t, b, "fe80::2", 2*time.Second)
	checkLen(t, b, 3)

	// An unknown peer is never counted.
	if got, logged := b.Failure(netip.Addr{}); got != 0 || logged {
		t.Errorf("Failure(invalid) = %v, %v, want 0, false", got, logged)
	}
	if got := b.Delay(netip.Addr{}); got != 0 {
		t.Errorf("Delay(invalid) = %v, want 0", got)
	}
}

func TestBadGuysConcurrent(t *testing.T) {
	cfg := BadGuysConfig{Max: 50, Penalty: time.Second, MaxBadness: 10 * time.Second, Decay: time.Minute}
	b := NewBadGuys(cfg)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				a := netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})
				switch i % 7 {
				case 0:
					b.Success(a)
				case 1:
					b.Delay(a)
				case 2:
					if g == 0 && i%70 == 2 {
						b.Reconfigure(cfg)
					}
				default:
					if d, _ := b.Failure(a); d > cfg.MaxBadness {
						t.Errorf("Failure(%s) = %v, want at most %v", a, d, cfg.MaxBadness)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := b.Len(); n > cfg.Max {
		t.Errorf("Len() = %d, want at most %d", n, cfg.Max)
	}
}

// TestBadGuysWaitIndependent shows that a bad guy waiting out a long delay
// slows nobody else: another client's Wait returns at once.
func TestBadGuysWaitIndependent(t *testing.T) {
	clk := newClock()
	b := NewBadGuys(sunDefaults(clk))
	bad, good := ip("198.51.100.7"), ip("203.0.113.9")
	for range 30 {
		b.Failure(bad)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := clk.calls.Load()
	done := make(chan error, 1)
	go func() { done <- b.Wait(ctx, bad) }()
	// Once the bad guy's Wait has read the clock it has its delay and is
	// about to park on its timer.
	for clk.calls.Load() == before {
		runtime.Gosched()
	}

	start := time.Now()
	if err := b.Wait(context.Background(), good); err != nil {
		t.Fatalf("Wait(%s) = %v, want nil", good, err)
	}
	if d := time.Since(start); d > 10*time.Millisecond {
		t.Errorf("Wait(%s) took %v while %s waits 60s, want under 10ms", good, d, bad)
	} else {
		t.Logf("Wait(%s) returned in %v while %s waits 60s", good, d, bad)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait(%s) = %v before its 60s delay, want it still waiting", bad, err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Wait(%s) after cancel = %v, want %v", bad, err, context.Canceled)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Wait(%s) did not return after its context was cancelled", bad)
	}
}

func TestBadGuysWaitSleeps(t *testing.T) {
	const penalty = 20 * time.Millisecond
	b := NewBadGuys(BadGuysConfig{Max: 10, Penalty: penalty, MaxBadness: time.Second, Decay: time.Minute})
	a := ip("198.51.100.7")
	b.Failure(a)
	start := time.Now()
	if err := b.Wait(context.Background(), a); err != nil {
		t.Fatalf("Wait(%s) = %v, want nil", a, err)
	}
	if d := time.Since(start); d < penalty {
		t.Errorf("Wait(%s) returned after %v, want at least %v", a, d, penalty)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Wait(ctx, a); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(cancelled, %s) = %v, want %v", a, err, context.Canceled)
	}
}

func TestSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0},
		{2 * time.Second, 2},
		{2499 * time.Millisecond, 2},
		{2500 * time.Millisecond, 3},
		{60 * time.Second, 60},
	} {
		if got := Seconds(tt.d); got != tt.want {
			t.Errorf("Seconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// BenchmarkBadGuysFailure measures a failure from a new client when the
// table is full at the default BGMax of 10,000: every iteration evicts.
func BenchmarkBadGuysFailure(b *testing.B) {
	clk := newClock()
	cfg := sunDefaults(clk)
	bg := NewBadGuys(cfg)
	addr := func(i int) netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	for i := range cfg.Max {
		bg.Failure(addr(i))
	}
	if n := bg.Len(); n != cfg.Max {
		b.Fatalf("Len() = %d, want %d", n, cfg.Max)
	}
	b.ReportAllocs()
	i := cfg.Max
	for b.Loop() {
		bg.Failure(addr(i))
		i = (i + 1) % (1 << 24)
	}
	if n := bg.Len(); n != cfg.Max {
		b.Fatalf("Len() = %d, want %d", n, cfg.Max)
	}
}

// BenchmarkBadGuysFailureKnown measures a repeated failure from a client
// already in a full table.
func BenchmarkBadGuysFailureKnown(b *testing.B) {
	clk := newClock()
	cfg := sunDefaults(clk)
	bg := NewBadGuys(cfg)
	for i := range cfg.Max {
		bg.Failure(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	a := ip("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		bg.Failure(a)
	}
}

func ExampleBadGuys() {
	now := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	bad := NewBadGuys(BadGuysConfig{
		Max: 10000, Penalty: 2 * time.Second, MaxBadness: 60 * time.Second,
		Decay: 900 * time.Second, Now: func() time.Time { return now },
	})
	client := netip.MustParseAddr("198.51.100.7")
	for range 3 {
		if n, logged := bad.Failure(client); logged {
			fmt.Printf("badguy %s now has %d badness\n", client, Seconds(n))
		}
	}
	fmt.Println("next attempt waits", bad.Delay(client))
	// Output:
	// badguy 198.51.100.7 now has 2 badness
	// badguy 198.51.100.7 now has 4 badness
	// badguy 198.51.100.7 now has 6 badness
	// next attempt waits 6s
}
