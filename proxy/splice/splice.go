// Package splice is the session after login: a byte pipe between the
// client and the store that looks at nothing it carries. Start is its one
// entry point; see its documentation for how the kernel moves the data
// and why an idle session holds no goroutine.
package splice

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Result is what a finished pipe reports for the close log line.
type Result struct {
	FromClient int64 // octets client → store, pending ones included
	FromStore  int64 // octets store → client
	Idle       bool  // closed because neither side sent anything for the idle timeout
	Err        error // the first real error of either direction; nil for a clean close
}

// copyBufSize is the size of the buffers lent to directions that cannot
// splice; 32 KiB is io.Copy's choice and holds two full TLS records.
const copyBufSize = 32 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// errIdle ends a direction whose session was idle for the timeout.
var errIdle = errors.New("splice: idle timeout")

// errQuiet ends a stretch of a direction that may park: its source sent
// nothing for parkAfter.
var errQuiet = errors.New("splice: direction quiet")

// parkAfter is how long the store → client direction of a TCP session
// waits for data in a goroutine of its own before it parks (see Splice);
// at most a quarter of the idle timeout. Bulk transfers and interactive
// exchanges keep their goroutine; a session that goes quiet gives it up.
// A variable only so that a benchmark can measure waking parked directions.
var parkAfter = 250 * time.Millisecond

// Start is the session after login (docs/reference.md §4.2.6): it sends
// the pending octets, then moves data both ways without looking at it
// until both sides have closed their sending half, either side fails, or
// nothing has moved either way for idle (zero: no limit); then it closes
// both connections and calls done, in a goroutine of the pipe, with the
// session's figures. Start returns at once; no goroutine waits for the
// session. The Pipe it returns lets others watch and end the session:
// Counts for the figures so far, Stop to end it from outside (server
// shutdown), which closes both connections, something alone not noticed
// while no goroutine waits on them, and End to end it with a last word
// to the client (a kick).
//
// Between two TCP connections on Linux a direction relays what its
// source sends by read(2) and write(2) through a small pooled buffer
// while reads are short (commands and their replies: two system calls
// each, and no read that finds the socket empty, see relay); a read that
// fills the buffer starts a bulk transfer, which the kernel moves
// (splice(2)) through a pipe taken from a pool until the socket has
// nothing more queued; the pipe goes back before the direction waits. A
// direction that has been quiet for parkAfter parks: its socket is handed
// to one epoll instance of the process (EPOLLONESHOT) and its goroutine
// ends. When data arrives, the poller relays a short read itself and
// parks the direction again (wakeSmall); anything more, or a direction
// that moved data within busyWithin, is taken over by a new goroutine. So
// an idle session holds no goroutine, buffer or pipe, only its state
// (a few hundred octets beyond the connections); one timer of the
// process enforces the idle timeout of the sessions whose directions are
// all parked (sleepers).
//
// A session whose client is TLS on a TCP socket (an implicit SSL port,
// STARTTLS) and whose store is TCP is copied through a pooled buffer
// borrowed only while data moves (copyStep), and its directions park in
// the poller like the others: the client's once the TLS layer holds
// nothing decoded, and the poller only wakes them, since what the socket
// has are TLS records. Other connections (TLS to the store, net.Pipe)
// are copied the same way in one goroutine per direction, waiting on the
// socket underneath when there is one.
//
// An end of stream on one side is passed on as a half-close (CloseWrite)
// of the other, as IMAP and POP clients that shut down their sending half
// after LOGOUT expect to still read the reply.
func Start(client, store net.Conn, idle time.Duration, fromClient, fromStore []byte, done func(Result)) Pipe {
	p := begin(client, store, idle, fromClient, fromStore)
	p.done = done
	switch {
	case p.isClosed():
		go p.finish()
	case kernelSplice && p.startAsync():
	default:
		go func() {
			p.copyBoth()
			p.finish()
		}()
	}
	return Pipe{p}
}

// Pipe is a running session after login, as seen from outside it.
type Pipe struct{ p *pipe }

// Stop ends the session: it closes both connections, and done is called.
func (h Pipe) Stop() { h.p.closeBoth() }

// End ends the session with a last word to the client (a kick:
// imsconnutil -k): both directions stop, goodbye is written to the
// client after whatever the client was already being sent, and both
// connections are closed; done is called. It returns at once. A client
// that does not read within endGrace does not get the goodbye. A second
// End, or End after Stop, does nothing.
func (h Pipe) End(goodbye []byte) { h.p.endWith(goodbye) }

// Counts are the octets moved so far each way, pending ones included.
func (h Pipe) Counts() (fromClient, fromStore int64) {
	return h.p.dirs[0].n.Load(), h.p.dirs[1].n.Load()
}

// Socket buffers of a session, set once at the hand-off (setsockopt
// SO_SNDBUF and SO_RCVBUF; the kernel doubles each value for its own
// overhead and stops tuning it). Without them the kernel grows them for a
// fast transfer, up to tcp_wmem and tcp_rmem (4 and 6 MiB by default), and
// they stay full when the transfer stalls: a client that starts a large
// FETCH and reads nothing parked 11 MB of kernel memory. With these a
// session whose client reads nothing holds about 320 KiB (the client
// socket's send queue, the store socket's receive queue and a pipe), and
// about 430 KiB if it also sends without end to a store that does not
// read (docs/benchmarks.md). The FETCH rate on loopback is unchanged; a
// distant client gets at most about 256 KiB in flight towards it (5 MB/s
// at 50 ms of round trip) and 64 KiB from it.
const (
	clientSendBuffer = 128 << 10 // store → client: what waits for the client
	storeRecvBuffer  = 64 << 10  // and what waits behind it at the store socket
	clientRecvBuffer = 32 << 10  // client → store, which the store drains
	storeSendBuffer  = 8 << 10
)

// limitBuffers sets the socket buffers of a session's connections; a TLS
// client connection has them set on its socket.
func limitBuffers(client, store net.Conn) {
	type buffers interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}
	if nc, ok := client.(interface{ NetConn() net.Conn }); ok {
		client = nc.NetConn()
	}
	if c, ok := client.(buffers); ok {
		c.SetWriteBuffer(clientSendBuffer)
		c.SetReadBuffer(clientRecvBuffer)
	}
	if nc, ok := store.(interface{ NetConn() net.Conn }); ok {
		store = nc.NetConn()
	}
	if s, ok := store.(buffers); ok {
		s.SetReadBuffer(storeRecvBuffer)
		s.SetWriteBuffer(storeSendBuffer)
	}
}

// begin makes the pipe of a session, limits its socket buffers and sends
// the pending octets.
func begin(client, store net.Conn, idle time.Duration, fromClient, fromStore []byte) *pipe {
	limitBuffers(client, store)
	p := &pipe{idle: idle, conns: [2]net.Conn{client, store}}
	p.dirs[0].p = p
	p.dirs[1].p, p.dirs[1].i = p, 1
	p.dirs[0].touch()
	p.dirs[1].touch()
	// The pending octets count with what each direction moves.
	write := func(dst net.Conn, b []byte, n *atomic.Int64) error {
		if len(b) == 0 {
			return nil
		}
		if idle > 0 {
			dst.SetWriteDeadline(time.Now().Add(idle))
		}
		w, err := dst.Write(b)
		n.Add(int64(w))
		return err
	}
	if err := write(store, fromClient, &p.dirs[0].n); err != nil {
		p.fail(err)
	} else if err := write(client, fromStore, &p.dirs[1].n); err != nil {
		p.fail(err)
	}
	return p
}

// finish closes both connections and reports the session.
func (p *pipe) finish() { p.done(p.result()) }

// endGrace bounds an End: how long the directions have to finish and
// the goodbye to be written before the connections are closed anyway.
const endGrace = 500 * time.Millisecond

// endWith is End. The store connection is closed, so nothing more comes
// from it, and the client's receiving half shut down, so its direction
// sees an end of stream while its sending half stays open for the
// goodbye, which the last direction to finish writes (result) when no
// other write to the client can be under way. A parked direction is
// finished here, taken out of the poller's set first, so that the
// shutdown wakes nobody: a parkID is used again once its direction is
// over.
func (p *pipe) endWith(goodbye []byte) {
	p.mu.Lock()
	if p.closed || p.ending.Load() {
		p.mu.Unlock()
		return
	}
	endings.add(p, goodbye, time.AfterFunc(endGrace, p.closeBoth))
	p.ending.Store(true)
	parked := p.takeParked()
	p.mu.Unlock()
	for _, d := range parked {
		disarm(d)
	}
	p.conns[1].Close()
	client := p.conns[0]
	if nc, ok := client.(interface{ NetConn() net.Conn }); ok {
		client = nc.NetConn()
	}
	if cr, ok := client.(interface{ CloseRead() error }); ok {
		cr.CloseRead()
	}
	if len(parked) > 0 {
		// The last direction writes the goodbye and calls done: not in
		// the caller's goroutine, which may be ending many sessions.
		go func() {
			for _, d := range parked {
				d.over()
			}
		}()
	}
}

// endings holds End's goodbye and grace timer while a session ends, out
// of the pipe, which every idle session holds (TestIdleSessionHeap).
var endings = endTable{m: make(map[*pipe]endEntry)}

type endTable struct {
	mu sync.Mutex
	m  map[*pipe]endEntry
}

type endEntry struct {
	goodbye []byte
	timer   *time.Timer // closes both connections at the end of endGrace
}

func (t *endTable) add(p *pipe, goodbye []byte, timer *time.Timer) {
	t.mu.Lock()
	t.m[p] = endEntry{goodbye, timer}
	t.mu.Unlock()
}

func (t *endTable) goodbye(p *pipe) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[p].goodbye
}

// remove forgets a finished pipe and stops its timer.
func (t *endTable) remove(p *pipe) {
	t.mu.Lock()
	e, ok := t.m[p]
	delete(t.m, p)
	t.mu.Unlock()
	if ok {
		e.timer.Stop()
	}
}

// sayGoodbye writes End's goodbye to the client, unless the grace is
// over (the timer closed the connections).
func (p *pipe) sayGoodbye() {
	if !p.ending.Load() {
		return
	}
	bye := endings.goodbye(p)
	if len(bye) == 0 || p.isClosed() {
		return
	}
	p.conns[0].SetWriteDeadline(time.Now().Add(endGrace))
	p.conns[0].Write(bye)
}

// result closes both connections and reports the session.
func (p *pipe) result() Result {
	p.sayGoodbye()
	p.closeBoth()
	sleepers.remove(p)
	if p.ending.Load() {
		endings.remove(p) // closed: no End comes after
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return Result{
		FromClient: p.dirs[0].n.Load(),
		FromStore:  p.dirs[1].n.Load(),
		Err:        p.err,
		Idle:       p.idleHit,
	}
}

// pipe is the state shared by the two directions of one session. It is
// kept small, as it is most of what an idle session holds
// (TestIdleSessionHeap): times are monotonic nanoseconds since epoch, and
// a direction finds its connections in the pipe.
type pipe struct {
	idle  time.Duration
	conns [2]net.Conn  // client, store
	dirs  [2]direction // client → store, store → client
	done  func(Result)

	// Kernel splicing (startAsync) only.
	raw     [2]syscall.RawConn // of conns
	running atomic.Int32       // directions not over

	mu      sync.Mutex
	closed  bool
	idleHit bool
	tls     bool  // the client is TLS on a socket: its directions copy (copyStep), not splice; set before they start
	slot    int32 // index+1 in sleepers while queued there, else 0; under sleepers.mu
	// End: the session is being ended (set under mu, read without); the
	// directions stop, none parks, and no error is an error any more.
	// Its goodbye and timer are in endings.
	ending atomic.Bool
	err    error
}

// Direction states, changed under pipe.mu.
const (
	dirActive = iota // a goroutine carries the direction
	dirParked        // the poller watches its source; no goroutine
	dirOver          // finished
)

// direction is one way of the pipe: from conns[i] to conns[1-i].
type direction struct {
	p        *pipe
	n        atomic.Int64 // octets moved, those sent before the pipe started (pending) included
	last     atomic.Int64 // when it last moved data (mono)
	rdl, wdl int64        // read deadline last set on src, write deadline on dst (mono, 0 none)
	i        uint8

	// Kernel splicing (startAsync) only.
	state  uint8
	bulk   bool  // splicing (relay)
	armed  bool  // the source is in the poller's epoll set
	parkID int32 // the poller's key, 0 before the first park
}

func (d *direction) src() net.Conn         { return d.p.conns[d.i] }
func (d *direction) dst() net.Conn         { return d.p.conns[1-d.i] }
func (d *direction) rsrc() syscall.RawConn { return d.p.raw[d.i] }
func (d *direction) rdst() syscall.RawConn { return d.p.raw[1-d.i] }

// epoch is the origin of the pipes' monotonic times.
var epoch = time.Now()

// mono is t as nanoseconds since epoch; 0 for the zero time.
func mono(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return int64(t.Sub(epoch))
}

// wall is the time of a mono value.
func wall(m int64) time.Time {
	if m == 0 {
		return time.Time{}
	}
	return epoch.Add(time.Duration(m))
}

// touch records that d moved data now.
func (d *direction) touch() { d.last.Store(int64(time.Since(epoch))) }

// lastMoved is when data last moved either way (mono).
func (p *pipe) lastMoved() int64 { return max(p.dirs[0].last.Load(), p.dirs[1].last.Load()) }

func (p *pipe) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// closeBoth closes both connections once; the other direction's pending
// read or write then fails and it returns. A parked direction has no
// goroutine to notice: it is finished here.
func (p *pipe) closeBoth() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	parked := p.takeParked()
	p.mu.Unlock()
	p.conns[0].Close()
	p.conns[1].Close()
	for _, d := range parked {
		d.over()
	}
}

// takeParked marks the parked directions over and returns them, for
// their caller to finish (no goroutine carries them). p.mu is held.
func (p *pipe) takeParked() []*direction {
	var parked []*direction
	for i := range p.dirs {
		if d := &p.dirs[i]; d.state == dirParked {
			d.state = dirOver
			parked = append(parked, d)
		}
	}
	return parked
}

// fail records the first error and ends the session.
func (p *pipe) fail(err error) {
	p.mu.Lock()
	if !p.closed {
		if errors.Is(err, errIdle) {
			p.idleHit = true
		} else if p.err == nil {
			p.err = err
		}
	}
	p.mu.Unlock()
	p.closeBoth()
}

// end passes a direction's end of stream on as a half-close, or ends the
// session on an error.
func (p *pipe) end(d *direction, err error) {
	if p.ending.Load() {
		return // End closes; the client's sending half stays open for the goodbye
	}
	if err != nil {
		p.fail(err)
		return
	}
	if cw, ok := d.dst().(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			p.fail(err)
		}
	}
}

// idleEnd is when the session becomes idle if nothing moves before.
func (p *pipe) idleEnd() time.Time { return wall(p.lastMoved() + int64(p.idle)) }

// expired decides what a read deadline means: the session is idle if no
// data moved either way for the timeout; otherwise the other direction was
// busy, and the deadline moves to the new end of the idle period.
func (p *pipe) expired(d *direction, err error) error {
	if p.idle <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	until := p.idleEnd()
	if !time.Now().Before(until) {
		return errIdle
	}
	d.rdl = mono(until)
	d.src().SetReadDeadline(until)
	return nil
}

// extend renews the direction's read and write deadlines when data is
// about to move: the read deadline so that the transfer itself does not
// find it expired (Go checks it again when splice(2) reads), the write
// deadline so that a peer that stops reading cannot hold the direction
// for longer than the timeout. A deadline is renewed only when half of it
// is used up, which keeps timer updates off the path of most chunks.
// period is how far ahead the read deadline goes: the idle timeout, or
// for a direction that may park, the shorter parkAfter.
func (p *pipe) extend(d *direction, now time.Time, period time.Duration) {
	if period > 0 && wall(d.rdl).Sub(now) <= period/2 {
		d.rdl = mono(now.Add(period))
		d.src().SetReadDeadline(wall(d.rdl))
	}
	if p.idle > 0 && wall(d.wdl).Sub(now) <= p.idle/2 {
		d.wdl = mono(now.Add(p.idle))
		d.dst().SetWriteDeadline(wall(d.wdl))
	}
}

// startAsync parks both directions of a TCP session; false if the
// connections are not both TCP (nothing was done then).
func (p *pipe) startAsync() bool {
	up, down := &p.dirs[0], &p.dirs[1]
	if !p.initTCP() {
		return false
	}
	p.running.Store(2)
	for _, d := range []*direction{up, down} {
		if !p.park(d) {
			go p.flow(d)
		}
	}
	return true
}

// initTCP fetches the raw connections of a TCP session: both TCP, or a
// TLS client on a TCP socket and a TCP store, whose directions copy
// instead of splicing but park in the poller alike (an idle TLS session
// then holds no goroutine either: docs/benchmarks.md, "Idle sessions over
// TLS").
func (p *pipe) initTCP() bool {
	s, ok := p.conns[1].(*net.TCPConn)
	if !ok {
		return false
	}
	var c syscall.Conn
	isTLS := false
	switch cc := p.conns[0].(type) {
	case *net.TCPConn:
		c = cc
	case interface{ NetConn() net.Conn }:
		sc, ok := cc.NetConn().(syscall.Conn)
		if !ok || !canProbe {
			return false
		}
		c, isTLS = sc, true
	default:
		return false
	}
	var err1, err2 error
	p.raw[0], err1 = c.SyscallConn()
	p.raw[1], err2 = s.SyscallConn()
	p.tls = isTLS
	return err1 == nil && err2 == nil
}

// mayPark says whether d may park: the poller works and the session is
// not closing.
func (p *pipe) mayPark(d *direction) bool {
	if !pollerUsable() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && !p.ending.Load()
}

// flow moves one direction of a TCP session until its end, or until it
// parks.
func (p *pipe) flow(d *direction) {
	for {
		err := p.spliceDir(d)
		if err == errQuiet {
			if p.park(d) {
				return
			}
			if !p.ending.Load() {
				continue // parking refused: wait here
			}
			err = nil // End: the direction stops here
		}
		p.end(d, err)
		d.over()
		return
	}
}

// over marks a direction finished; the last one ends the session.
func (d *direction) over() {
	p := d.p
	p.mu.Lock()
	d.state = dirOver
	if p.idle > 0 && !p.closed {
		p.watchIdle() // the other direction may be parked
	}
	p.mu.Unlock()
	forget(d)
	if p.running.Add(-1) != 0 {
		return
	}
	p.finish()
}

// park hands a quiet direction to the poller; false if it may not park
// (any more) or the poller refused.
func (p *pipe) park(d *direction) bool {
	if !pollerUsable() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ending.Load() {
		return false
	}
	if err := arm(d); err != nil {
		return false
	}
	d.state = dirParked
	if p.idle > 0 {
		p.watchIdle()
	}
	return true
}

// watchIdle starts the idle timer of the pipe when no
// direction is active (a direction that runs enforces the timeout with
// its read deadline). p.mu is held.
func (p *pipe) watchIdle() {
	if p.ending.Load() {
		return // End's own timer closes the session
	}
	parked := false
	for i := range p.dirs {
		switch p.dirs[i].state {
		case dirActive:
			return
		case dirParked:
			parked = true
		}
	}
	if !parked {
		return
	}
	sleepers.add(p, p.lastMoved()+int64(p.idle))
}

// idleCheck is the idle timer's call (in a goroutine of its own); p is
// no longer queued.
func (p *pipe) idleCheck() {
	p.mu.Lock()
	if p.closed || p.ending.Load() { // End's timer bounds an ending pipe
		p.mu.Unlock()
		return
	}
	for i := range p.dirs {
		if p.dirs[i].state == dirActive {
			p.mu.Unlock()
			return
		}
	}
	if end := p.lastMoved() + int64(p.idle); end > int64(time.Since(epoch)) {
		sleepers.add(p, end)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.fail(errIdle)
}

// wake is the poller's call for a parked direction whose source is
// readable (data, end of stream or an error): a new goroutine takes it.
func (d *direction) wake() {
	if d.unpark() {
		go d.p.flow(d)
	}
}

// unpark makes a parked direction active for the poller's wake; false if
// it was not parked (any more: a Stop or End finished it).
func (d *direction) unpark() bool {
	p := d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if d.state != dirParked {
		return false
	}
	d.state = dirActive
	return true
}

// spliceDir moves one TCP direction in the kernel until its source ends
// (nil), fails, the session is idle (errIdle) or, for a direction that
// may park, its source was quiet for parkAfter (errQuiet).
func (p *pipe) spliceDir(d *direction) error {
	period := p.idle
	if p.mayPark(d) {
		period = parkAfter
		if p.idle > 0 {
			period = min(period, p.idle/4)
		}
	}
	now := time.Now()
	var rdl time.Time
	switch {
	case period == p.idle && p.idle > 0:
		rdl = p.idleEnd()
	case period > 0:
		rdl = now.Add(period)
		if p.idle > 0 {
			rdl = minTime(rdl, p.idleEnd())
		}
	}
	d.rdl = mono(rdl)
	d.src().SetReadDeadline(rdl)
	for {
		var eof bool
		var err error
		if p.tls {
			eof, err = p.copyStep(d, period)
		} else {
			eof, err = p.relay(d, period)
		}
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return err
			}
			if p.idle > 0 && !time.Now().Before(p.idleEnd()) {
				return errIdle
			}
			if period != p.idle && p.mayPark(d) {
				return errQuiet
			}
			if err := p.expired(d, err); err != nil {
				return err
			}
			continue
		}
		if eof {
			return nil
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// copyBoth runs the directions of a session that cannot splice, one
// goroutine each.
func (p *pipe) copyBoth() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.runCopy(&p.dirs[0])
	}()
	p.runCopy(&p.dirs[1])
	<-done
}

// runCopy moves one direction until its source ends, then half-closes the
// destination; on an error it ends the whole session.
func (p *pipe) runCopy(d *direction) {
	if p.idle > 0 {
		d.rdl = mono(p.idleEnd())
		d.src().SetReadDeadline(wall(d.rdl))
	}
	p.end(d, p.copy(d))
}

// copy moves one direction through a buffer borrowed while data moves.
func (p *pipe) copy(d *direction) error {
	var rc syscall.RawConn
	wrapped := false
	if sc, ok := d.src().(syscall.Conn); ok && canProbe {
		rc, _ = sc.SyscallConn()
	} else if nc, ok := d.src().(interface{ NetConn() net.Conn }); ok && canProbe {
		// A TLS connection: wait on its socket, then drain what the TLS
		// layer has already decoded before waiting again, since those
		// octets no longer show on the socket.
		if sc, ok := nc.NetConn().(syscall.Conn); ok {
			rc, _ = sc.SyscallConn()
			wrapped = true
		}
	}
	var perr error
	var peek [1]byte
	ready := func(fd uintptr) bool {
		var avail int
		avail, perr = probeReadable(int(fd), peek[:])
		return avail != 0 || perr != nil
	}
	for {
		if rc != nil {
			perr = nil
			if err := rc.Read(ready); err != nil {
				if err = p.expired(d, err); err != nil {
					return err
				}
				continue
			}
			// perr, or end of stream, is left for Read to report.
		}
		bp := copyBufs.Get().(*[]byte)
		err := p.copyOnce(d, *bp, wrapped, p.idle)
		copyBufs.Put(bp)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if err = p.expired(d, err); err != nil {
				return err
			}
		}
	}
}

// copyStep is relay for a session with a TLS client (p.tls): it waits on
// the source's socket until it has something (until the read deadline),
// then copies what there is through a pooled buffer, draining what the
// TLS layer decoded, so that a direction that waits, or parks, leaves
// nothing behind in it. eof is the source's end of stream.
func (p *pipe) copyStep(d *direction, period time.Duration) (eof bool, err error) {
	var perr error
	var peek [1]byte
	if err := d.rsrc().Read(func(fd uintptr) bool {
		var avail int
		avail, perr = probeReadable(int(fd), peek[:])
		return avail != 0 || perr != nil
	}); err != nil {
		return false, err
	}
	// perr, or end of stream, is left for Read to report.
	bp := copyBufs.Get().(*[]byte)
	err = p.copyOnce(d, *bp, d.i == 0, period)
	copyBufs.Put(bp)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// copyOnce does one read and write; for a wrapped source it keeps reading
// with an expired deadline, which returns only data already decoded.
// period is the direction's read deadline period (extend).
func (p *pipe) copyOnce(d *direction, buf []byte, wrapped bool, period time.Duration) error {
	drained := false
	for {
		n, err := d.src().Read(buf)
		if n > 0 {
			p.extend(d, time.Now(), period)
			w, werr := d.dst().Write(buf[:n])
			d.n.Add(int64(w))
			d.touch()
			if werr != nil {
				return werr
			}
		}
		if drained {
			if err != nil {
				// Back to the idle deadline; the drain's timeout is not an error.
				d.src().SetReadDeadline(wall(d.rdl))
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return nil
				}
				return err
			}
			continue
		}
		if err != nil || !wrapped {
			return err
		}
		drained = true
		d.src().SetReadDeadline(time.Unix(1, 0))
	}
}
