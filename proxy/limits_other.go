//go:build !unix

package proxy

import "net"

// descriptorLimit: no RLIMIT_NOFILE here; Windows handles are not a small
// table.
func descriptorLimit() int { return 1 << 20 }

// oneWrite: no write that surely does not wait; no goodbye.
func oneWrite(net.Conn) (net.Conn, bool) { return nil, false }
