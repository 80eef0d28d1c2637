package proxy

import (
	"golang.org/x/sys/unix"
)

// canProbe says probeReadable works here, so directions can wait for data
// without holding a buffer or a splice pipe.
const canProbe = true

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
