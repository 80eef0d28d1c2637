package fleet

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/redis"
	"github.com/openmmp/mmp/who"
)

// Two MMPs register their sessions; a reader sees both, with the counts
// of the last renewal; a logout leaves Redis; a kick reaches both MMPs;
// last access has the login and the logout; a closed MMP's keys are gone.
func TestSessionsAcrossMMPs(t *testing.T) {
	r := redis.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type mmp struct {
		c      *Client
		s      *Sessions
		mu     sync.Mutex
		live   []who.Session
		kicked [][]string
	}
	var mmps []*mmp
	for _, name := range []string{"m1", "m2"} {
		m := &mmp{}
		m.c, _ = open(t, r)
		m.s = m.c.StartSessions(name, func() []who.Session {
			m.mu.Lock()
			defer m.mu.Unlock()
			return append([]who.Session(nil), m.live...)
		}, func(users []string) {
			m.mu.Lock()
			m.kicked = append(m.kicked, users)
			m.mu.Unlock()
		})
		t.Cleanup(m.s.Close)
		mmps = append(mmps, m)
	}
	reader, _ := open(t, r)
	since := time.Now().Truncate(time.Millisecond)
	alice := who.Session{ID: 1, User: "alice", Service: "imap", Client: "192.0.2.1:5000", Store: "10.0.0.1:143", Since: since}
	bob := who.Session{ID: 1, User: "bob", Service: "pop", Client: "192.0.2.2:5000", Store: "10.0.0.2:110", Since: since}
	for i, s := range []who.Session{alice, bob} {
		mmps[i].mu.Lock()
		mmps[i].live = []who.Session{s}
		mmps[i].mu.Unlock()
		mmps[i].s.LoggedIn(s)
	}
	var got []who.Session
	waitFor(t, "both sessions in Redis", func() bool {
		got, _, _ = reader.FleetSessions(ctx, nil, "")
		return len(got) == 2
	})
	who.SortSessions(got)
	if got[0].User != "alice" || got[0].MMP != "m1" || got[0].Store != alice.Store || !got[0].Since.Equal(since) || got[1].MMP != "m2" {
		t.Errorf("FleetSessions = %+v", got)
	}
	if pop, live, _ := reader.FleetSessions(ctx, who.Match([]string{"BOB"}), "pop"); len(pop) != 1 || live != 2 {
		t.Errorf("FleetSessions(bob, pop) = %+v, %d MMPs", pop, live)
	}
	// Counts move; the renewal (a third of the lease, 1 s here) writes them.
	mmps[0].mu.Lock()
	mmps[0].live[0].FromClient, mmps[0].live[0].FromStore = 100, 2000
	mmps[0].mu.Unlock()
	waitFor(t, "the new counts", func() bool {
		got, _, _ = reader.FleetSessions(ctx, who.Match([]string{"alice"}), "")
		return len(got) == 1 && got[0].FromStore == 2000
	})
	// A kick reaches every MMP.
	if n, err := reader.KickUsers(ctx, []string{"alice"}); n != 2 || err != nil {
		t.Errorf("KickUsers = %d, %v; want 2 MMPs", n, err)
	}
	for _, m := range mmps {
		waitFor(t, "the kick", func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return len(m.kicked) == 1 && m.kicked[0][0] == "alice"
		})
	}
	// The logout leaves Redis and is remembered.
	mmps[0].mu.Lock()
	mmps[0].live = nil
	mmps[0].mu.Unlock()
	mmps[0].s.LoggedOut(alice)
	waitFor(t, "alice gone", func() bool {
		got, _, _ = reader.FleetSessions(ctx, who.Match([]string{"alice"}), "")
		return len(got) == 0
	})
	as, err := reader.FleetLastAccess(ctx, nil)
	if err != nil || len(as) != 2 || as[0].User != "alice" || !as[0].Login.Equal(since) || as[0].Logout.IsZero() || !as[1].Logout.IsZero() {
		t.Errorf("FleetLastAccess = %+v, %v", as, err)
	}
	if ttl := r.Cli(t, "TTL", "mmp:who:last:alice"); ttl == "-1" || ttl == "-2" {
		t.Errorf("TTL of alice's last access = %s, want one", ttl)
	}
	// A closed MMP leaves nothing behind.
	mmps[1].s.Close()
	if _, live, _ := reader.FleetSessions(ctx, nil, ""); live != 1 {
		t.Errorf("after m2 closed: %d MMPs live, want 1", live)
	}
}
