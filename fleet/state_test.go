package fleet

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/redis"
)

var ctx = context.Background()

// Failures on two MMPs at the same moment all count: the update is one
// script, not a read and a write.
func TestBadGuysConcurrentFailures(t *testing.T) {
	r := redis.Start(t)
	a, _ := open(t, r)
	b, _ := open(t, r)
	ip := netip.MustParseAddr("192.0.2.10")
	bg := BadGuysParams{Penalty: time.Second, MaxBadness: time.Hour, Decay: time.Hour}
	var wg sync.WaitGroup
	for _, c := range []*Client{a, b} {
		for range 25 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Failure(ctx, "imap", ip, bg); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	p, err := b.PenaltyOf(ctx, "imap", ip)
	if err != nil {
		t.Fatal(err)
	}
	if p.Last != 50*time.Second {
		t.Errorf("penalty %v after 50 failures of 1s, want 50s", p.Last)
	}
	if d := p.Delay(bg, p.At); d != 50*time.Second {
		t.Errorf("Delay = %v", d)
	}
	// Another service is another table, as locally.
	if p, _ := a.PenaltyOf(ctx, "pop", ip); p.Last != 0 {
		t.Errorf("pop sees the imap penalty: %v", p)
	}
	// Capped, and forgiven on success.
	d, _ := a.Failure(ctx, "imap", ip, BadGuysParams{Penalty: time.Second, MaxBadness: 10 * time.Second, Decay: time.Hour})
	if d != 10*time.Second {
		t.Errorf("capped penalty %v, want 10s", d)
	}
	a.Forgive("imap", ip)
	waitFor(t, "forgiven", func() bool { p, _ := b.PenaltyOf(ctx, "imap", ip); return p.Last == 0 })
}

// Redis forgets a client BGDecay after its last failure: the key's TTL,
// no sweeper.
func TestBadGuysExpiry(t *testing.T) {
	r := redis.Start(t)
	c, _ := open(t, r)
	ip := netip.MustParseAddr("2001:db8::1")
	bg := BadGuysParams{Penalty: 2 * time.Second, MaxBadness: time.Minute, Decay: 1500 * time.Millisecond}
	if _, err := c.Failure(ctx, "imap", ip, bg); err != nil {
		t.Fatal(err)
	}
	key := c.bgKey("imap", ip)
	if ttl, _ := strconv.Atoi(r.Cli(t, "PTTL", key)); ttl <= 0 || ttl > 1500 {
		t.Errorf("PTTL %d, want within BGDecay", ttl)
	}
	waitFor(t, "the key to expire", func() bool { return r.Cli(t, "EXISTS", key) == "0" })
	if p, _ := c.PenaltyOf(ctx, "imap", ip); p.Last != 0 {
		t.Errorf("penalty %v after expiry", p)
	}
}

func TestPenaltyDelay(t *testing.T) {
	now := time.Now()
	bg := BadGuysParams{Penalty: 2 * time.Second, MaxBadness: 10 * time.Second, Decay: 100 * time.Second}
	p := Penalty{Last: 20 * time.Second, Left: 50 * time.Second, At: now}
	if d := p.Delay(bg, now); d != 10*time.Second {
		t.Errorf("step: %v, want the cap 10s", d)
	}
	if d := p.Delay(bg, now.Add(60*time.Second)); d != 0 {
		t.Errorf("step after expiry: %v", d)
	}
	bg.Linear = true
	if d := p.Delay(bg, now); d != 5*time.Second {
		t.Errorf("linear half way: %v, want 5s", d)
	}
	if d := p.Delay(bg, now.Add(25*time.Second)); d != 2500*time.Millisecond {
		t.Errorf("linear three quarters: %v, want 2.5s", d)
	}
}

// 40 connections from one address arrive at two MMPs at once; with a
// limit of 20, exactly 20 are admitted.
func TestConnLimitAcrossMMPs(t *testing.T) {
	r := redis.Start(t)
	a, _ := open(t, r)
	b, _ := open(t, r)
	ip := netip.MustParseAddr("192.0.2.20")
	var admitted atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var leases []*Lease
	for i := range 40 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, _, err := c.AcquireConn(ctx, "imap", ip, 20, true)
			if err != nil {
				t.Error(err)
				return
			}
			if n.Admitted {
				admitted.Add(1)
				mu.Lock()
				leases = append(leases, n.Lease)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n != 20 {
		t.Fatalf("%d admitted, want 20", n)
	}
	leases[0].Release()
	leases[0].Release() // twice is once
	waitFor(t, "the release", func() bool { n, _ := a.Conns(ctx, "imap", ip); return n == 19 })
	if n, _, _ := b.AcquireConn(ctx, "imap", ip, 20, false); !n.Admitted || n.N != 20 {
		t.Errorf("after a release: %+v", n)
	}
	// Unlimited clients are counted too.
	if n, _, _ := b.AcquireConn(ctx, "imap", ip, -1, false); !n.Admitted || n.N != 21 {
		t.Errorf("unlimited: %+v", n)
	}
}

// kill halts a client as kill -9 would: its leases stay in Redis, not
// renewed and not released.
func kill(c *Client) {
	close(c.stop)
	c.done.Wait()
	c.rdb.Close()
}

// The leases of an MMP that died stop counting within the lease time;
// those of a live one are renewed and keep counting.
func TestLeaseExpiry(t *testing.T) {
	r := redis.Start(t)
	live, _ := open(t, r) // lease time 3s: renewed every second
	dead, _ := open(t, r)
	ip := netip.MustParseAddr("192.0.2.30")
	for range 3 {
		if n, _, err := live.AcquireConn(ctx, "imap", ip, 20, false); err != nil || !n.Admitted {
			t.Fatal(n, err)
		}
		if n, _, err := dead.AcquireConn(ctx, "imap", ip, 20, false); err != nil || !n.Admitted {
			t.Fatal(n, err)
		}
	}
	kill(dead)
	// Both sets of leases were written at the same time: the count falls
	// to 3, not to 0, only because the live MMP renewed its own.
	waitFor(t, "the dead MMP's leases to expire", func() bool { n, _ := live.Conns(ctx, "imap", ip); return n == 3 })
	if live.Leases() != 3 {
		t.Errorf("Leases() = %d", live.Leases())
	}
}

// A Redis that lost its data comes back with the live leases: the
// recovery writes them again.
func TestLeasesBackAfterRestart(t *testing.T) {
	r := redis.Start(t)
	c, _ := open(t, r)
	for i := range 3 {
		if n, err := c.AcquireUser(ctx, "imap", "alice@siroe.com", 20); err != nil || !n.Admitted || n.N != i+1 {
			t.Fatal(n, err)
		}
	}
	r.Stop()
	c.AcquireUser(ctx, "imap", "alice@siroe.com", 20) // notices
	if c.Up() {
		t.Fatal("up with Redis stopped")
	}
	// A session the MMP let in on its own count during the outage.
	held := c.HoldUser("imap", "alice@siroe.com")
	r.Restart(t)
	waitFor(t, "recovery", c.Up)
	waitFor(t, "the leases written back", func() bool { n, _ := c.UserSessions(ctx, "imap", "alice@siroe.com"); return n == 4 })
	if n, err := c.AcquireUser(ctx, "imap", "alice@siroe.com", 4); err != nil || n.Admitted {
		t.Errorf("fifth session with a limit of 4: %+v %v", n, err)
	}
	held.Release()
	waitFor(t, "the release", func() bool { n, _ := c.UserSessions(ctx, "imap", "alice@siroe.com"); return n == 3 })
}

func TestPOPLogin(t *testing.T) {
	r := redis.Start(t)
	a, _ := open(t, r)
	b, _ := open(t, r)
	ip := netip.MustParseAddr("192.0.2.40")
	a.RecordPOPLogin(ip, "alice@siroe.com", 1500*time.Millisecond)
	waitFor(t, "the record", func() bool { _, ok, _ := b.POPLogin(ctx, ip); return ok })
	if u, ok, err := b.POPLogin(ctx, ip); u != "alice@siroe.com" || !ok || err != nil {
		t.Errorf("POPLogin = %q %v %v", u, ok, err)
	}
	waitFor(t, "the TTL", func() bool { _, ok, _ := b.POPLogin(ctx, ip); return !ok })
}
