package cfgfmt

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// la builds a ListenAddr; ip "" means any address.
func la(ip string, port uint16) ListenAddr {
	a := ListenAddr{Port: port}
	if ip != "" {
		a.IP = netip.MustParseAddr(ip)
	}
	return a
}

var portSpecTests = []struct {
	in      string
	want    []ListenAddr
	wantErr string
}{
	{in: "", want: nil},
	{in: "993", want: []ListenAddr{la("", 993)}},
	// The SSLPorts example of docs/reference.md §3.3.
	{in: "993|127.0.0.1:1993", want: []ListenAddr{la("", 993), la("127.0.0.1", 1993)}},
	{in: "143|993", want: []ListenAddr{la("", 143), la("", 993)}},
	{in: "10.0.0.5:143|10.0.0.5:993", want: []ListenAddr{la("10.0.0.5", 143), la("10.0.0.5", 993)}},
	{in: "[::1]:143|[2001:db8::5]:993", want: []ListenAddr{la("::1", 143), la("2001:db8::5", 993)}},
	{in: " 993 | 995 ", want: []ListenAddr{la("", 993), la("", 995)}},
	{in: "65535|1", want: []ListenAddr{la("", 65535), la("", 1)}},
	{in: "0143", want: []ListenAddr{la("", 143)}},
	// The same port on any address and on one address are different sockets.
	{in: "143|10.0.0.5:143", want: []ListenAddr{la("", 143), la("10.0.0.5", 143)}},

	{in: "0", wantErr: `entry 1 "0": bad port "0": want 1-65535`},
	{in: "65536", wantErr: `entry 1 "65536": bad port "65536": want 1-65535`},
	{in: "99999999999999999999", wantErr: `entry 1 "99999999999999999999": bad port "99999999999999999999": want 1-65535`},
	{in: "+143", wantErr: `entry 1 "+143": bad port "+143"`},
	{in: "imap", wantErr: `entry 1 "imap": bad port "imap"`},
	{in: "993||995", wantErr: `entry 2 "": empty`},
	{in: "993|", wantErr: `entry 2 "": empty`},
	{in: "993 995", wantErr: `entry 1 "993 995": bad port "993 995"`},
	{in: "127.0.0.1:", wantErr: `entry 1 "127.0.0.1:": bad port ""`},
	{in: ":143", wantErr: `entry 1 ":143": bad address ""`},
	{in: "127.0.0.256:143", wantErr: `entry 1 "127.0.0.256:143": bad address "127.0.0.256"`},
	{in: "localhost:143", wantErr: `entry 1 "localhost:143": bad address "localhost"`},
	{in: "::1:143", wantErr: `entry 1 "::1:143": an IPv6 address must be written in brackets, as in [::1]:143`},
	{in: "[::1]143", wantErr: `entry 1 "[::1]143": missing ":PORT" after "[::1]"`},
	{in: "[::1]", wantErr: `entry 1 "[::1]": missing ":PORT" after "[::1]"`},
	{in: "[::1:143", wantErr: `entry 1 "[::1:143": missing "]" after IPv6 address`},
	{in: "[10.0.0.1]:143", wantErr: `entry 1 "[10.0.0.1]:143": bad address "10.0.0.1": only IPv6 addresses go in brackets`},
	{in: "[fe80::1%eth0]:143", wantErr: `entry 1 "[fe80::1%eth0]:143": bad address "fe80::1%eth0": IPv6 zones are not supported`},
	{in: "993|127.0.0.1:1993|993", wantErr: `entry 3 "993": duplicate of entry 1`},
	{in: "[::ffff:10.0.0.1]:143|10.0.0.1:143", wantErr: `entry 2 "10.0.0.1:143": duplicate of entry 1`},
}

func TestParsePortSpec(t *testing.T) {
	for _, tt := range portSpecTests {
		got, err := ParsePortSpec(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParsePortSpec(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePortSpec(%q) = %v, %v, want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatPortSpec(t *testing.T) {
	spec := []ListenAddr{la("", 993), la("127.0.0.1", 1993), la("::1", 143)}
	want := "993|127.0.0.1:1993|[::1]:143"
	if got := FormatPortSpec(spec); got != want {
		t.Errorf("FormatPortSpec(%v) = %q, want %q", spec, got, want)
	}
}

func TestListenAddrMatches(t *testing.T) {
	spec, err := ParsePortSpec("993|127.0.0.1:1993|[::1]:2993|0.0.0.0:3993|[::]:4993")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		local string
		want  bool
	}{
		{"10.0.0.5:993", true},      // no IP: any address
		{"[2001:db8::1]:993", true}, // no IP: IPv6 too
		{"127.0.0.1:1993", true},
		{"[::ffff:127.0.0.1]:1993", true}, // dual-stack listener's view of an IPv4 peer
		{"10.0.0.5:1993", false},          // right port, wrong address
		{"127.0.0.1:143", false},
		{"[::1]:2993", true},
		{"127.0.0.1:2993", false},
		{"[fe80::1%eth0]:993", true},
		{"10.1.1.1:3993", true}, // 0.0.0.0: any IPv4 address
		{"[2001:db8::1]:3993", false},
		{"10.1.1.1:4993", true}, // [::]: any address
		{"[2001:db8::1]:4993", true},
		{"10.0.0.5:995", false},
	}
	for _, tt := range tests {
		local := netip.MustParseAddrPort(tt.local)
		if got := MatchPortSpec(spec, local); got != tt.want {
			t.Errorf("MatchPortSpec(%v, %v) = %v, want %v", spec, local, got, tt.want)
		}
	}
	if MatchPortSpec(nil, netip.MustParseAddrPort("1.2.3.4:993")) {
		t.Errorf("MatchPortSpec(nil, 1.2.3.4:993) = true, want false")
	}
}

func cl(prefix string, max int) ConnLimit {
	return ConnLimit{Net: netip.MustParsePrefix(prefix), Max: max}
}

var connLimitTests = []struct {
	in      string
	want    []ConnLimit
	wantErr string
}{
	{in: "", want: nil},
	// The default and the example of docs/reference.md §3.4.
	{in: "0.0.0.0|0.0.0.0:20", want: []ConnLimit{cl("0.0.0.0/0", 20)}},
	{in: "192.168.1.0|255.255.255.0:100,10.0.0.1|255.255.255.255:500,0.0.0.0|0.0.0.0:20",
		want: []ConnLimit{cl("192.168.1.0/24", 100), cl("10.0.0.1/32", 500), cl("0.0.0.0/0", 20)}},
	{in: "192.168.1.0|255.255.255.0:100, 0.0.0.0|0.0.0.0:20", want: []ConnLimit{cl("192.168.1.0/24", 100), cl("0.0.0.0/0", 20)}},
	{in: "192.168.1.0|255.255.255.0:100 0.0.0.0|0.0.0.0:20", want: []ConnLimit{cl("192.168.1.0/24", 100), cl("0.0.0.0/0", 20)}},
	// Host bits are ignored, as (C & MASK) == (IP & MASK) ignores them.
	{in: "192.168.1.77|255.255.255.0:5", want: []ConnLimit{cl("192.168.1.0/24", 5)}},
	{in: "10.0.0.0|8:5", want: []ConnLimit{cl("10.0.0.0/8", 5)}},
	{in: "10.0.0.0|255.0.0.0:0", want: []ConnLimit{cl("10.0.0.0/8", 0)}},
	// IPv6 extension (docs/reference.md §7.37).
	{in: "2001:db8::|32:50,::|0:10", want: []ConnLimit{cl("2001:db8::/32", 50), cl("::/0", 10)}},
	{in: "::ffff:10.0.0.0|104:7", want: []ConnLimit{cl("10.0.0.0/8", 7)}},

	{in: "10.0.0.1|255.255.0:5", wantErr: `entry 1 "10.0.0.1|255.255.0:5": bad mask "255.255.0"`},
	{in: "0.0.0.0|0.0.0.0:20,10.0.0.1|255.255.0:5", wantErr: `entry 2 "10.0.0.1|255.255.0:5": bad mask "255.255.0"`},
	{in: "10.0.0.0|255.0.255.0:5", wantErr: `entry 1 "10.0.0.0|255.0.255.0:5": bad mask "255.0.255.0": not contiguous`},
	{in: "10.0.0.0|33:5", wantErr: `entry 1 "10.0.0.0|33:5": bad prefix length "33": want 0-32`},
	{in: "2001:db8::|ffff::0:5", wantErr: `entry 1 "2001:db8::|ffff::0:5": bad mask "ffff::0"`},
	{in: "2001:db8::|255.255.0.0:5", wantErr: `entry 1 "2001:db8::|255.255.0.0:5": bad mask "255.255.0.0": an IPv6 address takes a prefix length`},
	{in: "10.0.0.0/8:5", wantErr: `entry 1 "10.0.0.0/8:5": want IP|MASK:NUM`},
	{in: "10.0.0.0|255.0.0.0", wantErr: `entry 1 "10.0.0.0|255.0.0.0": missing ":NUM" after the mask`},
	{in: "10.0.0.0|255.0.0.0:", wantErr: `entry 1 "10.0.0.0|255.0.0.0:": bad connection limit ""`},
	{in: "10.0.0.0|255.0.0.0:-1", wantErr: `entry 1 "10.0.0.0|255.0.0.0:-1": bad connection limit "-1"`},
	{in: "10.0.0.0|255.0.0.0:99999999999", wantErr: `entry 1 "10.0.0.0|255.0.0.0:99999999999": bad connection limit "99999999999": too large`},
	{in: "|255.0.0.0:5", wantErr: `entry 1 "|255.0.0.0:5": missing address`},
	{in: "10.0.0.0|:5", wantErr: `entry 1 "10.0.0.0|:5": missing mask`},
	{in: "10.0.0|255.0.0.0:5", wantErr: `entry 1 "10.0.0|255.0.0.0:5": bad address "10.0.0"`},
}

func TestParseConnLimits(t *testing.T) {
	for _, tt := range connLimitTests {
		got, err := ParseConnLimits(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseConnLimits(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseConnLimits(%q) = %v, %v, want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestConnLimitString(t *testing.T) {
	tests := []struct {
		in   ConnLimit
		want string
	}{
		{cl("0.0.0.0/0", 20), "0.0.0.0|0.0.0.0:20"},
		{cl("192.168.1.0/24", 100), "192.168.1.0|255.255.255.0:100"},
		{cl("10.0.0.1/32", 500), "10.0.0.1|255.255.255.255:500"},
		{cl("10.0.0.0/9", 1), "10.0.0.0|255.128.0.0:1"},
		{cl("2001:db8::/32", 50), "2001:db8::|32:50"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ConnLimit%v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
	in := []ConnLimit{cl("192.168.1.0/24", 100), cl("0.0.0.0/0", 20)}
	if got, want := FormatConnLimits(in), "192.168.1.0|255.255.255.0:100,0.0.0.0|0.0.0.0:20"; got != want {
		t.Errorf("FormatConnLimits(%v) = %q, want %q", in, got, want)
	}
}

func TestParseConnLimitLines(t *testing.T) {
	in := "# per-network limits\n" +
		"\n" +
		"192.168.1.0|255.255.255.0:100\r\n" +
		"10.0.0.1|255.255.0:5\n" +
		"  10.0.0.1|255.255.255.255:500   # the webmail host\n" +
		"bogus\n" +
		"1.0.0.0|255.0.0.0:1, 2.0.0.0|255.0.0.0:x\n" +
		"0.0.0.0|0.0.0.0:20"
	got, errs := ParseConnLimitLines(strings.NewReader(in))
	want := []ConnLimit{cl("192.168.1.0/24", 100), cl("10.0.0.1/32", 500), cl("1.0.0.0/8", 1), cl("0.0.0.0/0", 20)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseConnLimitLines() = %v, want %v", got, want)
	}
	wantErrs := []string{
		`line 4: "10.0.0.1|255.255.0:5": bad mask "255.255.0"`,
		`line 6: "bogus": want IP|MASK:NUM`,
		`line 7: entry 2 "2.0.0.0|255.0.0.0:x": bad connection limit "x"`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("ParseConnLimitLines() errors = %v, want %q", errs, wantErrs)
	}
	for i, err := range errs {
		if err.Error() != wantErrs[i] {
			t.Errorf("ParseConnLimitLines() error %d = %q, want %q", i, err, wantErrs[i])
		}
		var e *Error
		if !errors.As(err, &e) || e.File != "" || e.Line == 0 {
			t.Errorf("ParseConnLimitLines() error %d = %#v, want *Error with Line and no File", i, err)
		}
	}
}

func TestLimitFor(t *testing.T) {
	limits, err := ParseConnLimits("192.168.1.0|255.255.255.0:100,10.0.0.1|255.255.255.255:500,2001:db8::|32:50,0.0.0.0|0.0.0.0:20")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		client string
		max    int
		ok     bool
	}{
		{"192.168.1.9", 100, true},
		{"::ffff:192.168.1.9", 100, true},
		{"10.0.0.1", 500, true},
		{"10.0.0.2", 20, true},
		{"2001:db8:1::9", 50, true},
		{"2001:db9::9", 0, false}, // the catch-all is IPv4 only
		{"8.8.8.8", 20, true},
	}
	for _, tt := range tests {
		max, ok := LimitFor(limits, netip.MustParseAddr(tt.client))
		if max != tt.max || ok != tt.ok {
			t.Errorf("LimitFor(limits, %s) = %d, %v, want %d, %v", tt.client, max, ok, tt.max, tt.ok)
		}
	}
	// First match wins even when a later entry is more specific.
	limits, _ = ParseConnLimits("0.0.0.0|0.0.0.0:20,10.0.0.1|255.255.255.255:500")
	if max, ok := LimitFor(limits, netip.MustParseAddr("10.0.0.1")); max != 20 || !ok {
		t.Errorf("LimitFor(catch-all first, 10.0.0.1) = %d, %v, want 20, true", max, ok)
	}
	if max, ok := LimitFor(nil, netip.MustParseAddr("10.0.0.1")); max != 0 || ok {
		t.Errorf("LimitFor(nil, 10.0.0.1) = %d, %v, want 0, false", max, ok)
	}
}

func TestIsFileRef(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"/opt/SUNWmsgsr/config/connlimits.cfg", true},
		{"connlimits", true},
		{"0.0.0.0|0.0.0.0:20", false},
		{"192.168.1.0|255.255.255.0:100,0.0.0.0|0.0.0.0:20", false},
		{"", false},
		{"   ", false},
	}
	for _, tt := range tests {
		if got := IsFileRef(tt.in); got != tt.want {
			t.Errorf("IsFileRef(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

var addrListTests = []struct {
	in      string
	want    []netip.Prefix
	wantErr string
}{
	{in: "", want: nil},
	{in: "127.0.0.1|255.255.255.255", want: pfx("127.0.0.1/32")},
	{in: "127.0.0.1|255.255.255.255,192.168.50.0|255.255.255.0 10.1.2.0/24\n10.9.0.0/255.255.0.0",
		want: pfx("127.0.0.1/32", "192.168.50.0/24", "10.1.2.0/24", "10.9.0.0/16")},
	{in: "10.0.0.7", want: pfx("10.0.0.7/32")},
	{in: "::1, 2001:db8::/48 [2001:db8:1::]/64 [::2] 2001:db8:2::|64", want: pfx("::1/128", "2001:db8::/48", "2001:db8:1::/64", "::2/128", "2001:db8:2::/64")},
	{in: "10.1.2.3/24", want: pfx("10.1.2.0/24")},
	{in: "10.0.0.0|8", want: pfx("10.0.0.0/8")},
	{in: "::ffff:10.0.0.0/104", want: pfx("10.0.0.0/8")},
	{in: "::ffff:10.0.0.1", want: pfx("10.0.0.1/32")},

	{in: "10.0.0.300", wantErr: `entry 1 "10.0.0.300": bad address "10.0.0.300"`},
	{in: "10.0.0.0/255.0.255.0", wantErr: `entry 1 "10.0.0.0/255.0.255.0": bad mask "255.0.255.0": not contiguous`},
	{in: "10.0.0.0/", wantErr: `entry 1 "10.0.0.0/": missing mask`},
	{in: "1.2.3.4 /8", wantErr: `entry 2 "/8": missing address`},
	{in: "10.0.0.0/8/8", wantErr: `entry 1 "10.0.0.0/8/8": bad mask "8/8"`},
	{in: "::1/129", wantErr: `entry 1 "::1/129": bad prefix length "129": want 0-128`},
	{in: "/opt/SUNWmsgsr/config/bgexcl.cfg", wantErr: `entry 1 "/opt/SUNWmsgsr/config/bgexcl.cfg": missing address`},
}

func TestParseAddrList(t *testing.T) {
	for _, tt := range addrListTests {
		got, err := ParseAddrList(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseAddrList(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAddrList(%q) = %v, %v, want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseAddrListLines(t *testing.T) {
	// The bgexcl.cfg example of docs/reference.md §3.4, plus mistakes.
	in := "# monitoring hosts and the webmail front-ends are never penalised\n" +
		"127.0.0.1|255.255.255.255\n" +
		"192.168.50.0|255.255.255.0\n" +
		"10.1.2.0/24\n" +
		"10.1.3.0/33\n" +
		"10.1.4.1, 10.1.4.2 # two hosts\n" +
		"\t\n" +
		"webmail.siroe.com\n"
	got, errs := ParseAddrListLines(strings.NewReader(in))
	want := pfx("127.0.0.1/32", "192.168.50.0/24", "10.1.2.0/24", "10.1.4.1/32", "10.1.4.2/32")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseAddrListLines() = %v, want %v", got, want)
	}
	wantErrs := []string{
		`line 5: "10.1.3.0/33": bad prefix length "33": want 0-32`,
		`line 8: "webmail.siroe.com": bad address "webmail.siroe.com"`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("ParseAddrListLines() errors = %v, want %q", errs, wantErrs)
	}
	for i, err := range errs {
		if err.Error() != wantErrs[i] {
			t.Errorf("ParseAddrListLines() error %d = %q, want %q", i, err, wantErrs[i])
		}
	}
}

func TestIsAddrListFileRef(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"/opt/SUNWmsgsr/config/bgexcl.cfg", true},
		{"bgexcl.cfg", true},
		{"config/bgexcl", true},
		{"/24", true},
		{"10.1.2.0/24", false},
		{"127.0.0.1|255.255.255.255", false},
		{"10.0.0.7", false},
		{"::1", false},
		{"10.0.0.300", false}, // a mistyped address, not a file
		{"10.0.0.0|x", false},
		{"a.cfg b.cfg", false},
		{"10.0.0.1,10.0.0.2", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsAddrListFileRef(tt.in); got != tt.want {
			t.Errorf("IsAddrListFileRef(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
