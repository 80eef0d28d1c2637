package smtpproxy

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/wire"
)

func TestXtext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"pw=x y+", "pw+3Dx+20y+2B"},
		{"tab\there", "tab+09here"},
		{"ü", "+C3+BC"},
		{"", ""},
		{"[UNAVAILABLE]", "[UNAVAILABLE]"},
	} {
		if got := xtext(tc.in); got != tc.want {
			t.Errorf("xtext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"XPEHLO c PASSWORD=s3cret ADDR=1.2.3.4", "XPEHLO c PASSWORD=**redacted** ADDR=1.2.3.4"},
		{"XPEHLO c PASSWORD=s3cret", "XPEHLO c PASSWORD=**redacted**"},
		{"EHLO c", "EHLO c"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestProxyLine(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		client, server netip.AddrPort
		want           string
	}{
		{ap("192.0.2.7:40000"), ap("198.51.100.1:587"), "PROXY TCP4 192.0.2.7 198.51.100.1 40000 587"},
		{ap("[2001:db8::7]:40000"), ap("[2001:db8::1]:25"), "PROXY TCP6 2001:db8::7 2001:db8::1 40000 25"},
		{ap("192.0.2.7:40000"), ap("[2001:db8::1]:25"), "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::1 40000 25"},
		{netip.AddrPort{}, ap("198.51.100.1:587"), "PROXY UNKNOWN"},
	} {
		if got := proxyLine(tc.client, tc.server); got != tc.want {
			t.Errorf("proxyLine(%v, %v) = %q, want %q", tc.client, tc.server, got, tc.want)
		}
	}
}

func TestTLSDescription(t *testing.T) {
	for _, tc := range []struct {
		st   tls.ConnectionState
		want string
	}{
		{tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256}, "TLSv1.3:TLS_AES_128_GCM_SHA256:128"},
		{tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, "TLSv1.2:TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:256"},
	} {
		if got := tlsDescription(tc.st); got != tc.want {
			t.Errorf("tlsDescription(%v) = %q, want %q", tc.st.CipherSuite, got, tc.want)
		}
	}
}

func TestRelayPoolOrder(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newRelayPool(func() time.Time { return now })
	relays := []string{"a:25", "b:25", "c:25"}
	for i, want := range [][]string{
		{"a:25", "b:25", "c:25"},
		{"b:25", "c:25", "a:25"},
		{"c:25", "a:25", "b:25"},
		{"a:25", "b:25", "c:25"},
	} {
		if got := p.order(relays); !slices.Equal(got, want) {
			t.Fatalf("turn %d: order = %q, want %q", i, got, want)
		}
	}
	// FailoverTimeout 10 avoids a relay for 10 minutes; when every relay
	// is avoided they are still tried, last.
	p.markBad("b:25", 10*time.Minute)
	if got, want := p.order(relays), []string{"c:25", "a:25", "b:25"}; !slices.Equal(got, want) {
		t.Fatalf("with b avoided: %q, want %q", got, want)
	}
	if got, want := p.order(relays), []string{"c:25", "a:25", "b:25"}; !slices.Equal(got, want) {
		t.Fatalf("with b avoided: %q, want %q", got, want)
	}
	now = now.Add(10*time.Minute + time.Second)
	if got, want := p.order(relays), []string{"a:25", "b:25", "c:25"}; !slices.Equal(got, want) {
		t.Fatalf("after 10 minutes: %q, want %q", got, want)
	}
	p.markBad("c:25", time.Minute)
	p.markGood("c:25")
	if got, want := p.order(relays), []string{"b:25", "c:25", "a:25"}; !slices.Equal(got, want) {
		t.Fatalf("after markGood: %q, want %q", got, want)
	}
}

// relayReplyFrom parses one reply from text.
func relayReplyFrom(text string) (*relayReply, error) {
	a, b := net.Pipe()
	go func() {
		b.Write([]byte(text))
		b.Close()
	}()
	defer a.Close()
	rc := &relayConn{c: a, r: wire.NewReader(a, maxRelayLine)}
	return rc.readReply(time.Now().Add(5 * time.Second))
}

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		in    string
		code  int
		lines []string
		bad   bool
	}{
		{"220 relay ESMTP\r\n", 220, []string{"relay ESMTP"}, false},
		{"250-relay\r\n250-PIPELINING\r\n250 SIZE 100\r\n", 250, []string{"relay", "PIPELINING", "SIZE 100"}, false},
		{"250\r\n", 250, []string{""}, false},
		{"250-a\r\n251 b\r\n", 0, nil, true},
		{"2x0 no\r\n", 0, nil, true},
		{"250+bad\r\n", 0, nil, true},
		{"199 too low\r\n", 0, nil, true},
		{strings.Repeat("250-x\r\n", maxReplyLines+1) + "250 end\r\n", 0, nil, true},
	} {
		got, err := relayReplyFrom(tc.in)
		if tc.bad {
			if !errors.Is(err, errBadReply) {
				t.Errorf("readReply(%q) = %v, %v; want errBadReply", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.code != tc.code || !slices.Equal(got.lines, tc.lines) {
			t.Errorf("readReply(%q) = %+v, %v; want %d %q", tc.in, got, err, tc.code, tc.lines)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add("250-relay\r\n250-PIPELINING\r\n250 SIZE 100\r\n")
	f.Add("220 relay ESMTP\r\n")
	f.Add("250-a\r\n251 b\r\n")
	f.Add("250\n")
	f.Fuzz(func(t *testing.T, in string) {
		rep, err := relayReplyFrom(in)
		if err != nil {
			return
		}
		if rep.code < 200 || rep.code > 599 || len(rep.lines) == 0 || len(rep.lines) > maxReplyLines {
			t.Fatalf("readReply(%q) = %+v", in, rep)
		}
	})
}

func TestBanner(t *testing.T) {
	p := New(Options{Host: "mmp.example.test"})
	for _, tc := range []struct{ banner, want string }{
		{"%h %p service (%P %V)", "mmp.example.test ESMTP service (Messaging Multiplexor openmmp 0.1)"},
		{"Netscape Messaging Multiplexor ready", "mmp.example.test Netscape Messaging Multiplexor ready"},
		{"MMP.example.test ready, 100%% %x", "MMP.example.test ready, 100% %x"},
	} {
		b := p.id.Banner(tc.banner, "ESMTP")
		if first, _, _ := strings.Cut(b, " "); !strings.EqualFold(first, p.id.Host) {
			b = p.id.Host + " " + b
		}
		if b != tc.want {
			t.Errorf("banner %q = %q, want %q", tc.banner, b, tc.want)
		}
	}
}

// The filter finds the end of a message wherever the client's writes
// split it, passes the text unchanged, and judges the command after it.
func TestFilterEndOfDataAcrossWrites(t *testing.T) {
	in := "hello\r\n..dot-stuffed\r\n.\r\nXPEHLO evil PASSWORD=guess\r\nRSET\r\n"
	want := "hello\r\n..dot-stuffed\r\n.\r\n" + refusedCommand + "RSET\r\n"
	for a := 0; a <= len(in); a++ {
		for b := a; b <= len(in); b++ {
			f := &filter{
				allowed: func(verb, _ string) bool { return verb != "XPEHLO" },
				refused: func(string) {},
				body:    true,
				tail:    []byte("\r\n"),
			}
			var got []byte
			for _, part := range []string{in[:a], in[a:b], in[b:]} {
				for _, seg := range f.scan([]byte(part)) {
					got = append(got, seg...)
				}
			}
			if string(got) != want {
				t.Fatalf("split at %d, %d: relay got %q, want %q", a, b, got, want)
			}
		}
	}
}
