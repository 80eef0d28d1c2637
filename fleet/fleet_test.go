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
	"github.com/openmmp/mmp/who"
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

// A FleetRedis naming a Cluster of three masters reaches keys on all of
// them: the clients' BadGuys and ConnLimits keys, the users' session
// counts, the POP logins and the last-access records spread over the
// masters (as each node's KEYS shows), two MMPs see each other's counts
// whichever master holds them, FleetLastAccess scans every master, and
// a kick is heard by both MMPs whichever node the client publishes to.
func TestClusterThreeMasters(t *testing.T) {
	cl := redis.StartCluster(t, 3, redis.WithPassword("pw"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	slow := func(c *Config) { c.CallTimeout = 2 * time.Second }
	a, alog := openURL(t, cl.URL(), slow)
	b, blog := openURL(t, cl.URL(), slow)
	waitFor(t, "the cluster from both MMPs", func() bool { return a.Up() && b.Up() })
	defer func() {
		if t.Failed() {
			t.Logf("MMP a:\n%s\nMMP b:\n%s", alog, blog)
		}
	}()

	// keyHome is the node whose KEYS lists each fleet key: where the keys
	// really are, not where the slot map says they should be.
	keyHome := func() map[string]*redis.Server {
		home := map[string]*redis.Server{}
		for _, n := range cl.Nodes {
			for _, k := range strings.Split(n.Cli(t, "KEYS", "mmp:*"), "\n") {
				if k != "" {
					home[k] = n
				}
			}
		}
		return home
	}
	// requireSpread fails unless the keys, each on the node the slot map
	// gives, are on at least two masters.
	requireSpread := func(what string, keys []string) {
		t.Helper()
		home := keyHome()
		on := map[*redis.Server]bool{}
		for _, k := range keys {
			n := home[k]
			if n == nil {
				t.Errorf("%s: key %s is on no node", what, k)
				continue
			}
			if want := cl.NodeOf(t, k); n != want {
				t.Errorf("%s: key %s is on %s, its slot on %s", what, k, n.Addr(), want.Addr())
			}
			on[n] = true
		}
		if len(on) < 2 {
			t.Fatalf("%s: %d keys on %d master(s), want at least 2", what, len(keys), len(on))
		}
	}
	// spread picks names (from name(0), name(1)...) until every master
	// holds the key of two of them, so that the test does not rest on
	// the addresses it happens to try.
	spread := func(what string, n func(i int) string, key func(string) string) []string {
		t.Helper()
		per := map[*redis.Server]int{}
		var names []string
		for i := 0; i < 256 && len(per) < len(cl.Nodes) || minCount(per) < 2; i++ {
			if i >= 256 {
				t.Fatalf("%s: 256 names do not cover every master twice: %v", what, per)
			}
			name := n(i)
			per[cl.NodeOf(t, key(name))]++
			names = append(names, name)
		}
		return names
	}

	// BadGuys and ConnLimits, client by client, across both MMPs.
	bg := BadGuysParams{Penalty: time.Second, MaxBadness: time.Minute, Decay: time.Minute}
	ipNames := spread("clients", func(i int) string { return fmt.Sprintf("192.0.2.%d", i+1) },
		func(ip string) string { return a.connKey("imap", netip.MustParseAddr(ip)) })
	var clientKeys []string
	var leases []*Lease
	for _, s := range ipNames {
		ip := netip.MustParseAddr(s)
		clientKeys = append(clientKeys, a.bgKey("imap", ip), a.connKey("imap", ip))
		for _, c := range []*Client{a, a} {
			if _, err := c.Failure(ctx, "imap", ip, bg); err != nil {
				t.Fatalf("Failure %s: %v", ip, err)
			}
		}
		if d, err := b.Failure(ctx, "imap", ip, bg); err != nil || d != 3*time.Second {
			t.Errorf("%s: the other MMP's failure makes %v, %v; want 3s (two on a, one on b)", ip, d, err)
		}
		if p, err := a.PenaltyOf(ctx, "imap", ip); err != nil || p.Last != 3*time.Second {
			t.Errorf("%s: PenaltyOf on a = %+v, %v; want 3s", ip, p, err)
		}
		n1, p, err := a.AcquireConn(ctx, "imap", ip, 2, true)
		if err != nil || !n1.Admitted || n1.N != 1 || p.Last != 3*time.Second {
			t.Fatalf("%s: first AcquireConn = %+v %+v %v", ip, n1, p, err)
		}
		n2, _, err := b.AcquireConn(ctx, "imap", ip, 2, false)
		if err != nil || !n2.Admitted || n2.N != 2 {
			t.Fatalf("%s: AcquireConn on b = %+v %v; want the second of 2", ip, n2, err)
		}
		if n3, _, err := a.AcquireConn(ctx, "imap", ip, 2, false); err != nil || n3.Admitted || n3.N != 2 {
			t.Errorf("%s: third AcquireConn = %+v %v; want refused at 2", ip, n3, err)
		}
		leases = append(leases, n1.Lease)
	}
	requireSpread("BadGuys and ConnLimits", clientKeys)
	for i, s := range ipNames {
		ip := netip.MustParseAddr(s)
		leases[i].Release()
		waitFor(t, "a's release seen by b for "+s, func() bool { n, err := b.Conns(ctx, "imap", ip); return err == nil && n == 1 })
	}

	// MaxUserSessions, user by user.
	users := spread("users", func(i int) string { return fmt.Sprintf("uid=user%d,o=internet", i) },
		func(u string) string { return a.userKey("pop", u) })
	var userKeys []string
	for _, u := range users {
		userKeys = append(userKeys, a.userKey("pop", u))
		n, err := a.AcquireUser(ctx, "pop", u, 1)
		if err != nil || !n.Admitted {
			t.Fatalf("%s: AcquireUser on a = %+v %v", u, n, err)
		}
		if m, err := b.AcquireUser(ctx, "pop", u, 1); err != nil || m.Admitted || m.N != 1 {
			t.Errorf("%s: AcquireUser on b = %+v %v; want refused, a holds the one session", u, m, err)
		}
		n.Lease.Release()
		waitFor(t, "the session's end seen by b for "+u, func() bool { k, err := b.UserSessions(ctx, "pop", u); return err == nil && k == 0 })
		if m, err := b.AcquireUser(ctx, "pop", u, 1); err != nil || !m.Admitted {
			t.Errorf("%s: AcquireUser on b after a's release = %+v %v", u, m, err)
		}
	}
	requireSpread("MaxUserSessions", userKeys)

	// POP before SMTP: a records, b reads.
	popIPs := spread("POP clients", func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) },
		func(ip string) string { return a.popKey(netip.MustParseAddr(ip)) })
	var popKeys []string
	for i, s := range popIPs {
		ip := netip.MustParseAddr(s)
		popKeys = append(popKeys, a.popKey(ip))
		a.RecordPOPLogin(ip, fmt.Sprintf("pop%d", i), time.Minute)
	}
	for i, s := range popIPs {
		ip := netip.MustParseAddr(s)
		want := fmt.Sprintf("pop%d", i)
		waitFor(t, "b to read the POP login of "+s, func() bool {
			u, ok, err := b.POPLogin(ctx, ip)
			return err == nil && ok && u == want
		})
	}
	requireSpread("POP before SMTP", popKeys)

	// Sessions and last access: each MMP logs in half the users.
	names := spread("last access", func(i int) string { return fmt.Sprintf("who%d", i) },
		func(u string) string { return a.Key("who", "last", u) })
	type mmp struct {
		s      *Sessions
		mu     sync.Mutex
		live   []who.Session
		kicked int
	}
	mmps := []*mmp{{}, {}}
	for i, c := range []*Client{a, b} {
		m := mmps[i]
		m.s = c.StartSessions(fmt.Sprintf("m%d", i+1), func() []who.Session {
			m.mu.Lock()
			defer m.mu.Unlock()
			return append([]who.Session(nil), m.live...)
		}, func([]string) {
			m.mu.Lock()
			m.kicked++
			m.mu.Unlock()
		})
		t.Cleanup(m.s.Close)
	}
	since := time.Now().Truncate(time.Millisecond)
	var lastKeys []string
	for i, u := range names {
		lastKeys = append(lastKeys, a.Key("who", "last", u))
		m := mmps[i%2]
		s := who.Session{ID: uint64(i + 1), User: u, Service: "imap", Client: "192.0.2.1:5000", Store: "10.0.0.1:143", Since: since}
		m.mu.Lock()
		m.live = append(m.live, s)
		m.mu.Unlock()
		m.s.LoggedIn(s)
	}
	var got []who.Access
	waitFor(t, "every user's last access", func() bool {
		var err error
		got, err = a.FleetLastAccess(ctx, nil)
		return err == nil && len(got) == len(names)
	})
	requireSpread("last access", lastKeys)
	byUser := map[string]who.Access{}
	for _, x := range got {
		byUser[x.User] = x
	}
	for _, u := range names {
		if x, ok := byUser[u]; !ok || x.Service != "imap" || !x.Login.Equal(since) {
			t.Errorf("FleetLastAccess has %s as %+v (present %v)", u, x, ok)
		}
	}
	var sessions []who.Session
	var live int
	waitFor(t, "every session listed", func() bool {
		var err error
		sessions, live, err = b.FleetSessions(ctx, nil, "")
		return err == nil && len(sessions) == len(names)
	})
	if live != 2 {
		t.Errorf("FleetSessions: %d MMPs live, want 2", live)
	}
	// A kick goes to a node the client picks; each must reach both MMPs
	// and say so, so several are sent.
	for i := range 6 {
		if n, err := a.KickUsers(ctx, []string{names[0]}); err != nil || n != 2 {
			t.Errorf("kick %d: heard by %d MMPs, %v; want 2", i, n, err)
		}
	}
	for i, m := range mmps {
		waitFor(t, fmt.Sprintf("the kicks on m%d", i+1), func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.kicked == 6
		})
	}
}

// minCount is the smallest of the counts (0 for none).
func minCount[K comparable](m map[K]int) int {
	first, least := true, 0
	for _, n := range m {
		if first || n < least {
			first, least = false, n
		}
	}
	return least
}
