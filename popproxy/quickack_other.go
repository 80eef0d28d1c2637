//go:build !linux

package popproxy

import "net"

// haveQuickAck: no TCP_QUICKACK here, so USER and PASS go one by one,
// without it a store's Nagle and our delayed acknowledgement would hold
// the reply to PASS (see quickack_linux.go).
const haveQuickAck = false

func quickAck(net.Conn) {}
