package fleet

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openmmp/mmp/who"
)

// Who is connected across the fleet (imsconnutil). Each MMP keeps its
// logged-in sessions in Redis:
//
//	PREFIX:who:mmps               set of the MMPs' IDs
//	PREFIX:who:alive:ID           the MMP's name for imsconnutil, expiring after FleetLeaseTime
//	PREFIX:who:sessions:ID        hash: session id -> the session (JSON), expiring with it
//	PREFIX:who:last:USER          hash: SERVICE.login, SERVICE.logout -> Unix ms; user -> the name
//	PREFIX:who:kick               channel: {"users": [...]} ends those users' sessions everywhere
//
// Logins and logouts are written by one background goroutine per MMP,
// batched for flushDelay (never on a login's path: the client has its OK
// before Redis hears of it). Every third of FleetLeaseTime the same
// goroutine renews the MMP's keys and writes the octet counts that
// changed, in one pipelined call; an MMP that dies stops renewing and its
// sessions vanish FleetLeaseTime later. Each MMP subscribes to the kick
// channel, so imsconnutil -k ends sessions on every MMP at once.

// LastAccessTTL is how long a user's last login and logout stay in Redis
// after the last of them.
const LastAccessTTL = 30 * 24 * time.Hour

// flushDelay gathers the logins and logouts of one moment into one call.
const flushDelay = 50 * time.Millisecond

// maxPendingAccess bounds the last-access records waiting for Redis;
// beyond it they are dropped (counted as errors "who").
const maxPendingAccess = 10000

// Sessions registers an MMP's logged-in sessions in the fleet's Redis
// and hears kicks. It implements the proxy's Watcher (LoggedIn,
// LoggedOut). A nil *Sessions does nothing.
type Sessions struct {
	c    *Client
	name string
	list func() []who.Session
	kick func(users []string)

	mu      sync.Mutex
	adds    map[uint64]who.Session // logged in, not yet written
	dels    map[uint64]bool        // ended, to remove
	access  []accessEvent
	written map[uint64][2]int64 // in Redis, with the counts written

	wake   chan struct{}
	renew  chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
	pubsub *redis.PubSub
}

type accessEvent struct {
	user, service, what string // what: "login" or "logout"
	at                  time.Time
}

// StartSessions starts registering this MMP's sessions: name is the
// MMP's name for imsconnutil, list returns its logged-in sessions with
// their counts now, and kick ends the sessions of users on this MMP. It
// returns nil for a nil Client.
func (c *Client) StartSessions(name string, list func() []who.Session, kick func(users []string)) *Sessions {
	if c == nil {
		return nil
	}
	s := &Sessions{c: c, name: name, list: list, kick: kick,
		adds: map[uint64]who.Session{}, dels: map[uint64]bool{}, written: map[uint64][2]int64{},
		wake: make(chan struct{}, 1), renew: make(chan struct{}, 1), stop: make(chan struct{})}
	// After an outage everything is written again.
	c.OnRecover(func() {
		select {
		case s.renew <- struct{}{}:
		default:
		}
	})
	s.pubsub = c.rdb.Subscribe(context.Background(), c.Key("who", "kick"))
	s.done.Add(2)
	go s.loop()
	go s.hearKicks()
	select {
	case s.renew <- struct{}{}:
	default:
	}
	return s
}

// LoggedIn records a login; Redis hears of it within flushDelay.
func (s *Sessions) LoggedIn(r who.Session) {
	if s == nil {
		return
	}
	r.MMP = s.name
	s.mu.Lock()
	s.adds[r.ID] = r
	delete(s.dels, r.ID)
	s.addAccess(accessEvent{r.User, r.Service, "login", r.Since})
	s.mu.Unlock()
	s.poke()
}

// LoggedOut records the end of a session.
func (s *Sessions) LoggedOut(r who.Session) {
	if s == nil {
		return
	}
	s.mu.Lock()
	delete(s.adds, r.ID) // if it was never written
	s.dels[r.ID] = true
	s.addAccess(accessEvent{r.User, r.Service, "logout", time.Now()})
	s.mu.Unlock()
	s.poke()
}

func (s *Sessions) addAccess(e accessEvent) {
	if len(s.access) >= maxPendingAccess {
		if s.c.cfg.OnError != nil {
			s.c.cfg.OnError("who")
		}
		return
	}
	s.access = append(s.access, e)
}

func (s *Sessions) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops registering and removes this MMP's sessions from Redis.
func (s *Sessions) Close() {
	if s == nil {
		return
	}
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	s.pubsub.Close()
	s.done.Wait()
	if s.c.Up() {
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		id := s.c.cfg.ID
		s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			s.writeAccess(ctx, p, s.takeAccess())
			p.Del(ctx, s.c.Key("who", "sessions", id), s.c.Key("who", "alive", id))
			p.SRem(ctx, s.c.Key("who", "mmps"), id)
			return nil
		})
	}
}

func (s *Sessions) loop() {
	defer s.done.Done()
	t := time.NewTicker(s.c.cfg.LeaseTime / 3)
	defer t.Stop()
	for {
		renew := false
		select {
		case <-s.stop:
			return
		case <-s.wake:
			select {
			case <-time.After(flushDelay):
			case <-s.stop:
				return
			}
		case <-s.renew:
			renew = true
		case <-t.C:
			renew = true
		}
		s.flush(renew)
	}
}

func (s *Sessions) takeAccess() []accessEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.access
	s.access = nil
	return a
}

// flush writes what changed; with renew, it also renews the MMP's keys
// and writes the sessions whose counts moved.
func (s *Sessions) flush(renew bool) {
	// The list is taken before the lock: the proxy calls LoggedOut with
	// a session's lock held, and listing takes the sessions' locks.
	up := s.c.Up()
	var now []who.Session
	if renew && up {
		now = s.list()
	}
	s.mu.Lock()
	adds, dels, access := s.adds, s.dels, s.access
	s.adds, s.dels, s.access = map[uint64]who.Session{}, map[uint64]bool{}, nil
	if !up {
		// Redis hears it all again after the outage (OnRecover).
		s.written = map[uint64][2]int64{}
		s.mu.Unlock()
		return
	}
	if renew {
		live := map[uint64]bool{}
		for _, r := range now {
			live[r.ID] = true
			if w, ok := s.written[r.ID]; !ok || w != [2]int64{r.FromClient, r.FromStore} {
				if _, ended := dels[r.ID]; !ended {
					r.MMP = s.name
					adds[r.ID] = r
				}
			}
		}
		for id := range s.written {
			if !live[id] {
				dels[id] = true
			}
		}
	}
	s.mu.Unlock()
	if !renew && len(adds) == 0 && len(dels) == 0 && len(access) == 0 {
		return
	}
	id := s.c.cfg.ID
	lease := s.c.cfg.LeaseTime
	sessKey := s.c.Key("who", "sessions", id)
	ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
	defer cancel()
	_, err := s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(adds) > 0 {
			vals := make([]any, 0, 2*len(adds))
			for sid, r := range adds {
				b, _ := json.Marshal(r)
				vals = append(vals, strconv.FormatUint(sid, 10), b)
			}
			p.HSet(ctx, sessKey, vals...)
		}
		if len(dels) > 0 {
			f := make([]string, 0, len(dels))
			for sid := range dels {
				f = append(f, strconv.FormatUint(sid, 10))
			}
			p.HDel(ctx, sessKey, f...)
		}
		p.PExpire(ctx, sessKey, lease)
		p.Set(ctx, s.c.Key("who", "alive", id), s.name, lease)
		p.SAdd(ctx, s.c.Key("who", "mmps"), id)
		s.writeAccess(ctx, p, access)
		return nil
	})
	s.c.judge("who", err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.written = map[uint64][2]int64{}
		return
	}
	for sid, r := range adds {
		s.written[sid] = [2]int64{r.FromClient, r.FromStore}
	}
	for sid := range dels {
		delete(s.written, sid)
	}
}

// writeAccess records last logins and logouts, each user's hash expiring
// LastAccessTTL after its last write.
func (s *Sessions) writeAccess(ctx context.Context, p redis.Pipeliner, access []accessEvent) {
	for _, e := range access {
		k := s.c.Key("who", "last", strings.ToLower(e.user))
		p.HSet(ctx, k, "user", e.user, e.service+"."+e.what, e.at.UnixMilli())
		p.Expire(ctx, k, LastAccessTTL)
	}
}

// kickMessage is what the kick channel carries.
type kickMessage struct {
	Users []string `json:"users"`
}

// hearKicks ends the sessions each kick names; go-redis subscribes again
// by itself after a lost connection.
func (s *Sessions) hearKicks() {
	defer s.done.Done()
	for msg := range s.pubsub.Channel() {
		var k kickMessage
		if json.Unmarshal([]byte(msg.Payload), &k) == nil && len(k.Users) > 0 {
			s.kick(k.Users)
		}
	}
}

// The reading side, for imsconnutil: no breaker, the caller's deadline.

// FleetSessions lists the logged-in sessions of every live MMP of the
// fleet that m selects (nil: all), of service ("" any), and how many MMPs
// are live.
func (c *Client) FleetSessions(ctx context.Context, m who.Matcher, service string) ([]who.Session, int, error) {
	ids, err := c.rdb.SMembers(ctx, c.Key("who", "mmps")).Result()
	if err != nil {
		return nil, 0, err
	}
	alive := make([]*redis.StringCmd, len(ids))
	sess := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			alive[i] = p.Get(ctx, c.Key("who", "alive", id))
			sess[i] = p.HGetAll(ctx, c.Key("who", "sessions", id))
		}
		return nil
	}); err != nil && err != redis.Nil {
		return nil, 0, err
	}
	var out []who.Session
	live := 0
	for i, id := range ids {
		if alive[i].Err() == redis.Nil {
			c.rdb.SRem(ctx, c.Key("who", "mmps"), id) // an MMP that is gone
			continue
		}
		live++
		for _, v := range sess[i].Val() {
			var r who.Session
			if json.Unmarshal([]byte(v), &r) != nil || !m.Has(r.User) || service != "" && r.Service != service {
				continue
			}
			out = append(out, r)
		}
	}
	return out, live, nil
}

// KickUsers asks every MMP of the fleet to end the sessions of users; it
// returns how many MMPs heard it.
//
// In a Cluster, PUBLISH reaches the subscribers of every node but counts
// only those of the node it was sent to, and go-redis sends it to any
// node; the MMPs subscribe on the master of the channel's slot, so the
// kick is published there for the count to be theirs.
func (c *Client) KickUsers(ctx context.Context, users []string) (int64, error) {
	b, _ := json.Marshal(kickMessage{Users: users})
	channel := c.Key("who", "kick")
	var r redis.Cmdable = c.rdb
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, channel)
		if err != nil {
			return 0, err
		}
		r = m
	}
	return r.Publish(ctx, channel, b).Result()
}

// FleetLastAccess returns the last logins and logouts of the users m
// selects (nil: every user Redis remembers).
func (c *Client) FleetLastAccess(ctx context.Context, m who.Matcher) ([]who.Access, error) {
	var keys []string
	if m != nil {
		for _, u := range m.Names() {
			keys = append(keys, c.Key("who", "last", u))
		}
	} else {
		var mu sync.Mutex
		scan := func(ctx context.Context, r redis.UniversalClient) error {
			it := r.Scan(ctx, 0, c.Key("who", "last", "*"), 1000).Iterator()
			for it.Next(ctx) {
				mu.Lock()
				keys = append(keys, it.Val())
				mu.Unlock()
			}
			return it.Err()
		}
		var err error
		if cc, ok := c.rdb.(*redis.ClusterClient); ok {
			err = cc.ForEachMaster(ctx, func(ctx context.Context, r *redis.Client) error { return scan(ctx, r) })
		} else {
			err = scan(ctx, c.rdb)
		}
		if err != nil {
			return nil, err
		}
	}
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	if _, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, k)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []who.Access
	for _, cmd := range cmds {
		h := cmd.Val()
		user := h["user"]
		if user == "" {
			continue
		}
		by := map[string]*who.Access{}
		for f, v := range h {
			service, what, ok := strings.Cut(f, ".")
			if !ok {
				continue
			}
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			a := by[service]
			if a == nil {
				a = &who.Access{User: user, Service: service}
				by[service] = a
			}
			switch what {
			case "login":
				a.Login = time.UnixMilli(ms)
			case "logout":
				a.Logout = time.UnixMilli(ms)
			}
		}
		for _, a := range by {
			out = append(out, *a)
		}
	}
	who.SortAccess(out)
	return out, nil
}
