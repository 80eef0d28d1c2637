package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
)

// Fail-over timing. A host that refused a connection is not dialled again
// for hostDownFor, unless every host of the URL is down: then one caller
// per probeEvery may try it, so that a restarted directory is used again
// within a second while a dead one costs at most one connect a second.
const (
	hostDownFor = 30 * time.Second
	probeEvery  = time.Second
)

// poolKind separates the pools that search as BindDN from the ones that
// only check users' passwords (PreAuth), which are bound as whichever user
// tried last and must never search.
type poolKind uint8

const (
	searchPool poolKind = iota
	bindPool
)

// poolKey identifies a pool: one per directory and identity.
type poolKey struct {
	url      string // cfgfmt.LDAPURL.String(), the canonical form
	bindDN   string
	bindPass string
	kind     poolKind
}

// pool is a bounded set of connections to one directory as one identity.
//
// sem holds one token per connection in use; idle connections hold none.
// A caller dials only when no idle connection is left, that is when every
// existing connection is in use by another token holder, so the number of
// open connections never exceeds cap(sem).
type pool struct {
	d        *Directory
	key      poolKey
	url      cfgfmt.LDAPURL
	bindDN   string
	bindPass string
	sem      chan struct{}
	interval atomic.Int64 // LdapRefreshInterval in ns, from the latest Values; 0 means never

	mu       sync.Mutex
	idle     []*conn // most recently returned last
	closed   bool
	lastUsed time.Time

	cacheMu sync.Mutex
	caches  map[cacheID]*cacheSlot
}

// cacheID names one cache of a pool. A pool has one cache per size in
// use: two vdmap domains that share a directory and identity but not
// LdapCacheSize (or AuthCacheSize) must not trim each other's cache on
// every login, so each size gets a cache of its own.
type cacheID struct {
	kind cacheKind
	size int
}

type cacheKind uint8

const (
	lookupCacheKind cacheKind = iota // users and domains, LdapCacheSize
	authCacheKind                    // successful pre-authentications, AuthCacheSize
)

type cacheSlot struct {
	c    *lru
	used time.Time
}

// conn is one LDAP connection of a pool.
type conn struct {
	*ldap.Conn
	host string // "host:port" of LdapUrl
	born time.Time
}

// get returns a connection for exclusive use, waiting for a free one
// within ctx. avoid names a host to try last when dialling (the one that
// just timed out). The caller gives it back with put or discard.
func (p *pool) get(ctx context.Context, avoid string) (*conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("directory: waiting for a free connection to %s: %w: %w", p.url.Hosts[0], ctx.Err(), account.ErrUnavailable)
	}
	refresh := p.refresh()
	now := time.Now()
	p.mu.Lock()
	p.lastUsed = now
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, fmt.Errorf("directory: closed: %w", account.ErrUnavailable)
	}
	var stale []*conn
	var c *conn
	for len(p.idle) > 0 {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if last.IsClosing() || refresh > 0 && now.Sub(last.born) >= refresh || p.d.brokenSince(p.url.Scheme, last.host, last.born) {
			stale = append(stale, last)
			continue
		}
		c = last
		break
	}
	p.mu.Unlock()
	for _, s := range stale {
		p.close(s)
	}
	if c != nil {
		return c, nil
	}
	c, err := p.d.dial(ctx, p, avoid)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// put returns a healthy connection to the pool, closing it instead when
// it has lived longer than LdapRefreshInterval (docs/reference.md §2.2) or the pool is
// closed.
func (p *pool) put(c *conn) {
	refresh := p.refresh()
	p.mu.Lock()
	keep := !p.closed && !c.IsClosing() && (refresh <= 0 || time.Since(c.born) < refresh)
	if keep {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !keep {
		p.close(c)
	}
	<-p.sem
}

// discard closes a connection that cannot be reused. After a network
// error (flush) it also closes the idle connections to the same host:
// those have usually died too (a restarted server), and handing them to
// the next logins would only fail them one by one.
func (p *pool) discard(c *conn, flush bool) {
	var same []*conn
	if flush {
		p.mu.Lock()
		p.idle = slices.DeleteFunc(p.idle, func(o *conn) bool {
			if o.host == c.host {
				same = append(same, o)
				return true
			}
			return false
		})
		p.mu.Unlock()
	}
	p.close(c)
	for _, o := range same {
		p.close(o)
	}
	<-p.sem
}

// refresh is the pool's LdapRefreshInterval; 0 means never.
func (p *pool) refresh() time.Duration { return time.Duration(p.interval.Load()) }

func (p *pool) close(c *conn) {
	c.SetTimeout(time.Second) // bounds Close's wait for the reader goroutine
	c.Close()
}

// shutdown closes the idle connections; connections in use are closed when
// they come back.
func (p *pool) shutdown() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		p.close(c)
	}
}

// idleFor reports how long the pool has not been used.
func (p *pool) idleFor(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return now.Sub(p.lastUsed)
}

// cache returns the pool's cache of kind with room for size entries, or
// nil when size is 0 (caching off). A cache nobody asked for during
// poolIdleLimit (a size a refresh replaced) is dropped when another one is
// created.
func (p *pool) cache(kind cacheKind, size int) *lru {
	if size <= 0 {
		return nil
	}
	now := time.Now()
	id := cacheID{kind, size}
	p.cacheMu.Lock()
	defer p.cacheMu.Unlock()
	if sl := p.caches[id]; sl != nil {
		sl.used = now
		return sl.c
	}
	if p.caches == nil {
		p.caches = map[cacheID]*cacheSlot{}
	}
	for k, sl := range p.caches {
		if now.Sub(sl.used) > poolIdleLimit {
			delete(p.caches, k)
		}
	}
	sl := &cacheSlot{c: newLRU(size), used: now}
	p.caches[id] = sl
	return sl.c
}

// markBroken records that a connection to host failed: connections to it
// that are older than now are not handed out again, whether they were idle
// or in use at the time. A server that was restarted or stopped has closed
// all of them, and a login that got one of those on its retry would fail.
func (d *Directory) markBroken(scheme, host string) {
	d.hostMu.Lock()
	d.broken[hostID(scheme, host)] = time.Now()
	d.hostMu.Unlock()
}

// brokenSince reports whether a connection to host born at born predates
// the host's latest failure.
func (d *Directory) brokenSince(scheme, host string, born time.Time) bool {
	d.hostMu.Lock()
	defer d.hostMu.Unlock()
	at, ok := d.broken[hostID(scheme, host)]
	return ok && !born.After(at)
}

// hostState is what the Directory remembers about one server.
type hostState struct {
	downUntil time.Time // zero when up
	lastTry   time.Time
}

// hostID names a server independently of the pools that use it.
func hostID(scheme, host string) string { return scheme + "://" + host }

// dialOrder returns the hosts of u to try, in LdapUrl order: the ones not
// marked down, with avoid moved last; or, when every host is down, the ones
// whose probe is due, which this call claims.
func (d *Directory) dialOrder(u cfgfmt.LDAPURL, avoid string) []string {
	now := time.Now()
	d.hostMu.Lock()
	defer d.hostMu.Unlock()
	var up []string
	for _, h := range u.Hosts {
		if st := d.hosts[hostID(u.Scheme, h)]; st == nil || !now.Before(st.downUntil) {
			up = append(up, h)
		}
	}
	if len(up) > 0 {
		if i := slices.Index(up, avoid); i >= 0 && len(up) > 1 {
			up = append(slices.Delete(up, i, i+1), avoid)
		}
		return up
	}
	var probe []string
	for _, h := range u.Hosts {
		st := d.hosts[hostID(u.Scheme, h)]
		if now.Sub(st.lastTry) >= probeEvery {
			st.lastTry = now
			probe = append(probe, h)
		}
	}
	return probe
}

// markDown records a failed connect; markUp a successful one.
func (d *Directory) markDown(scheme, host string, err error) {
	now := time.Now()
	d.hostMu.Lock()
	st := d.hosts[hostID(scheme, host)]
	if st == nil {
		st = &hostState{}
		d.hosts[hostID(scheme, host)] = st
	}
	wasUp := st.downUntil.IsZero()
	st.downUntil, st.lastTry = now.Add(hostDownFor), now
	d.hostMu.Unlock()
	if wasUp {
		d.log.Warn(fmt.Sprintf("directory: LDAP server %s is down, skipping it for %s: %v", hostID(scheme, host), hostDownFor, err))
	}
}

func (d *Directory) markUp(scheme, host string) {
	d.hostMu.Lock()
	st := d.hosts[hostID(scheme, host)]
	wasDown := st != nil && !st.downUntil.IsZero()
	delete(d.hosts, hostID(scheme, host))
	d.hostMu.Unlock()
	if wasDown {
		d.log.Info(fmt.Sprintf("directory: LDAP server %s is back", hostID(scheme, host)))
	}
}

// dial opens and binds a new connection for p, trying the hosts in
// fail-over order.
func (d *Directory) dial(ctx context.Context, p *pool, avoid string) (*conn, error) {
	hosts := d.dialOrder(p.url, avoid)
	if len(hosts) == 0 {
		return nil, fmt.Errorf("directory: every server of %s is down: %w", p.url, account.ErrUnavailable)
	}
	var errs []error
	for _, h := range hosts {
		c, err := d.connect(ctx, p, h)
		if err == nil {
			d.markUp(p.url.Scheme, h)
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("directory: connect %s: %w: %w", hostID(p.url.Scheme, h), err, account.ErrUnavailable)
		}
		if !isNetwork(err) {
			// The server answered, and refused our bind: a configuration
			// problem that another replica would refuse the same way.
			d.log.Error(fmt.Sprintf("directory: bind as %q to %s refused: %v", p.bindDN, hostID(p.url.Scheme, h), err))
			return nil, fmt.Errorf("directory: bind as %q to %s: %w: %w", p.bindDN, hostID(p.url.Scheme, h), err, account.ErrUnavailable)
		}
		d.markDown(p.url.Scheme, h, err)
		errs = append(errs, fmt.Errorf("%s: %w", hostID(p.url.Scheme, h), err))
	}
	return nil, fmt.Errorf("directory: %w: %w", joinErrs(errs), account.ErrUnavailable)
}

// joinErrs is errors.Join on one line, since the result ends up in a log
// line.
func joinErrs(errs []error) error {
	args := make([]any, len(errs))
	for i, e := range errs {
		args[i] = e
	}
	return fmt.Errorf(strings.TrimSuffix(strings.Repeat("%w; ", len(errs)), "; "), args...)
}

// connect dials one host, with TLS for ldaps:// (or StartTLS for ldap://
// when Options.StartTLS is set), and binds as the pool's BindDN (anonymous
// when it is empty: no bind at all). Nothing, the BindPass least of all, is
// sent in clear text when TLS was asked for and failed.
func (d *Directory) connect(ctx context.Context, p *pool, host string) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, d.dialTimeout)
	defer cancel()
	var nd net.Dialer
	nc, err := nd.DialContext(dctx, "tcp", host)
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	isTLS := p.url.Scheme == "ldaps"
	if isTLS {
		tc := tls.Client(nc, d.tlsConfig(host))
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS: %w", err))
		}
		nc = tc
	}
	lc := ldap.NewConn(nc, isTLS)
	lc.Start()
	c := &conn{Conn: lc, host: host, born: time.Now()}
	if !isTLS && d.startTLS {
		// go-ldap waits for the StartTLS answer and runs the handshake
		// without a timeout of its own: the deadline on the socket is
		// what bounds them.
		nc.SetDeadline(time.Now().Add(d.opTimeout))
		err := d.run(ctx, c, func() error { return c.StartTLS(d.tlsConfig(host)) })
		if err != nil {
			p.close(c)
			return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("StartTLS: %w", err))
		}
		nc.SetDeadline(time.Time{})
	}
	if p.bindDN != "" {
		if err := d.run(ctx, c, func() error { return c.Bind(p.bindDN, p.bindPass) }); err != nil {
			p.close(c)
			return nil, err
		}
	}
	return c, nil
}

// tlsConfig verifies the server's certificate against Options.RootCAs
// (the system roots when nil) for the host name of LdapUrl.
func (d *Directory) tlsConfig(host string) *tls.Config {
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		name = host
	}
	return &tls.Config{ServerName: name, RootCAs: d.rootCAs, MinVersion: tls.VersionTLS12}
}

// run performs one LDAP operation on c, bounded by OpTimeout and ctx. go-ldap
// enforces SetTimeout itself; cancellation of ctx closes the connection,
// which is the only way to interrupt an operation in progress (the
// connection is then discarded by the caller).
func (d *Directory) run(ctx context.Context, c *conn, op func() error) error {
	timeout := d.opTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return ldap.NewError(ldap.ErrorNetwork, cmpErr(err, context.DeadlineExceeded))
	}
	c.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	start := time.Now()
	err := op()
	if err != nil && isNetwork(err) && time.Since(start) >= timeout {
		return &timeoutError{timeout: timeout, err: err}
	}
	return err
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// timeoutError marks an operation that ran out of time, so that the retry
// prefers another host.
type timeoutError struct {
	timeout time.Duration
	err     error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no answer within %s: %v", e.timeout.Round(time.Millisecond), e.err)
}
func (e *timeoutError) Unwrap() error { return e.err }

// isNetwork reports whether err means the connection is unusable, as
// opposed to an answer from the server: go-ldap's ErrorNetwork and its
// codes for garbled replies, the result codes client libraries use for a
// lost server, and errors that are not LDAP results at all (a failed
// write). go-ldap's codes for our own mistakes (a filter that does not
// compile, an empty password) are not network errors: another connection
// would fail the same way.
func isNetwork(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.ErrorNetwork, ldap.ErrorUnexpectedMessage, ldap.ErrorUnexpectedResponse, ldap.ErrorMalformedPacket,
			ldap.LDAPResultServerDown, ldap.LDAPResultConnectError:
			return true
		}
		return false
	}
	return err != nil
}

// maxAttempts bounds the tries of one operation: the first, a retry on a
// fresh connection, and a last one for the login that drew, on its retry,
// a connection that died in the same event (a stopped server closes all
// of them at once). Timeouts allow two attempts only, so that a hung
// directory costs a login at most two OpTimeouts.
const (
	maxAttempts = 3
	maxTimeouts = 2
)

// withConn runs op on a connection of p, retrying on a fresh connection
// after a network error. Errors the server answered are returned as they
// are, for the caller to classify; anything else becomes
// account.ErrUnavailable.
func (d *Directory) withConn(ctx context.Context, p *pool, op func(c *conn) error) error {
	avoid := ""
	timeouts := 0
	var last error
	for attempt := 0; attempt < maxAttempts && timeouts < maxTimeouts; attempt++ {
		c, err := p.get(ctx, avoid)
		if err != nil {
			if last != nil {
				err = fmt.Errorf("%w (after %v)", err, last)
			}
			return err
		}
		if ctx.Err() != nil {
			p.put(c)
			break
		}
		err = d.run(ctx, c, func() error { return op(c) })
		if err == nil || !isNetwork(err) {
			if ctx.Err() != nil {
				// The context may have closed the connection just as
				// the answer came in.
				p.discard(c, false)
			} else {
				p.put(c)
			}
			return err
		}
		if ctx.Err() == nil {
			// (A cancelled context closed the connection itself: not the
			// server's fault.)
			d.markBroken(p.url.Scheme, c.host)
		}
		p.discard(c, true)
		last = fmt.Errorf("%s: %w", hostID(p.url.Scheme, c.host), err)
		if te := (*timeoutError)(nil); errors.As(err, &te) {
			avoid = c.host
			timeouts++
		}
		if ctx.Err() != nil {
			break
		}
		d.debugf(ctx, "directory: retrying on a new connection after: %v", last)
	}
	if last == nil {
		last = ctx.Err()
	}
	return fmt.Errorf("directory: %w: %w", last, account.ErrUnavailable)
}
