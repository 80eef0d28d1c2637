package splice

import (
	"os"
	"runtime"
	"sync"
	"syscall"

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
// of stream (0 octets) from an empty queue (EAGAIN).
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

// Splicing. A TCP direction moves data socket → pipe → socket with
// splice(2), through a kernel pipe lent from a pool only while data is
// in flight: spliceIn takes one, fills it with what the source has
// queued, and spliceOut empties it into the destination and gives it
// back. A direction that finds its source empty returns the pipe before
// it waits, so waiting directions hold none.

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
func splice(in, out, n int) (int64, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
	if e != 0 {
		return 0, e
	}
	return int64(r), nil
}

// errNoPipe means no pipe could be made (descriptors exhausted).
var errNoPipe = os.NewSyscallError("pipe2", unix.EMFILE)

// spliceIn waits until the source has data, end of stream or an error
// (or the read deadline passes) and splices what is queued into a pooled
// pipe, which d then holds: n > 0 octets, 0 at end of stream.
func (d *direction) spliceIn() (int, error) {
	var n int
	var serr error
	var kp *kpipe
	err := d.rsrc.Read(func(fd uintptr) bool {
		if kp == nil {
			v := kpipes.Get()
			if v == nil {
				serr = errNoPipe
				return true
			}
			kp = v.(*kpipe)
		}
		for {
			var m int64
			m, serr = splice(int(fd), kp.fds[1], pipeSize)
			n = int(m)
			if serr != unix.EINTR {
				break
			}
		}
		if serr == unix.EAGAIN {
			// Nothing queued: give the pipe back while waiting.
			n, serr = 0, nil
			kpipes.Put(kp)
			kp = nil
			return false
		}
		return true
	})
	if err == nil && serr != nil {
		err = os.NewSyscallError("splice", serr)
	}
	if err != nil || n <= 0 {
		if kp != nil {
			kpipes.Put(kp) // empty
		}
		return 0, err
	}
	d.kp = kp
	return n, nil
}

// spliceOut moves the n octets d's pipe holds to the destination, waiting
// while its socket buffer is full (until the write deadline), and returns
// the pipe to the pool, or closes it if data is left in it.
func (d *direction) spliceOut(n int) (int, error) {
	kp := d.kp
	d.kp = nil
	written := 0
	var serr error
	err := d.rdst.Write(func(fd uintptr) bool {
		for written < n {
			m, e := splice(kp.fds[0], int(fd), n-written)
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				return false
			case e != nil:
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
	dirs map[int32]*direction // parked or once parked directions, by parkID
	next int32
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
	pl.dirs = map[int32]*direction{}
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
			pl.dirs = map[int32]*direction{}
			pl.mu.Unlock()
			for _, d := range dirs {
				d.wake()
			}
			return
		}
		for i := range n {
			pl.mu.Lock()
			d := pl.dirs[evs[i].Fd]
			pl.mu.Unlock()
			if d != nil {
				d.wake()
			}
		}
	}
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
		for {
			pl.next++
			if pl.next <= 0 {
				pl.next = 1
			}
			if pl.dirs[pl.next] == nil {
				break
			}
		}
		d.parkID = pl.next
		pl.dirs[d.parkID] = d
		pl.mu.Unlock()
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: d.parkID}
	var cerr error
	err := d.rsrc.Control(func(fd uintptr) {
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

// forget removes a finished direction from the poller. Its registration
// in the epoll set, if the source is still open, is disarmed (one-shot)
// and goes away when the socket is closed.
func forget(d *direction) {
	if d.parkID == 0 {
		return
	}
	pl := &thePoller
	pl.mu.Lock()
	if pl.dirs[d.parkID] == d {
		delete(pl.dirs, d.parkID)
	}
	pl.mu.Unlock()
	d.parkID = 0
}
