//go:build !linux

package who

import "net"

// peerAllowed relies on the socket's mode (0600) where the peer's
// credentials are not read.
func peerAllowed(c *net.UnixConn) error { return nil }
