package proxy

import (
	"net"
	"syscall"
)

// listenConfig sets SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and
// TCP_KEEPCNT on the listening socket and tells Go not to set them again
// on each accepted one (KeepAlive -1), which inherits them.
func listenConfig() *net.ListenConfig {
	return &net.ListenConfig{
		KeepAlive: -1,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				for _, o := range [...]struct{ level, opt, v int }{
					{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveInterval},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
				} {
					if serr = syscall.SetsockoptInt(int(fd), o.level, o.opt, o.v); serr != nil {
						return
					}
				}
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
}
