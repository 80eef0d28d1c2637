package proxy

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The HAProxy PROXY protocol (haproxy.org, doc/proxy-protocol.txt): a
// header the MMP writes first on a store connection when StoreAnnounce
// is proxy or proxy-v2, so that the store logs and judges the client's
// address rather than the MMP's.

// proxyHeaderV1 is the text header, "PROXY TCP4 src dst sport dport".
func proxyHeaderV1(src, dst netip.AddrPort) []byte {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if !s.IsValid() || !d.IsValid() || s.Is4() != d.Is4() {
		return []byte("PROXY UNKNOWN\r\n")
	}
	family := "TCP4"
	if s.Is6() {
		family = "TCP6"
	}
	return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", family, s, d, src.Port(), dst.Port())
}

// proxyV2Signature starts every version 2 header.
var proxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyHeaderV2 is the binary header: PROXY command, TCP over IPv4 or
// IPv6, the two addresses and ports; LOCAL when they are unknown.
func proxyHeaderV2(src, dst netip.AddrPort) []byte {
	b := append([]byte(nil), proxyV2Signature...)
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if !s.IsValid() || !d.IsValid() || s.Is4() != d.Is4() {
		return append(b, 0x20, 0x00, 0, 0) // version 2, LOCAL, no address
	}
	b = append(b, 0x21) // version 2, PROXY
	if s.Is4() {
		b = append(b, 0x11, 0, 12) // TCP over IPv4, 12 octets
		b = append(b, s.AsSlice()...)
		b = append(b, d.AsSlice()...)
	} else {
		b = append(b, 0x21, 0, 36) // TCP over IPv6, 36 octets
		b = append(b, s.AsSlice()...)
		b = append(b, d.AsSlice()...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}
