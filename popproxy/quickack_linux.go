package popproxy

import (
	"net"
	"syscall"
)

// haveQuickAck: USER and PASS may go together (replay.go).
const haveQuickAck = true

// quickAck makes the kernel acknowledge the store's next segment at once
// (TCP_QUICKACK, which lasts a few segments). After USER and PASS sent
// together the store answers USER at once and PASS after the password
// check; a store that does not set TCP_NODELAY (Dovecot's pop3-login)
// holds that second small reply until the first is acknowledged (Nagle),
// and a delayed acknowledgement takes 40 ms: ten times the login.
// Set after the write: sending data puts the socket back into delayed
// acknowledgements. A failure only costs the 40 ms.
func quickAck(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	if rc, err := tc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
}
