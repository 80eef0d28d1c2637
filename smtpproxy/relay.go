package smtpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
)

// relayPool is a service's memory of its relays: whose turn it is, and
// which relays failed recently and are avoided (docs/reference.md §4.4.1 step 4). It is
// keyed by address, so a refresh that changes SmtpRelays needs nothing.
type relayPool struct {
	turn atomic.Uint64
	now  func() time.Time

	mu  sync.Mutex
	bad map[string]time.Time // relay address → avoided until
}

func newRelayPool(now func() time.Time) *relayPool {
	return &relayPool{now: now, bad: map[string]time.Time{}}
}

// order returns the relays in the order one session tries them: round
// robin from this session's turn, the relays that are avoided moved to
// the end. They are still tried, last, because when every relay has
// failed recently it is better to try them again than to turn every client
// away for FailoverTimeout minutes.
func (p *relayPool) order(relays []string) []string {
	n := len(relays)
	if n == 0 {
		return nil
	}
	start := int((p.turn.Add(1) - 1) % uint64(n))
	now := p.now()
	good := make([]string, 0, n)
	var avoided []string
	p.mu.Lock()
	for i := range n {
		r := relays[(start+i)%n]
		if until, ok := p.bad[r]; ok && now.Before(until) {
			avoided = append(avoided, r)
			continue
		}
		delete(p.bad, r)
		good = append(good, r)
	}
	p.mu.Unlock()
	return append(good, avoided...)
}

// markBad avoids a relay for d.
func (p *relayPool) markBad(addr string, d time.Duration) {
	p.mu.Lock()
	p.bad[addr] = p.now().Add(d)
	p.mu.Unlock()
}

// markGood forgets that a relay failed: it was tried as a last resort and
// works again.
func (p *relayPool) markGood(addr string) {
	p.mu.Lock()
	delete(p.bad, addr)
	p.mu.Unlock()
}

// relayConn is the MMP's connection to a relay before the pipe.
type relayConn struct {
	addr string
	c    net.Conn
	r    *wire.Reader
	log  *slog.Logger
	// stop undoes the context hook that closes c when the session is
	// closed; it reports false when the hook already ran.
	stop func() bool
}

// relayReply is a reply read from a relay.
type relayReply struct {
	code  int
	lines []string // the text of each line, after "250-" or "250 "
}

// String is the reply's first line, for log lines and errors.
func (r *relayReply) String() string {
	if len(r.lines) == 0 || r.lines[0] == "" {
		return strconv.Itoa(r.code)
	}
	return strconv.Itoa(r.code) + " " + r.lines[0]
}

// send writes one command line to the relay. The trace shows it with the
// proxy password masked.
func (rc *relayConn) send(line string) error {
	if rc.log.Enabled(context.Background(), logging.LevelTrace) {
		logging.Trace(rc.log, fmt.Sprintf("to relay %s: %s", rc.addr, redact(line)))
	}
	rc.c.SetWriteDeadline(time.Now().Add(relayTimeout))
	_, err := io.WriteString(rc.c, line+"\r\n")
	return err
}

// errBadReply means a relay's reply does not follow RFC 5321 §4.2.
var errBadReply = errors.New("smtpproxy: malformed reply from the relay")

// readReply reads one reply, all its lines, by deadline.
func (rc *relayConn) readReply(deadline time.Time) (*relayReply, error) {
	rc.c.SetReadDeadline(deadline)
	rep := &relayReply{}
	for {
		b, err := rc.r.ReadLine()
		if err != nil {
			return nil, err
		}
		line := string(b)
		if len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return nil, fmt.Errorf("%w: %q", errBadReply, line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 200 || code > 599 || (rep.code != 0 && code != rep.code) {
			return nil, fmt.Errorf("%w: %q", errBadReply, line)
		}
		rep.code = code
		text := ""
		if len(line) > 4 {
			text = line[4:]
		}
		rep.lines = append(rep.lines, text)
		if len(line) == 3 || line[3] == ' ' {
			return rep, nil
		}
		if len(rep.lines) >= maxReplyLines {
			return nil, fmt.Errorf("%w: more than %d lines", errBadReply, maxReplyLines)
		}
	}
}

// command sends a line and reads the reply within relayTimeout.
func (rc *relayConn) command(line string) (*relayReply, error) {
	if err := rc.send(line); err != nil {
		return nil, err
	}
	return rc.readReply(time.Now().Add(relayTimeout))
}

// close ends the connection without a word; quit first says QUIT.
func (rc *relayConn) close() {
	rc.stop()
	rc.c.Close()
}

// quit ends the relay's session politely, so that its log shows a client
// that left rather than a lost connection, and closes it.
func (rc *relayConn) quit() {
	if rc.send("QUIT") == nil {
		rc.readReply(time.Now().Add(time.Second))
	}
	rc.close()
}

// helloRefused is a relay's 5xx to the client's own EHLO or HELO
// argument: the client's fault, not the relay's, so the reply is passed
// on and the relay is not avoided.
type helloRefused struct{ rep *relayReply }

func (e *helloRefused) Error() string { return "relay refused the greeting: " + e.rep.String() }

// connectRelay finds a relay for the session (docs/reference.md §4.4.1 steps 4 and 5):
// round robin, each within FailoverTimeout seconds, a failed one avoided
// for FailoverTimeout minutes. It sets c.relay and returns the relay's
// EHLO reply, or nil when the introduction waits for the login. When no
// relay can be used it returns errNoRelay.
func (c *conn) connectRelay(ctx context.Context) (*relayReply, error) {
	failover := config.Get(c.v, param.FailoverTimeout)
	relays := config.Get(c.v, param.SmtpRelays)
	var last error
	for _, addr := range c.p.relays.order(relays) {
		rc, rep, err := c.tryRelay(ctx, addr, failover)
		if err == nil {
			c.p.relays.markGood(addr)
			c.relay = rc
			c.log.Info(fmt.Sprintf("client %s (%s) introduced to relay %s with %s", c.s.ClientAddr, c.helo, addr, c.announce))
			return rep, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var hr *helloRefused
		if errors.As(err, &hr) {
			return nil, err
		}
		// FailoverTimeout is in seconds for the wait and in minutes for
		// the avoidance (docs/reference.md §2.6).
		avoid := failover * 60
		c.log.Warn(fmt.Sprintf("relay %s not usable, avoiding it for %v: %v", addr, avoid, err))
		c.p.relays.markBad(addr, avoid)
		last = err
	}
	c.log.Error(fmt.Sprintf("client %s: no relay usable (%s): %v", c.s.ClientAddr, strings.Join(relays, " "), last))
	return nil, errNoRelay
}

// tryRelay connects to one relay, reads its greeting within failover and
// introduces the client.
func (c *conn) tryRelay(ctx context.Context, addr string, failover time.Duration) (*relayConn, *relayReply, error) {
	deadline := time.Now().Add(failover)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	nc, err := c.p.dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	rc := &relayConn{addr: addr, c: nc, r: wire.NewReader(nc, maxRelayLine), log: c.log}
	// A session closed by Server.Close or Shutdown must not wait for a
	// relay: closing the connection ends any read or write at once.
	rc.stop = context.AfterFunc(ctx, func() { nc.Close() })
	if c.announce == "proxy" {
		// The PROXY header comes first, before the relay greets.
		if err := rc.send(proxyLine(c.s.ClientAddr, c.s.ServerAddr)); err != nil {
			rc.close()
			return nil, nil, err
		}
	}
	g, err := rc.readReply(deadline)
	if err != nil {
		rc.close()
		return nil, nil, fmt.Errorf("no greeting within %v: %w", failover, err)
	}
	if g.code != 220 {
		rc.quit()
		return nil, nil, fmt.Errorf("greeted with %s", g)
	}
	rep, err := c.introduce(rc)
	if err != nil {
		rc.quit()
		return nil, nil, err
	}
	return rc, rep, nil
}

// dropRelay gives up the relay connection, if the session still has one.
func (c *conn) dropRelay() {
	if c.relay != nil {
		c.relay.quit()
		c.relay = nil
	}
}
