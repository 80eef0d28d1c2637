package proxy

import (
	"context"
	"net"
)

// Keep-alive of the client connections: Go's defaults for accepted
// connections (net.ListenConfig.KeepAlive zero), kept when the listener
// sets them itself.
const (
	keepAliveIdle     = 15 // seconds before the first probe
	keepAliveInterval = 15 // seconds between probes
	keepAliveCount    = 9  // unanswered probes before the connection is dropped
)

// ListenTCP opens a TCP listener on addr for a service. On Linux the
// keep-alive options are set once on the listening socket, and every
// accepted socket inherits them (the kernel copies a listener's socket
// options into the sockets it accepts): Go would otherwise make four
// setsockopt calls on each accepted connection, a tenth of the system
// calls of a login (docs/benchmarks.md, "CPU per login"). Elsewhere it is
// net.Listen with Go's defaults.
func ListenTCP(addr string) (net.Listener, error) {
	return listenConfig().Listen(context.Background(), "tcp", addr)
}
