package splice

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canProbe says probeReadable works here, so directions can wait for data
// without holding a buffer or a splice pipe.
const canProbe = true

// kernelSplice says TCP sessions are moved with splice(2) (spliceTCP).
const kernelSplice = true

// probeReadable asks the kernel, without blocking and without taking any
// data, what a socket has for us: n > 0 octets queued, -1 for end of
// stream, 0 for nothing yet (the caller lets the netpoller wait), or an
// error (ECONNRESET). It is the callback body of syscall.RawConn.Read,
// which re-arms readiness before calling it, so it must really look.
//
// FIONREAD (SIOCINQ) comes first because it answers the common case, data queued, in
// one system call; only a zero needs the MSG_PEEK receive to tell an end
// of stream (0 octets) from an empty queue (EAGAIN). A MSG_PEEK receive
// alone would answer every case in one call, but costs more where data
// is queued (1.07 against 0.67 µs here) than it saves where none is (0.80
// against 1.30 µs): tried for IMAPS logins, 56.4 → 54.4 system calls and
// no less CPU (docs/benchmarks.md).
func probeReadable(fd int, peek []byte) (int, error) {
	for {
		n, err := unix.IoctlGetInt(fd, unix.SIOCINQ) // FIONREAD for sockets
		if err != nil {
			return 0, err
		}
		if n > 0 {
			return n, nil
		}
		r, _, err := unix.Recvfrom(fd, peek, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, nil
		case err != nil:
			return 0, err
		case r == 0:
			return -1, nil
		}
		// Data arrived between the two calls: count it again.
	}
}

// Splicing. A TCP direction in bulk moves data socket → pipe → socket
// with splice(2), through a kernel pipe lent from a pool only while data
// is in flight: relay takes one, fills it with what the source has
// queued, empties it into the destination and gives it back (spliceOut
// when the destination is full). A direction that finds its source empty
// returns the pipe before it waits, so waiting directions hold none.

// pipeSize is the capacity asked of pooled pipes (F_SETPIPE_SZ), and so
// the most one splice moves. A direction whose destination stops reading
// keeps its pipe full, so it counts in the kernel memory of a stalled
// session (limitBuffers); 64 KiB, the kernel's default size, moves what
// the limited socket buffers hold as fast as 1 MiB did (docs/benchmarks.md).
const pipeSize = 64 << 10

// kpipe is a kernel pipe; both ends are non-blocking.
type kpipe struct {
	fds     [2]int // read end, write end
	cleanup runtime.Cleanup
}

// kpipes pools the pipes. Like Go's own splice pool, pipes left in it are
// closed by the garbage collector (a cleanup), so a quiet process keeps
// none for long.
var kpipes = sync.Pool{New: func() any {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil
	}
	// A smaller pipe works too, with more system calls.
	unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	kp := &kpipe{fds: fds}
	kp.cleanup = runtime.AddCleanup(kp, closePipe, fds)
	return kp
}}

func closePipe(fds [2]int) {
	unix.Close(fds[0])
	unix.Close(fds[1])
}

// splice moves up to n octets from in to out without blocking: every
// descriptor it is given is non-blocking and SPLICE_F_NONBLOCK covers the
// pipe. So it is a raw system call, which does not tell the scheduler: a
// call that cannot block need not hand its P to another thread, which on
// a busy loopback costs a thread wake-up per call.
func splice(in, out, n int) (int64, syscall.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
	if e != 0 {
		return 0, e
	}
	return int64(r), 0
}

// errNoPipe means no pipe could be made (descriptors exhausted).
var errNoPipe = os.NewSyscallError("pipe2", unix.EMFILE)

// Small reads. Most of what an IMAP or POP session carries after login is
// a command line and a short reply: for those a read and a write through
// a small buffer cost two system calls, where splicing costs three (in,
// out, and the EAGAIN that finds the socket empty) and a pipe. So a
// direction reads into a pooled smallBufSize buffer and writes what it
// got; a read that fills the buffer means a bulk transfer, which the
// direction then splices until a splice moves less than a small buffer's
// worth. After a short read, or a splice that finds the socket empty, it
// waits for the next readiness event without reading again: Go's
// netpoller is edge-triggered, so data that arrives after the read
// raises a new event, and the read that would only have found EAGAIN is
// saved (as nginx does). All of it happens in one call of the source's
// RawConn.Read, which is what keeps that event: a new call forgets it.

// smallBufSize is the buffer of a small read; a read that fills it
// switches the direction to splicing.
const smallBufSize = 4 << 10

type smallBuf [smallBufSize]byte

var smallBufs = sync.Pool{New: func() any { return new(smallBuf) }}

// relay waits for the source and moves what it sends to the destination,
// by small reads or by splicing (d.bulk), until the destination is full
// (then it waits for it and returns), the stream ends (eof), or an error,
// the read deadline included. period is the direction's read deadline
// period (extend).
func (p *pipe) relay(d *direction, period time.Duration) (eof bool, err error) {
	var b *smallBuf
	var kp *kpipe
	var n, w int // octets in b or kp, and of them written
	var rerr, werr error
	// writeNow writes what b or kp holds without waiting (one closure
	// for the whole call: none is made per message); tryWrite counts it.
	writeNow := func(wfd uintptr) bool {
		for w < n {
			var m int
			var e syscall.Errno
			if kp != nil {
				var m64 int64
				m64, e = splice(kp.fds[0], int(wfd), n-w)
				m = int(m64)
			} else {
				m, e = rawIO(unix.SYS_WRITE, int(wfd), b[w:n])
			}
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				return true // the caller waits
			case e != 0:
				werr = e
				return true
			}
			w += m
		}
		return true
	}
	tryWrite := func() {
		if err := d.rdst().Write(writeNow); err != nil && werr == nil {
			werr = err
		}
		d.n.Add(int64(w))
		d.touch()
	}
	err = d.rsrc().Read(func(fd uintptr) bool {
		for {
			var e syscall.Errno
			if d.bulk {
				v := kpipes.Get()
				if v == nil {
					rerr = errNoPipe
					return true
				}
				kp = v.(*kpipe)
				var m int64
				for m, e = splice(int(fd), kp.fds[1], pipeSize); e == unix.EINTR; {
					m, e = splice(int(fd), kp.fds[1], pipeSize)
				}
				n = int(m)
			} else {
				b = smallBufs.Get().(*smallBuf)
				for n, e = rawIO(unix.SYS_READ, int(fd), b[:]); e == unix.EINTR; {
					n, e = rawIO(unix.SYS_READ, int(fd), b[:])
				}
			}
			if e != 0 || n == 0 { // nothing queued, an error, or end of stream
				p.release(b, kp)
				b, kp = nil, nil
				if e == unix.EAGAIN {
					return false
				}
				if e != 0 && d.bulk {
					rerr = os.NewSyscallError("splice", e)
				} else if e != 0 {
					rerr = os.NewSyscallError("read", e)
				}
				return true
			}
			p.extend(d, time.Now(), period)
			w = 0
			tryWrite()
			if werr != nil || w < n {
				return true
			}
			p.release(b, kp)
			b, kp = nil, nil
			switch {
			case !d.bulk && n == smallBufSize:
				d.bulk = true // and splice what follows at once
			case d.bulk && n < smallBufSize:
				// Back to reads. The socket may still hold data (a
				// splice stops when the pipe runs out of slots, 16
				// segments), so read now rather than wait.
				d.bulk = false
			case !d.bulk:
				return false // a short read emptied the socket
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err == nil && werr != nil {
		err = werr
		if errno, ok := werr.(syscall.Errno); ok {
			err = os.NewSyscallError("write", errno)
		}
	}
	if b == nil && kp == nil {
		return err == nil && n == 0, err
	}
	if err == nil && kp != nil {
		// The destination is full: wait for it (until the write deadline).
		var m int
		m, err = d.spliceOut(kp, n-w)
		d.n.Add(int64(m))
		d.touch()
		return false, err
	}
	defer smallBufs.Put(b)
	if err == nil {
		err = d.writeRest(b[w:n])
	}
	return false, err
}

// release gives back a buffer or an emptied pipe.
func (p *pipe) release(b *smallBuf, kp *kpipe) {
	if b != nil {
		smallBufs.Put(b)
	}
	if kp != nil {
		kpipes.Put(kp)
	}
}

// rawIO is read(2) or write(2) on a non-blocking descriptor, as a raw
// system call for the reason given at splice.
func rawIO(trap uintptr, fd int, b []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// spliceOut moves the n octets kp holds to the destination, waiting
// while its socket buffer is full (until the write deadline), and returns
// the pipe to the pool, or closes it if data is left in it.
func (d *direction) spliceOut(kp *kpipe, n int) (int, error) {
	written := 0
	var serr error
	err := d.rdst().Write(func(fd uintptr) bool {
		for written < n {
			m, e := splice(kp.fds[0], int(fd), n-written)
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				return false
			case e != 0:
				serr = e
				return true
			}
			written += int(m)
		}
		return true
	})
	if err == nil && serr != nil {
		err = os.NewSyscallError("splice", serr)
	}
	if written == n {
		kpipes.Put(kp)
	} else {
		kp.cleanup.Stop()
		closePipe(kp.fds)
	}
	return written, err
}

// The poller watches the sources of parked directions: one epoll
// instance for the process, itself watched by Go's netpoller, and one
// goroutine that hands each readable source to a new goroutine. Sources
// are registered with EPOLLONESHOT, so an event disarms its registration
// until the direction parks again. The epoll descriptor and the goroutine
// are made at the first TCP session and kept.
type poller struct {
	once sync.Once
	ok   bool
	epfd int
	rc   syscall.RawConn

	mu   sync.Mutex
	dirs []*direction // parked or once parked directions, at parkID-1 (a map costs three times as much)
	free []int32      // parkIDs to use again
}

var thePoller poller

// pollerUsable starts the poller if needed and says whether it runs.
func pollerUsable() bool {
	pl := &thePoller
	pl.once.Do(pl.start)
	return pl.ok
}

func (pl *poller) start() {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return
	}
	// A non-blocking descriptor of a kind epoll accepts: os registers it
	// with the netpoller, so that the poller's goroutine waits without
	// holding a thread.
	f := os.NewFile(uintptr(fd), "openmmp-poller")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return
	}
	pl.epfd, pl.rc = fd, rc
	pl.ok = true
	go pl.loop(f)
}

func (pl *poller) loop(f *os.File) {
	defer runtime.KeepAlive(f)
	var evs [64]unix.EpollEvent
	for {
		var n int
		err := pl.rc.Read(func(fd uintptr) bool {
			for {
				var e error
				n, e = unix.EpollWait(int(fd), evs[:], 0)
				if e == unix.EINTR {
					continue
				}
				return n > 0 || e != nil
			}
		})
		if err != nil {
			// Not expected: the descriptor is never closed. Wake every
			// parked direction; they no longer park.
			pl.mu.Lock()
			pl.ok = false
			dirs := pl.dirs
			pl.dirs, pl.free = nil, nil
			pl.mu.Unlock()
			for _, d := range dirs {
				if d != nil {
					d.wake()
				}
			}
			return
		}
		for i := range n {
			pl.mu.Lock()
			var d *direction
			if id := int(evs[i].Fd); id > 0 && id <= len(pl.dirs) {
				d = pl.dirs[id-1]
			}
			pl.mu.Unlock()
			switch {
			case d == nil:
			case evs[i].Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0:
				d.wake()
			default:
				d.wakeSmall()
			}
		}
	}
}

// busyWithin tells an exchange from an occasional command: a direction
// woken less than this after it last moved data is carried by a
// goroutine of its own (wake), which waits for what follows in Go's
// netpoller, cheaper per message than this poller (BenchmarkRoundTrip);
// one woken later is served by the poller itself (wakeSmall).
const busyWithin = time.Millisecond

// wakeSmall is the poller's call for a parked direction whose source has
// data: unless the session is busy (busyWithin), it relays one short read
// itself and parks the direction again, so that an occasional command and
// its reply start no goroutine, set no read deadline and need no parking
// later (BenchmarkRoundTripParked: about 40 % less CPU per round trip).
// Anything else goes to a new goroutine with what was read: a read that
// fills the buffer, a destination that does not take it all at once, an
// end of stream or an error. The direction is active meanwhile, so a
// Stop leaves it to this call, which then finds it may not park.
func (d *direction) wakeSmall() {
	p := d.p
	if p.tls {
		d.wake() // what the socket has is TLS records: a goroutine decodes them
		return
	}
	if !d.unpark() {
		return
	}
	if int64(time.Since(epoch))-d.last.Load() < int64(busyWithin) {
		go p.flow(d)
		return
	}
	b := smallBufs.Get().(*smallBuf)
	var n int
	var e syscall.Errno
	// Control, not Read: the read deadline set before the direction
	// parked has passed, and nothing waits here.
	if err := d.rsrc().Control(func(fd uintptr) {
		for n, e = rawIO(unix.SYS_READ, int(fd), b[:]); e == unix.EINTR; {
			n, e = rawIO(unix.SYS_READ, int(fd), b[:])
		}
	}); err != nil {
		smallBufs.Put(b)
		go p.flow(d)
		return
	}
	switch {
	case e == unix.EAGAIN: // nothing after all
		smallBufs.Put(b)
		p.repark(d)
		return
	case e != 0 || n == 0:
		smallBufs.Put(b)
		var err error
		if e != 0 {
			err = os.NewSyscallError("read", e)
		}
		go func() {
			p.end(d, err)
			d.over()
		}()
		return
	}
	if p.ending.Load() {
		// End came while the poller read: a kicked session's client
		// gets nothing after its goodbye, its store nothing more.
		smallBufs.Put(b)
		go d.over()
		return
	}
	d.bulk = false
	p.extend(d, time.Now(), 0)
	w := 0
	d.rdst().Write(func(wfd uintptr) bool {
		for w < n {
			m, e := rawIO(unix.SYS_WRITE, int(wfd), b[w:n])
			if e == unix.EINTR {
				continue
			}
			if e != 0 {
				break // the goroutine sees it again, or waits
			}
			w += m
		}
		return true
	})
	d.n.Add(int64(w))
	d.touch()
	if w == n && n < len(b) {
		smallBufs.Put(b)
		p.repark(d)
		return
	}
	go p.resume(d, b, n, w)
}

// writeRest writes rest to the direction's destination, waiting for room
// (until the write deadline), counting what it wrote.
func (d *direction) writeRest(rest []byte) error {
	var werr error
	err := d.rdst().Write(func(wfd uintptr) bool {
		for len(rest) > 0 {
			m, e := rawIO(unix.SYS_WRITE, int(wfd), rest)
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				return false
			case e != 0:
				werr = os.NewSyscallError("write", e)
				return true
			}
			rest = rest[m:]
			d.n.Add(int64(m))
		}
		return true
	})
	d.touch()
	if err == nil {
		err = werr
	}
	return err
}

// repark parks a direction the poller woke, or if it may not park (the
// session is closing), lets a goroutine take it to its end; one that End
// is ending stops at once (the last direction to stop writes the goodbye,
// not in the poller's goroutine).
func (p *pipe) repark(d *direction) {
	switch {
	case p.park(d):
	case p.ending.Load():
		go d.over()
	default:
		go p.flow(d)
	}
}

// resume writes the rest of what wakeSmall read, waiting for the
// destination (until the write deadline), then carries the direction on.
func (p *pipe) resume(d *direction, b *smallBuf, n, w int) {
	p.extend(d, time.Now(), 0)
	err := d.writeRest(b[w:n])
	smallBufs.Put(b)
	if err != nil {
		p.end(d, err)
		d.over()
		return
	}
	p.flow(d)
}

// arm registers (or re-arms) d's source for one readiness event. The
// caller holds d.p.mu.
func arm(d *direction) error {
	pl := &thePoller
	if d.parkID == 0 {
		pl.mu.Lock()
		if !pl.ok {
			pl.mu.Unlock()
			return unix.EBADF
		}
		if n := len(pl.free); n > 0 {
			d.parkID = pl.free[n-1]
			pl.free = pl.free[:n-1]
			pl.dirs[d.parkID-1] = d
		} else {
			pl.dirs = append(pl.dirs, d)
			d.parkID = int32(len(pl.dirs))
		}
		pl.mu.Unlock()
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: d.parkID}
	var cerr error
	err := d.rsrc().Control(func(fd uintptr) {
		op := unix.EPOLL_CTL_MOD
		if !d.armed {
			op = unix.EPOLL_CTL_ADD
		}
		cerr = unix.EpollCtl(pl.epfd, op, int(fd), &ev)
		if cerr == nil {
			d.armed = true
		}
	})
	if err == nil {
		err = cerr
	}
	return err
}

// disarm takes a parked direction that End finished out of the epoll
// set. Its source may stay open for the goodbye, and its parkID is used
// again once it is over (forget): an event of the old socket, such as
// the one the client's shutdown raises, must not wake another direction.
func disarm(d *direction) {
	if !d.armed {
		return
	}
	d.rsrc().Control(func(fd uintptr) {
		unix.EpollCtl(thePoller.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
	d.armed = false
}

// forget removes a finished direction from the poller. Its registration
// in the epoll set, if the source is still open, is disarmed (one-shot)
// and goes away when the socket is closed.
func forget(d *direction) {
	if d.parkID == 0 {
		return
	}
	pl := &thePoller
	pl.mu.Lock()
	if int(d.parkID) <= len(pl.dirs) && pl.dirs[d.parkID-1] == d {
		pl.dirs[d.parkID-1] = nil
		pl.free = append(pl.free, d.parkID)
	}
	pl.mu.Unlock()
	d.parkID = 0
}
