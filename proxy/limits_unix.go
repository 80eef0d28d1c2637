//go:build unix

package proxy

import (
	"net"
	"syscall"
	"time"
)

// descriptorLimit is the process's RLIMIT_NOFILE, which Go raises to the
// hard limit at start; 1024 if it cannot be read.
func descriptorLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur == 0 {
		return 1024
	}
	return int(min(r.Cur, 1<<30))
}

// oneWrite returns a connection whose Write is a single write(2) on c's
// socket that never waits (what does not fit is dropped), for a goodbye
// sent from outside the session's goroutine. It takes no lock of c, which
// the session's goroutine may hold in a blocked write. false if c is not
// a plain TCP connection.
func oneWrite(c net.Conn) (net.Conn, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, false
	}
	return oneWriteConn{tc, rc}, true
}

type oneWriteConn struct {
	net.Conn
	rc syscall.RawConn
}

func (c oneWriteConn) Write(b []byte) (n int, err error) {
	cerr := c.rc.Control(func(fd uintptr) {
		n, err = syscall.Write(int(fd), b)
	})
	if cerr != nil {
		return 0, cerr
	}
	return max(n, 0), err
}

// The deadline is moot: the write never waits.
func (c oneWriteConn) SetWriteDeadline(time.Time) error { return nil }
func (c oneWriteConn) SetDeadline(time.Time) error      { return nil }
