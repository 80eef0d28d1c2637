package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/internal/testenv/redis"
)

// syncBuffer is a log the client writes from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func open(t *testing.T, r *redis.Server, mod ...func(*Config)) (*Client, *syncBuffer) {
	t.Helper()
	return openURL(t, r.URL(), mod...)
}

// openURL opens a client of the FleetRedis raw, with short timeouts and
// its log in a buffer; Close is a cleanup.
func openURL(t *testing.T, raw string, mod ...func(*Config)) (*Client, *syncBuffer) {
	t.Helper()
	u, err := cfgfmt.ParseRedisURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cfg := Config{URL: u, CallTimeout: 500 * time.Millisecond, LeaseTime: 3 * time.Second,
		ProbeInterval: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(log, nil))}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, log
}

// waitFor polls cond for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOffIsNil(t *testing.T) {
	c, err := Open(Config{})
	if c != nil || err != nil {
		t.Fatalf("Open(unset) = %v, %v", c, err)
	}
	if c.Up() || c.Enabled() || c.Refusing() {
		t.Error("a nil client reports a fleet")
	}
	if _, err := c.Failure(context.Background(), "imap", netip.MustParseAddr("192.0.2.1"), BadGuysParams{}); !errors.Is(err, ErrOff) {
		t.Errorf("Failure on nil = %v", err)
	}
	c.Forgive("imap", netip.MustParseAddr("192.0.2.1"))
	c.RecordPOPLogin(netip.MustParseAddr("192.0.2.1"), "u", time.Minute)
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestPasswordAndUp(t *testing.T) {
	r := redis.Start(t, redis.WithPassword("s3cret"))
	c, log := open(t, r)
	if !c.Up() {
		t.Fatalf("not up: %s", log)
	}
	if strings.Contains(log.String(), "s3cret") {
		t.Errorf("the log shows the password: %s", log)
	}
}

func TestWrongPasswordIsDown(t *testing.T) {
	r := redis.Start(t, redis.WithPassword("s3cret"))
	u, _ := cfgfmt.ParseRedisURL("redis://:wrong@" + r.Addr())
	c, err := Open(Config{URL: u, ProbeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Up() {
		t.Error("up with a wrong password")
	}
}

// An outage is logged once, calls fail at once while it lasts, and the
// recovery is logged once when the probe finds Redis again.
func TestBreaker(t *testing.T) {
	r := redis.Start(t)
	var states []bool
	var mu sync.Mutex
	c, log := open(t, r, func(cfg *Config) {
		cfg.OnState = func(up bool) { mu.Lock(); states = append(states, up); mu.Unlock() }
	})
	ip := netip.MustParseAddr("192.0.2.7")
	bg := BadGuysParams{Penalty: 2 * time.Second, MaxBadness: 60 * time.Second, Decay: 900 * time.Second}
	if _, err := c.Failure(context.Background(), "imap", ip, bg); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if _, err := c.Failure(context.Background(), "imap", ip, bg); err == nil {
		t.Fatal("Failure with Redis stopped succeeded")
	}
	for range 20 {
		if _, err := c.Failure(context.Background(), "imap", ip, bg); !errors.Is(err, ErrDown) {
			t.Fatalf("while down: %v, want ErrDown", err)
		}
	}
	if c.Up() {
		t.Fatal("still up")
	}
	r.Restart(t)
	waitFor(t, "recovery", c.Up)
	if n := strings.Count(log.String(), "unreachable"); n != 1 {
		t.Errorf("%d outage lines:\n%s", n, log)
	}
	if n := strings.Count(log.String(), "answers again"); n != 1 {
		t.Errorf("%d recovery lines:\n%s", n, log)
	}
	if d, err := c.Failure(context.Background(), "imap", ip, bg); err != nil || d != 2*time.Second {
		t.Errorf("after recovery (Redis restarted empty): %v, %v", d, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 3 || !states[0] || states[1] || !states[2] {
		t.Errorf("states %v, want up, down, up", states)
	}
}

// A Redis that stops answering (CLIENT PAUSE) costs each call at most the
// call timeout, trips the breaker once, and holds no more connections
// than the pool's bound, however many logins arrive meanwhile.
func TestSlowRedis(t *testing.T) {
	r := redis.Start(t)
	c, log := open(t, r, func(cfg *Config) { cfg.CallTimeout = 100 * time.Millisecond })
	ip := netip.MustParseAddr("192.0.2.8")
	if _, _, err := c.AcquireConn(context.Background(), "imap", ip, 20, true); err != nil {
		t.Fatal(err)
	}
	r.Cli(t, "CLIENT", "PAUSE", "1500", "ALL")
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := c.AcquireConn(context.Background(), "imap", ip, 20, true)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			t.Fatal("a call succeeded while Redis was paused")
		}
	}
	waitFor(t, "recovery", c.Up)
	if n := strings.Count(log.String(), "unreachable"); n != 1 {
		t.Errorf("%d outage lines:\n%s", n, log)
	}
	info := r.Cli(t, "INFO", "clients")
	var clients int
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "connected_clients:"); ok {
			fmt.Sscan(v, &clients)
		}
	}
	if clients > PoolSize+1 { // the pool and this INFO
		t.Errorf("%d connections to Redis, want at most the pool's %d", clients-1, PoolSize)
	}
}

// Every method a caller uses without asking Enabled first is safe on a
// nil Client.
func TestNilClientMethods(t *testing.T) {
	var c *Client
	ip := netip.MustParseAddr("192.0.2.1")
	c.HoldConn("imap", ip).Release()
	c.HoldUser("imap", "u").Release()
	c.OnRecover(func() {})
	if _, _, err := c.AcquireConn(context.Background(), "imap", ip, 1, true); !errors.Is(err, ErrOff) {
		t.Error(err)
	}
	if _, err := c.AcquireUser(context.Background(), "imap", "u", 1); !errors.Is(err, ErrOff) {
		t.Error(err)
	}
	if _, _, err := c.POPLogin(context.Background(), ip); !errors.Is(err, ErrOff) {
		t.Error(err)
	}
	if c.Leases() != 0 || c.ID() != "" || c.FailClosed() {
		t.Error("nil client reports state")
	}
}

// A FleetRedis naming a Sentinel finds the master through it.
func TestSentinel(t *testing.T) {
	r := redis.Start(t, redis.WithPassword("pw"))
	s := redis.StartSentinel(t, r)
	c, _ := openURL(t, "redis-sentinel://:pw@"+s.Addr()+"/mymaster", func(c *Config) { c.CallTimeout = 2 * time.Second })
	waitFor(t, "the master through the Sentinel", c.Up)
	ip := netip.MustParseAddr("192.0.2.50")
	if n, _, err := c.AcquireConn(context.Background(), "imap", ip, 20, true); err != nil || !n.Admitted {
		t.Fatalf("AcquireConn through the Sentinel: %+v %v", n, err)
	}
	if got := r.Cli(t, "ZCARD", c.connKey("imap", ip)); got != "1" {
		t.Errorf("the master holds %s members, want 1", got)
	}
}

// A FleetRedis naming a Cluster works with its hash-tagged keys: the
// accept script touches a client's two keys in one slot.
func TestCluster(t *testing.T) {
	r := redis.Start(t, redis.WithCluster())
	c, _ := openURL(t, "redis-cluster://"+r.Addr(), func(c *Config) { c.CallTimeout = 2 * time.Second })
	waitFor(t, "the cluster", c.Up)
	ip := netip.MustParseAddr("2001:db8::7")
	bg := BadGuysParams{Penalty: time.Second, MaxBadness: time.Minute, Decay: time.Minute}
	if _, err := c.Failure(context.Background(), "pop", ip, bg); err != nil {
		t.Fatal(err)
	}
	n, p, err := c.AcquireConn(context.Background(), "pop", ip, 20, true)
	if err != nil || !n.Admitted || p.Last != time.Second {
		t.Fatalf("AcquireConn on a cluster: %+v %+v %v", n, p, err)
	}
	if _, err := c.AcquireUser(context.Background(), "pop", "uid=alice,o=internet", 1); err != nil {
		t.Fatal(err)
	}
	n.Lease.Release()
	waitFor(t, "the release", func() bool { k, _ := c.Conns(context.Background(), "pop", ip); return k == 0 })
}
