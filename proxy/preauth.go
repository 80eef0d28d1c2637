package proxy

import (
	"fmt"
	"net/netip"
	"time"
)

// PreAuthLine is the log line of a successful pre-authentication in
// the Sun Messaging Server 6 form (docs/reference.md §3.10):
//
//	20240115 093012 (sid 0x1a2b3c) joe@siroe.com pre-authenticated - 203.0.113.9, 192.168.10.5
//
// t is written as it is (the MMP wrote server local time: pass
// time.Now()), sid is the session id in hexadecimal, user should include
// the virtual domain (the login's user@domain), and addresses are written
// without the IPv4-mapped IPv6 prefix; an invalid address is written "-".
//
// The Netscape 4.x front ends wrote the same line without the server
// address (docs/reference.md §3.10): pass n4.
func PreAuthLine(t time.Time, sid uint64, user string, client, server netip.Addr, n4 bool) string {
	text := func(a netip.Addr) string {
		if !a.IsValid() {
			return "-"
		}
		return a.Unmap().String()
	}
	line := fmt.Sprintf("%s (sid 0x%x) %s pre-authenticated - %s", t.Format("20060102 150405"), sid, user, text(client))
	if n4 {
		return line
	}
	return line + ", " + text(server)
}
