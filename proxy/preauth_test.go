package proxy

import (
	"net/netip"
	"testing"
	"time"
)

func TestPreAuthLine(t *testing.T) {
	at := time.Date(2024, 1, 15, 9, 30, 12, 0, time.Local)
	for _, tt := range []struct {
		sid            uint64
		user           string
		client, server netip.Addr
		n4             bool
		want           string
	}{
		{0x1a2b3c, "joe@siroe.com", netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("192.168.10.5"), false,
			"20240115 093012 (sid 0x1a2b3c) joe@siroe.com pre-authenticated - 203.0.113.9, 192.168.10.5"},
		// Netscape 4.x: "date time (sid 0x%p) user name pre-authenticated - client IP address".
		{0x1a2b3c, "joe@siroe.com", netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("192.168.10.5"), true,
			"20240115 093012 (sid 0x1a2b3c) joe@siroe.com pre-authenticated - 203.0.113.9"},
		{1, "joe", netip.MustParseAddr("::ffff:203.0.113.9"), netip.MustParseAddr("2001:db8::1"), false,
			"20240115 093012 (sid 0x1) joe pre-authenticated - 203.0.113.9, 2001:db8::1"},
		{0, "joe", netip.Addr{}, netip.Addr{}, false, "20240115 093012 (sid 0x0) joe pre-authenticated - -, -"},
	} {
		if got := PreAuthLine(at, tt.sid, tt.user, tt.client, tt.server, tt.n4); got != tt.want {
			t.Errorf("PreAuthLine(%d, %q, %s, %s, %v) = %q, want %q", tt.sid, tt.user, tt.client, tt.server, tt.n4, got, tt.want)
		}
	}
}
