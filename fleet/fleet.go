// Package fleet shares the abuse state of the MMPs of one site through
// Redis (or Valkey): BadGuys penalties, ConnLimits counts, the
// POP-before-SMTP memory and the per-user session counts
// (docs/reference.md §4.9). It is the only importer of go-redis.
//
// Each MMP keeps its own tables as before and feeds them on every event;
// with a fleet the answers come from Redis while Redis answers, and from
// the local tables while it does not. A Client is a circuit breaker in
// front of Redis: a call that fails or takes longer than the call timeout
// (FleetCallTimeout) marks Redis down, logs it once, and from then on no
// call on a login's path goes to Redis: they fail at once with ErrDown,
// and the callers use their local state (or refuse, with FleetFailClosed).
// One background probe pings Redis until it answers, logs the recovery
// once and lets the calls through again. The connection pool is bounded,
// so a slow Redis can hold neither goroutines nor sockets beyond it.
//
// What is not needed for an answer (forgiving a client, releasing a
// connection, recording a POP login, renewing leases) is queued for one
// background goroutine and never waited for.
//
// A nil *Client is a fleet that is off: Enabled and Up report false and
// every operation falls back to local state, so callers need no test.
//
// Typical usage:
//
//	c, err := fleet.Open(fleet.ConfigFrom(inst.Daemon, log))
//	defer c.Close()
//	if c.Up() { ... }
package fleet

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// ErrDown is returned by every call while Redis is marked down.
var ErrDown = errors.New("fleet: Redis is down")

// ErrOff is returned by the calls of a nil Client (no FleetRedis).
var ErrOff = errors.New("fleet: no FleetRedis")

// Defaults of Config.
const (
	DefaultCallTimeout   = 50 * time.Millisecond
	DefaultLeaseTime     = 60 * time.Second
	DefaultPrefix        = "mmp"
	DefaultProbeInterval = time.Second
	// PoolSize bounds the connections to Redis of one MMP: at most this
	// many calls are in flight; one more waits at most the call timeout
	// for a connection and then counts as Redis down.
	PoolSize = 16
	// queueSize bounds the background work waiting; beyond it work is
	// dropped (and counted as an error "queue"): what it would have done
	// expires by itself in Redis.
	queueSize = 4096
	// backgroundTimeout bounds one background call (renewals, releases).
	backgroundTimeout = 2 * time.Second
)

// Config is the fleet's part of the configuration (FleetRedis and its
// companions in AService.cfg or ImapMMP.config).
type Config struct {
	URL         cfgfmt.RedisURL // FleetRedis; unset: no fleet
	CallTimeout time.Duration   // FleetCallTimeout; one call on a login's path
	FailClosed  bool            // FleetFailClosed
	LeaseTime   time.Duration   // FleetLeaseTime
	Prefix      string          // FleetKeyPrefix

	// ID names this MMP in the leases it holds; "" is the host name, the
	// process id and a random part, unique per Open.
	ID string
	// ProbeInterval is how often a down Redis is pinged; 0 is a second.
	ProbeInterval time.Duration
	// Log receives the outage and recovery lines; nil discards them.
	Log *slog.Logger
	// OnError counts a failed Redis operation (the metrics' counter by
	// operation); OnState reports Redis up or down (the gauge). Either
	// may be nil.
	OnError func(op string)
	OnState func(up bool)
	// TLS overrides the TLS client configuration of a rediss URL (tests
	// with their own CA); nil uses the system roots and the host name.
	TLS *tls.Config
}

// ConfigFrom reads the fleet parameters of the daemon's values.
func ConfigFrom(v *config.Values, log *slog.Logger) Config {
	return Config{
		URL:         config.Get(v, param.FleetRedis),
		CallTimeout: config.Get(v, param.FleetCallTimeout),
		FailClosed:  config.Get(v, param.FleetFailClosed),
		LeaseTime:   config.Get(v, param.FleetLeaseTime),
		Prefix:      config.Get(v, param.FleetKeyPrefix),
		Log:         log,
	}
}

// Client is an MMP's connection to the fleet's Redis. It is safe for
// concurrent use.
type Client struct {
	cfg Config
	rdb redis.UniversalClient

	up    atomic.Bool
	queue chan func(context.Context) error
	stop  chan struct{}
	done  sync.WaitGroup

	mu        sync.Mutex
	onRecover []func()

	leases leaseSet // the live leases this MMP renews (lease.go)
}

// Open connects to the fleet's Redis. It returns a nil Client and no
// error when FleetRedis is unset. An unreachable Redis is not an error:
// the Client starts down and its probe finds Redis when it comes.
func Open(cfg Config) (*Client, error) {
	if !cfg.URL.Set() {
		return nil, nil
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.LeaseTime <= 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ID == "" {
		cfg.ID = newID()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	rdb, err := newRedis(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, rdb: rdb, queue: make(chan func(context.Context) error, queueSize), stop: make(chan struct{})}
	c.leases.init()
	ctx, cancel := context.WithTimeout(context.Background(), max(cfg.CallTimeout, time.Second))
	err = rdb.Ping(ctx).Err()
	cancel()
	c.up.Store(true)
	if err != nil {
		c.markDown("ping", err)
	} else {
		c.state(true)
		cfg.Log.Info(fmt.Sprintf("fleet: sharing state through %s as %s", cfg.URL, cfg.ID))
	}
	c.done.Add(2)
	go c.worker()
	go c.renewer()
	return c, nil
}

// newRedis builds the go-redis client of the URL's form. No call retries
// (a retry would double the wait of a login) and the context's deadline
// bounds each one.
func newRedis(cfg Config) (redis.UniversalClient, error) {
	u := cfg.URL
	var tc *tls.Config
	if u.TLS {
		tc = cfg.TLS
		if tc == nil {
			host, _, _ := net.SplitHostPort(u.Addrs[0])
			tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	maint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	const dial = time.Second
	switch u.Mode {
	case "single":
		return redis.NewClient(&redis.Options{
			Addr: u.Addrs[0], Username: u.User, Password: u.Password, DB: u.DB, TLSConfig: tc,
			Protocol: 2, DisableIdentity: true, MaintNotificationsConfig: maint,
			MaxRetries: -1, ContextTimeoutEnabled: true, DialTimeout: dial,
			ReadTimeout: backgroundTimeout, WriteTimeout: backgroundTimeout,
			PoolSize: PoolSize, PoolTimeout: cfg.CallTimeout, MaxActiveConns: PoolSize,
		}), nil
	case "sentinel":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: u.Master, SentinelAddrs: u.Addrs, SentinelUsername: u.User, SentinelPassword: u.Password,
			Username: u.User, Password: u.Password, DB: u.DB, TLSConfig: tc,
			Protocol: 2, DisableIdentity: true,
			MaxRetries: -1, ContextTimeoutEnabled: true, DialTimeout: dial,
			ReadTimeout: backgroundTimeout, WriteTimeout: backgroundTimeout,
			PoolSize: PoolSize, PoolTimeout: cfg.CallTimeout, MaxActiveConns: PoolSize,
		}), nil
	case "cluster":
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: u.Addrs, Username: u.User, Password: u.Password, TLSConfig: tc,
			Protocol: 2, DisableIdentity: true, MaintNotificationsConfig: maint,
			MaxRetries: -1, MaxRedirects: 2, ContextTimeoutEnabled: true, DialTimeout: dial,
			ReadTimeout: backgroundTimeout, WriteTimeout: backgroundTimeout,
			PoolSize: PoolSize, PoolTimeout: cfg.CallTimeout, MaxActiveConns: PoolSize,
		}), nil
	}
	return nil, fmt.Errorf("fleet: unknown FleetRedis form %q", u.Mode)
}

func newID() string {
	host, _ := os.Hostname()
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Close stops the background work and closes the connections. The
// leases of this MMP are removed first, when Redis is up, so that a
// clean stop frees its counts at once.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	select {
	case <-c.stop:
		return nil
	default:
	}
	if c.Up() {
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		c.dropAllLeases(ctx)
		cancel()
	}
	close(c.stop)
	c.done.Wait()
	return c.rdb.Close()
}

// Enabled reports whether a fleet is configured.
func (c *Client) Enabled() bool { return c != nil }

// Up reports whether Redis is answering: calls on a login's path go to
// it. False for a nil Client.
func (c *Client) Up() bool { return c != nil && c.up.Load() }

// FailClosed reports FleetFailClosed: with Redis down, refuse.
func (c *Client) FailClosed() bool { return c != nil && c.cfg.FailClosed }

// Refusing reports whether the MMP must refuse now: a fleet that fails
// closed and whose Redis is down.
func (c *Client) Refusing() bool { return c != nil && c.cfg.FailClosed && !c.up.Load() }

// ID is this MMP's name in the fleet's leases.
func (c *Client) ID() string {
	if c == nil {
		return ""
	}
	return c.cfg.ID
}

// LeaseTime is FleetLeaseTime.
func (c *Client) LeaseTime() time.Duration {
	if c == nil {
		return 0
	}
	return c.cfg.LeaseTime
}

// Config is the configuration the Client was opened with.
func (c *Client) Config() Config {
	if c == nil {
		return Config{}
	}
	return c.cfg
}

// OnRecover registers f to run (in its own goroutine) each time Redis
// comes back after an outage, for state to be written again (the live
// leases are re-registered by the Client itself).
func (c *Client) OnRecover(f func()) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.onRecover = append(c.onRecover, f)
	c.mu.Unlock()
}

// Key builds a Redis key: the prefix and the parts joined by ":".
func (c *Client) Key(parts ...string) string {
	return c.prefix() + ":" + strings.Join(parts, ":")
}

// prefix is FleetKeyPrefix (the default for a nil Client, whose calls
// never reach Redis).
func (c *Client) prefix() string {
	if c == nil {
		return DefaultPrefix
	}
	return c.cfg.Prefix
}

// call runs fn against Redis within the call timeout, on a login's path.
// It returns ErrOff or ErrDown at once without a Redis, and trips the
// breaker when fn fails for want of Redis (not for redis.Nil or an error
// reply that Redis gave while well). op names the operation for the
// error counter.
func (c *Client) call(ctx context.Context, op string, fn func(ctx context.Context, r redis.UniversalClient) error) error {
	if c == nil {
		return ErrOff
	}
	if !c.up.Load() {
		return ErrDown
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	err := fn(ctx, c.rdb)
	c.judge(op, err)
	return err
}

// judge counts a failed operation and marks Redis down when the failure
// says it is unreachable, slow or not serving.
func (c *Client) judge(op string, err error) {
	if err == nil || errors.Is(err, redis.Nil) {
		return
	}
	if c.cfg.OnError != nil {
		c.cfg.OnError(op)
	}
	if unavailable(err) {
		c.markDown(op, err)
	} else {
		c.cfg.Log.Warn(fmt.Sprintf("fleet: Redis %s: %v", op, err))
	}
}

// unavailable tells a Redis that cannot serve (network, timeout, a
// server loading, read-only or without a master) from an error reply to
// a well-formed request.
func unavailable(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOAUTH", "WRONGPASS",
			"OOM", "BUSY", "ERR max number of clients"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return true
}

// background queues fn, to run off every login's path with a longer
// timeout; it is dropped when Redis is down or the queue is full (what it
// would do expires in Redis by itself).
func (c *Client) background(op string, fn func(ctx context.Context, r redis.UniversalClient) error) {
	if c == nil || !c.up.Load() {
		return
	}
	job := func(ctx context.Context) error {
		if !c.up.Load() {
			return nil
		}
		err := fn(ctx, c.rdb)
		c.judge(op, err)
		return err
	}
	select {
	case c.queue <- job:
	default:
		if c.cfg.OnError != nil {
			c.cfg.OnError("queue")
		}
	}
}

func (c *Client) worker() {
	defer c.done.Done()
	for {
		select {
		case <-c.stop:
			return
		case job := <-c.queue:
			ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
			job(ctx)
			cancel()
		}
	}
}

// markDown trips the breaker: one log line per outage, and one probe.
func (c *Client) markDown(op string, err error) {
	select {
	case <-c.stop:
		return // closing: the calls fail because the client is closed
	default:
	}
	if !c.up.CompareAndSwap(true, false) {
		return // already down: the probe is running
	}
	c.cfg.Log.Error(fmt.Sprintf("fleet: Redis at %s unreachable (%s: %v); each MMP uses its own state until it answers",
		c.cfg.URL, op, err))
	c.state(false)
	c.done.Add(1)
	go c.probe()
}

// probe pings Redis until it answers, then lets calls through again.
func (c *Client) probe() {
	defer c.done.Done()
	t := time.NewTicker(c.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(c.cfg.CallTimeout, 500*time.Millisecond))
		err := c.rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			continue
		}
		c.up.Store(true)
		c.state(true)
		c.cfg.Log.Error(fmt.Sprintf("fleet: Redis at %s answers again; fleet-wide state resumed", c.cfg.URL))
		c.recovered()
		return
	}
}

// recovered re-registers the live leases and runs the OnRecover hooks.
func (c *Client) recovered() {
	c.renewNow()
	c.mu.Lock()
	hooks := append([]func(){}, c.onRecover...)
	c.mu.Unlock()
	for _, f := range hooks {
		go f()
	}
}

func (c *Client) state(up bool) {
	if c.cfg.OnState != nil {
		c.cfg.OnState(up)
	}
}
