package popproxy

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmmp/mmp/config"
)

func TestParseSpoof(t *testing.T) {
	tests := []struct {
		name, file string
		lines      []string
		body       int
	}{
		{"wire form", "A: b\r\n\r\n..x\r\n..\r\n.y\r\n.\r\n", []string{"A: b", "", ".x", ".", ".y"}, 2},
		{"wire form without final newline", "A: b\n\nbody\n.", []string{"A: b", "", "body"}, 2},
		{"hand written", "A: b\n\n.x\n..\nend", []string{"A: b", "", ".x", "..", "end"}, 2},
		{"headers only", "A: b\nC: d\n", []string{"A: b", "C: d"}, 2},
		{"empty message", ".\r\n", nil, 0},
		{"empty file", "", nil, 0},
	}
	for _, tt := range tests {
		m := parseSpoof([]byte(tt.file))
		if strings.Join(m.lines, "|") != strings.Join(tt.lines, "|") || len(m.lines) != len(tt.lines) {
			t.Errorf("%s: lines %q, want %q", tt.name, m.lines, tt.lines)
		}
		if m.body != tt.body {
			t.Errorf("%s: body at %d, want %d", tt.name, m.body, tt.body)
		}
		size := 0
		for _, l := range tt.lines {
			size += len(l) + 2
		}
		if m.size != size {
			t.Errorf("%s: size %d, want %d", tt.name, m.size, size)
		}
		if len(m.uidl) > 70 || strings.ContainsFunc(m.uidl, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			t.Errorf("%s: UIDL %q is not RFC 1939", tt.name, m.uidl)
		}
	}
	if a, b := parseSpoof([]byte("x\r\n.\r\n")).uidl, parseSpoof([]byte("x\n")).uidl; a != b {
		t.Errorf("the same message has UIDLs %s and %s", a, b)
	}
	if a, b := parseSpoof([]byte("x\n")).uidl, parseSpoof([]byte("y\n")).uidl; a == b {
		t.Errorf("two messages share the UIDL %s", a)
	}
}

// values loads a POP service with one TCPAccess value.
func values(t *testing.T, tcpAccess string) *config.Values {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "AService.cfg"), []byte("default:ServiceList PopProxyAService@1110\n"), 0o600)
	text := ""
	if tcpAccess != "" {
		text = "default:TCPAccess \"" + tcpAccess + "\"\n"
	}
	os.WriteFile(filepath.Join(dir, "PopProxyAService.cfg"), []byte(text), 0o600)
	inst, problems := config.Load(dir, config.Options{})
	if problems.Fatal() {
		t.Fatal(problems)
	}
	return inst.Services[0].Values
}

func TestXQueryAllowed(t *testing.T) {
	smtpHost := netip.MustParseAddr("192.0.2.25")
	other := netip.MustParseAddr("198.51.100.7")
	tests := []struct {
		filter string
		client netip.Addr
		want   bool
	}{
		{"", netip.MustParseAddr("127.0.0.1"), true},
		{"", netip.MustParseAddr("::1"), true},
		{"", netip.MustParseAddr("::ffff:127.0.0.5"), true},
		{"-ALL:ALL", netip.MustParseAddr("127.0.0.1"), true},
		{"", smtpHost, false},
		{"+ALL:ALL", smtpHost, false},
		{"+pop:ALL", smtpHost, false},
		{"-pop:198.51.100.0/24", smtpHost, false},
		{"+smtp:192.0.2.25", smtpHost, true},
		{"+smtp:192.0.2.25", other, false},
		{"+pop,smtp:192.0.2.0/24", smtpHost, true},
		{"+smtp:192.0.2.0/24 EXCEPT 192.0.2.25", smtpHost, false},
		{"+smtp EXCEPT smtp:ALL", smtpHost, false},
		{"-smtp:192.0.2.25$+smtp:192.0.2.0/24", smtpHost, true}, // allow rules come first, as in Allows
		{"+smtps:192.0.2.25", smtpHost, false},
	}
	for _, tt := range tests {
		v := values(t, tt.filter)
		if got := xqueryAllowed(v, tt.client, netip.MustParseAddr("192.0.2.1")); got != tt.want {
			t.Errorf("xqueryAllowed(%q, %s) = %v, want %v", tt.filter, tt.client, got, tt.want)
		}
	}
}

func TestConfiguredCapa(t *testing.T) {
	// The table's default, as a smoke test of the word grouping.
	got := configuredCapa(values(t, ""))
	var lines []string
	for _, l := range got {
		lines = append(lines, strings.Join(l, " "))
	}
	if want := "TOP|UIDL|RESP-CODES|AUTH-RESP-CODE|USER"; strings.Join(lines, "|") != want {
		t.Errorf("configuredCapa(default) = %q, want %q", lines, want)
	}
}

// A relative SpoofMessageFile is relative to the instance directory.
func TestPath(t *testing.T) {
	p := New(Options{Dir: "/etc/mmp"})
	for name, want := range map[string]string{"spoof.txt": "/etc/mmp/spoof.txt", "/var/spoof.txt": "/var/spoof.txt", "": ""} {
		if got := p.path(name); got != want {
			t.Errorf("path(%q) = %q, want %q", name, got, want)
		}
	}
	if got := New(Options{}).path("spoof.txt"); got != "spoof.txt" {
		t.Errorf("without Dir: path(spoof.txt) = %q", got)
	}
}
