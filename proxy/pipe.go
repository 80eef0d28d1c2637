package proxy

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

// SpliceResult is what a finished pipe reports for the close log line.
type SpliceResult struct {
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
var errIdle = errors.New("proxy: idle timeout")

// Splice is the session after login (spec §4.2.6): it sends the pending
// octets, then moves data both ways without looking at it until both sides
// have closed their sending half, either side fails, or nothing has moved
// either way for idle (zero: no limit). Then it closes both connections.
//
// Between two TCP connections the kernel moves the data (splice(2)), and a
// session waiting for data holds no buffer and no pipe: each direction
// waits for readability with a zero-length probe, asks the kernel how much
// is queued, and splices exactly that much, so Go's splice never has a
// pipe checked out while it waits. Other connections (TLS, net.Pipe) are
// copied through a pooled buffer borrowed only while data moves; those
// with a socket underneath wait on that socket first.
//
// An end of stream on one side is passed on as a half-close (CloseWrite)
// of the other, as IMAP and POP clients that shut down their sending half
// after LOGOUT expect to still read the reply.
func Splice(client, store net.Conn, idle time.Duration, fromClient, fromStore []byte) SpliceResult {
	p := &pipe{idle: idle, start: time.Now(), conns: [2]net.Conn{client, store}}
	p.touch()
	var res SpliceResult
	write := func(dst net.Conn, b []byte, n *int64) error {
		if len(b) == 0 {
			return nil
		}
		if idle > 0 {
			dst.SetWriteDeadline(time.Now().Add(idle))
		}
		w, err := dst.Write(b)
		*n += int64(w)
		return err
	}
	if err := write(store, fromClient, &res.FromClient); err != nil {
		p.fail(err)
	} else if err := write(client, fromStore, &res.FromStore); err != nil {
		p.fail(err)
	}
	if p.err == nil {
		up := &p.dirs[0]
		up.src, up.dst = client, store
		down := &p.dirs[1]
		down.src, down.dst = store, client
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.run(up)
		}()
		p.run(down)
		<-done
		res.FromClient += p.dirs[0].n.Load()
		res.FromStore += p.dirs[1].n.Load()
	}
	p.closeBoth()
	res.Err, res.Idle = p.err, p.idleHit
	return res
}

// pipe is the state shared by the two directions of one session.
type pipe struct {
	idle  time.Duration
	start time.Time
	last  atomic.Int64 // nanoseconds since start of the last data moved either way
	conns [2]net.Conn
	dirs  [2]direction

	mu      sync.Mutex
	closed  bool
	err     error
	idleHit bool
}

// direction is one way of the pipe.
type direction struct {
	src, dst net.Conn
	n        atomic.Int64
	rdl, wdl time.Time // read deadline last set on src, write deadline on dst
	peek     [1]byte   // the probe's target, kept here so the probe does not allocate
}

func (p *pipe) touch() { p.last.Store(int64(time.Since(p.start))) }

// closeBoth closes both connections once; the other direction's pending
// read or write then fails and it returns.
func (p *pipe) closeBoth() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.conns[0].Close()
	p.conns[1].Close()
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

// run moves one direction until its source ends, then half-closes the
// destination; on an error it ends the whole session.
func (p *pipe) run(d *direction) {
	if p.idle > 0 {
		d.rdl = p.start.Add(time.Duration(p.last.Load()) + p.idle)
		d.src.SetReadDeadline(d.rdl)
	}
	var err error
	dst, dstTCP := d.dst.(*net.TCPConn)
	src, srcTCP := d.src.(*net.TCPConn)
	if dstTCP && srcTCP && canProbe {
		err = p.splice(d, dst, src)
	} else {
		err = p.copy(d)
	}
	if err != nil {
		p.fail(err)
		return
	}
	if cw, ok := d.dst.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			p.fail(err)
		}
	}
}

// expired decides what a read deadline means: the session is idle if no
// data moved either way for the timeout; otherwise the other direction was
// busy, and the deadline moves to the new end of the idle period.
func (p *pipe) expired(d *direction, err error) error {
	if p.idle <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	until := p.start.Add(time.Duration(p.last.Load()) + p.idle)
	if !time.Now().Before(until) {
		return errIdle
	}
	d.rdl = until
	d.src.SetReadDeadline(until)
	return nil
}

// extend renews the direction's read and write deadlines when data is
// about to move: the read deadline so that the transfer itself does not
// find it expired (Go checks it again when splice(2) reads), the write
// deadline so that a peer that stops reading cannot hold the direction
// for longer than the timeout. A deadline is renewed only when half of it
// is used up, which keeps timer updates off the path of most chunks.
func (p *pipe) extend(d *direction, now time.Time) {
	if p.idle <= 0 {
		return
	}
	if d.rdl.Sub(now) <= p.idle/2 {
		d.rdl = now.Add(p.idle)
		d.src.SetReadDeadline(d.rdl)
	}
	if d.wdl.Sub(now) <= p.idle/2 {
		d.wdl = now.Add(p.idle)
		d.dst.SetWriteDeadline(d.wdl)
	}
}

// splice moves one TCP → TCP direction in the kernel.
func (p *pipe) splice(d *direction, dst, src *net.TCPConn) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	var avail int
	var perr error
	probe := func(fd uintptr) bool {
		avail, perr = probeReadable(int(fd), d.peek[:])
		return avail != 0 || perr != nil
	}
	lr := &io.LimitedReader{R: src}
	for {
		avail, perr, d.peek[0] = 0, nil, 0
		if err := rc.Read(probe); err != nil {
			if err = p.expired(d, err); err != nil {
				return err
			}
			continue
		}
		if perr != nil {
			return perr
		}
		if avail < 0 { // end of stream
			return nil
		}
		p.extend(d, time.Now())
		lr.N = int64(avail)
		n, err := dst.ReadFrom(lr)
		d.n.Add(n)
		p.touch()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// copy moves one direction through a buffer borrowed while data moves.
func (p *pipe) copy(d *direction) error {
	var rc syscall.RawConn
	wrapped := false
	if sc, ok := d.src.(syscall.Conn); ok && canProbe {
		rc, _ = sc.SyscallConn()
	} else if nc, ok := d.src.(interface{ NetConn() net.Conn }); ok && canProbe {
		// A TLS connection: wait on its socket, then drain what the TLS
		// layer has already decoded before waiting again, since those
		// octets no longer show on the socket.
		if sc, ok := nc.NetConn().(syscall.Conn); ok {
			rc, _ = sc.SyscallConn()
			wrapped = true
		}
	}
	var perr error
	ready := func(fd uintptr) bool {
		var avail int
		avail, perr = probeReadable(int(fd), d.peek[:])
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
		err := p.copyOnce(d, *bp, wrapped)
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

// copyOnce does one read and write; for a wrapped source it keeps reading
// with an expired deadline, which returns only data already decoded.
func (p *pipe) copyOnce(d *direction, buf []byte, wrapped bool) error {
	drained := false
	for {
		n, err := d.src.Read(buf)
		if n > 0 {
			p.extend(d, time.Now())
			w, werr := d.dst.Write(buf[:n])
			d.n.Add(int64(w))
			p.touch()
			if werr != nil {
				return werr
			}
		}
		if drained {
			if err != nil {
				// Back to the idle deadline; the drain's timeout is not an error.
				d.src.SetReadDeadline(d.rdl)
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
		d.src.SetReadDeadline(time.Unix(1, 0))
	}
}
