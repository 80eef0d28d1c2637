// Package authsvc is the MMP's AuthService, the memory behind
// POP-before-SMTP (docs/reference.md §4.3.3, §2.3 AuthService/AuthServiceTTL): the POP
// proxy records each successful login by client address, and the SMTP
// proxy asks whether an address logged in recently, so that it can tell
// the relay to treat the session as trusted (PopBeforeSmtpKludgeChannel).
//
// In one process the SMTP proxy reads the Cache directly. Between
// processes (PopProxy and SmtpProxy run separately, or on other hosts) it
// asks the POP proxy with the POP command `XQUERYAUTH ip-address`, which
// the POP proxy answers `+OK <user>` or `-ERR` (docs/reference.md §4.3.2, §7.18; the
// reply syntax is this implementation's choice, the Sun one was never
// published).
//
// Typical usage:
//
//	c := authsvc.New(authsvc.Options{TTL: 15 * time.Minute})
//	c.Record(clientIP, "alice@siroe.com")          // POP login succeeded
//	user, ok := c.Lookup(ctx, clientIP)           // SMTP: POP-before-SMTP?
//	q := authsvc.Remote{Addr: "pop.siroe.com:110"} // or ask another process
package authsvc

import (
	"bufio"
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/openmmp/mmp/fleet"
)

// DefaultMax bounds the number of addresses remembered when Options.Max is
// zero; the oldest login is forgotten first.
const DefaultMax = 100_000

// Querier answers whether a client address logged in with POP within the
// AuthServiceTTL, and as whom. Cache and Remote implement it.
type Querier interface {
	Lookup(ctx context.Context, ip netip.Addr) (user string, ok bool, err error)
}

// Options configure a Cache.
type Options struct {
	TTL time.Duration    // AuthServiceTTL; zero or less records nothing
	Max int              // bound on entries; zero means DefaultMax
	Now func() time.Time // for tests; nil means time.Now

	// Fleet shares the logins with the other MMPs of a fleet
	// (docs/reference.md §4.9): each is also recorded in Redis, and
	// Lookup asks Redis first while it answers. The cache is still kept:
	// it answers during an outage. Nil: this process only.
	Fleet *fleet.Client
}

// Cache remembers POP logins by client address for a TTL.
type Cache struct {
	mu    sync.Mutex
	opt   Options
	byIP  map[netip.Addr]*list.Element
	order *list.List // of *entry, oldest login at the front
}

type entry struct {
	ip   netip.Addr
	user string
	at   time.Time
}

var _ Querier = (*Cache)(nil)

// New returns an empty cache.
func New(opt Options) *Cache {
	c := &Cache{byIP: map[netip.Addr]*list.Element{}, order: list.New()}
	c.Reconfigure(opt)
	return c
}

// Reconfigure applies new options (refresh); what is remembered stays.
func (c *Cache) Reconfigure(opt Options) {
	if opt.Max <= 0 {
		opt.Max = DefaultMax
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opt = opt
	c.expire()
}

// Record remembers that ip logged in as user now.
func (c *Cache) Record(ip netip.Addr, user string) {
	ip = ip.Unmap()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opt.TTL <= 0 || !ip.IsValid() {
		return
	}
	now := c.opt.Now()
	if el, ok := c.byIP[ip]; ok {
		e := el.Value.(*entry)
		e.user, e.at = user, now
		c.order.MoveToBack(el)
	} else {
		c.byIP[ip] = c.order.PushBack(&entry{ip: ip, user: user, at: now})
	}
	c.expire()
	c.opt.Fleet.RecordPOPLogin(ip, user, c.opt.TTL) // queued, not waited for
}

// Lookup returns the user who last logged in from ip within the TTL: on
// any MMP of the fleet while its Redis answers (one round trip), and in
// this process otherwise, or when Redis knows no login from ip (one
// recorded here while Redis was down).
func (c *Cache) Lookup(ctx context.Context, ip netip.Addr) (string, bool, error) {
	ip = ip.Unmap()
	c.mu.Lock()
	fl := c.opt.Fleet
	c.mu.Unlock()
	if fl.Up() {
		if user, ok, err := fl.POPLogin(ctx, ip); err == nil && ok {
			return user, true, nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	if el, ok := c.byIP[ip]; ok {
		return el.Value.(*entry).user, true, nil
	}
	return "", false, nil
}

// Len is the number of addresses remembered.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// expire drops entries older than the TTL and beyond the bound; the list
// is in login order, so only its front is looked at.
func (c *Cache) expire() {
	now := c.opt.Now()
	for el := c.order.Front(); el != nil; el = c.order.Front() {
		e := el.Value.(*entry)
		if c.order.Len() <= c.opt.Max && now.Sub(e.at) < c.opt.TTL {
			break
		}
		c.order.Remove(el)
		delete(c.byIP, e.ip)
	}
}

// Remote asks a POP proxy in another process with XQUERYAUTH.
type Remote struct {
	Addr    string        // host:port of the POP proxy
	Timeout time.Duration // whole exchange; zero means 5 seconds
}

var _ Querier = Remote{}

// ErrRefused means the POP proxy does not answer XQUERYAUTH (AuthService
// off for that address, or not allowed from here).
var ErrRefused = errors.New("authsvc: XQUERYAUTH refused")

// Lookup asks the POP proxy. A "-ERR" answer is "not logged in" unless it
// says the command is not available, which is ErrRefused, so that a
// misconfiguration is visible rather than silently denying every client.
func (r Remote) Lookup(ctx context.Context, ip netip.Addr) (string, bool, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return "", false, fmt.Errorf("authsvc: %w", err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	br := bufio.NewReaderSize(conn, 512)
	line, err := readLine(br)
	if err != nil {
		return "", false, err
	}
	if !strings.HasPrefix(line, "+OK") {
		return "", false, fmt.Errorf("authsvc: %s greeted %q", r.Addr, line)
	}
	if _, err := fmt.Fprintf(conn, "XQUERYAUTH %s\r\n", ip.Unmap()); err != nil {
		return "", false, fmt.Errorf("authsvc: %w", err)
	}
	line, err = readLine(br)
	if err != nil {
		return "", false, err
	}
	fmt.Fprintf(conn, "QUIT\r\n")
	switch {
	case strings.HasPrefix(line, "+OK "):
		return strings.TrimSpace(line[4:]), true, nil
	case strings.HasPrefix(line, "-ERR"):
		if strings.Contains(line, NotAvailable) {
			return "", false, ErrRefused
		}
		return "", false, nil
	}
	return "", false, fmt.Errorf("authsvc: unexpected XQUERYAUTH reply %q", line)
}

// NotAvailable is the text the POP proxy puts in its -ERR when XQUERYAUTH
// is not enabled for the asker.
const NotAvailable = "XQUERYAUTH not available"

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("authsvc: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
