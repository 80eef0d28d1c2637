package cfgfmt

import (
	"reflect"
	"testing"
)

var serviceListTests = []struct {
	in      string
	want    []ServiceEntry
	wantErr string
}{
	{in: "", want: nil},
	// First example of docs/reference.md §3.2.
	{
		in: "/opt/SUNWmsgsr/lib/ImapProxyAService@143|993 /opt/SUNWmsgsr/lib/PopProxyAService@110",
		want: []ServiceEntry{
			{DLL: "/opt/SUNWmsgsr/lib/ImapProxyAService", Module: "ImapProxyAService", Instance: "ImapProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 143), la("", 993)}},
			{DLL: "/opt/SUNWmsgsr/lib/PopProxyAService", Module: "PopProxyAService", Instance: "PopProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 110)}},
		},
	},
	// Second example of docs/reference.md §3.2: one module twice, with another section.
	{
		in: "/opt/SUNWmsgsr/lib/ImapProxyAService@10.0.0.5:143|10.0.0.5:993 /opt/SUNWmsgsr/lib/ImapProxyAService:ImapProxyAService:partner@10.0.0.6:143",
		want: []ServiceEntry{
			{DLL: "/opt/SUNWmsgsr/lib/ImapProxyAService", Module: "ImapProxyAService", Instance: "ImapProxyAService", Section: "default",
				Addrs: []ListenAddr{la("10.0.0.5", 143), la("10.0.0.5", 993)}},
			{DLL: "/opt/SUNWmsgsr/lib/ImapProxyAService", Module: "ImapProxyAService", Instance: "ImapProxyAService", Section: "partner",
				Addrs: []ListenAddr{la("10.0.0.6", 143)}},
		},
	},
	// The SMTP proxy enable string of docs/reference.md §3.2, with the default's
	// msg_svr_base placeholder and a tab.
	{
		in: "msg_svr_base/lib/SmtpProxyAService@25|587\tmsg_svr_base/lib/PopProxyAService@110|995",
		want: []ServiceEntry{
			{DLL: "msg_svr_base/lib/SmtpProxyAService", Module: "SmtpProxyAService", Instance: "SmtpProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 25), la("", 587)}},
			{DLL: "msg_svr_base/lib/PopProxyAService", Module: "PopProxyAService", Instance: "PopProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 110), la("", 995)}},
		},
	},
	{
		in: "  /lib/ImapProxyAService.so:Imap2@[::1]:143|127.0.0.1:143  ",
		want: []ServiceEntry{
			{DLL: "/lib/ImapProxyAService.so", Module: "ImapProxyAService", Instance: "Imap2", Section: "default",
				Addrs: []ListenAddr{la("::1", 143), la("127.0.0.1", 143)}},
		},
	},
	{
		in: "ImapProxyAService.DLL@143 /lib/FooAService@9999",
		want: []ServiceEntry{
			{DLL: "ImapProxyAService.DLL", Module: "ImapProxyAService", Instance: "ImapProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 143)}},
			{DLL: "/lib/FooAService", Module: "FooAService", Instance: "FooAService", Section: "default",
				Addrs: []ListenAddr{la("", 9999)}},
		},
	},
	// Sun 7.x names its modules in lower case after its configuration
	// groups; each reads the Sun 6 instance file of its protocol.
	{
		in: "imapproxy@1143|1993 popproxy@1110|1995 submitproxy@125|1465",
		want: []ServiceEntry{
			{DLL: "imapproxy", Module: "imapproxy", Instance: "ImapProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 1143), la("", 1993)}},
			{DLL: "popproxy", Module: "popproxy", Instance: "PopProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 1110), la("", 1995)}},
			{DLL: "submitproxy", Module: "submitproxy", Instance: "SmtpProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 125), la("", 1465)}},
		},
	},
	// A Windows installation: a drive letter and backslashes.
	{
		in: `C:\Sun\lib\ImapProxyAService@143 c:/Sun/lib/PopProxyAService.dll:Pop2:ssl@995 C:\Sun\lib\SubmitProxy.DLL@587`,
		want: []ServiceEntry{
			{DLL: `C:\Sun\lib\ImapProxyAService`, Module: "ImapProxyAService", Instance: "ImapProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 143)}},
			{DLL: "c:/Sun/lib/PopProxyAService.dll", Module: "PopProxyAService", Instance: "Pop2", Section: "ssl",
				Addrs: []ListenAddr{la("", 995)}},
			{DLL: `C:\Sun\lib\SubmitProxy.DLL`, Module: "SubmitProxy", Instance: "SmtpProxyAService", Section: "default",
				Addrs: []ListenAddr{la("", 587)}},
		},
	},

	{in: "/lib/ImapProxyAService", wantErr: `entry 1 "/lib/ImapProxyAService": missing "@PORTSPEC"`},
	{in: "/lib/ImapProxyAService@", wantErr: `entry 1 "/lib/ImapProxyAService@": missing port list after "@"`},
	{in: "@143", wantErr: `entry 1 "@143": missing module name`},
	{in: "/lib/@143", wantErr: `entry 1 "/lib/@143": module name "/lib/" is a directory`},
	{in: `C:\lib\@143`, wantErr: `entry 1 "C:\\lib\\@143": module name "C:\\lib\\" is a directory`},
	{in: "/lib/ImapProxyAService:a:b:c@143", wantErr: `entry 1 "/lib/ImapProxyAService:a:b:c@143": too many ":" before "@": want DLLNAME[:INSTANCE[:SECTION]]`},
	{in: "/lib/ImapProxyAService:@143", wantErr: `entry 1 "/lib/ImapProxyAService:@143": empty instance name`},
	{in: "/lib/ImapProxyAService::x@143", wantErr: `entry 1 "/lib/ImapProxyAService::x@143": empty instance name`},
	{in: "/lib/ImapProxyAService:x:@143", wantErr: `entry 1 "/lib/ImapProxyAService:x:@143": empty section name`},
	{in: "/lib/ImapProxyAService:../x@143", wantErr: `entry 1 "/lib/ImapProxyAService:../x@143": bad instance name "../x": want a config file name without directory`},
	{in: "/lib/ImapProxyAService@143|x", wantErr: `entry 1 "/lib/ImapProxyAService@143|x": port list "143|x": entry 2 "x": bad port "x"`},
	{in: "/lib/ImapProxyAService@143|993|143", wantErr: `entry 1 "/lib/ImapProxyAService@143|993|143": port list "143|993|143": entry 3 "143": duplicate of entry 1`},
	{in: "/lib/ImapProxyAService@143|993 /lib/PopProxyAService@110|993",
		wantErr: `entry 2 "/lib/PopProxyAService@110|993": 993 already listed in entry 1`},
	{in: "/lib/ImapProxyAService@10.0.0.5:143 /lib/ImapProxyAService:I:s@10.0.0.6:143 /lib/PopProxyAService@[::ffff:10.0.0.5]:143",
		wantErr: `entry 3 "/lib/PopProxyAService@[::ffff:10.0.0.5]:143": [::ffff:10.0.0.5]:143 already listed in entry 1`},
	// Only ASCII white space separates; found by FuzzParseServiceList.
	{in: "0@\u2000", wantErr: `entry 1 "0@\u2000": port list "\u2000": entry 1 "\u2000": bad port "\u2000"`},
	// Broken across a blank, as the reference warns against.
	{in: "/lib/ImapProxyAService@143| 993", wantErr: `entry 1 "/lib/ImapProxyAService@143|": port list "143|": entry 2 "": empty`},
}

func TestParseServiceList(t *testing.T) {
	for _, tt := range serviceListTests {
		got, err := ParseServiceList(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseServiceList(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseServiceList(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestServiceEntryProtocol(t *testing.T) {
	tests := []struct {
		dll  string
		want string
	}{
		{"/opt/SUNWmsgsr/lib/ImapProxyAService", "imap"},
		{"/opt/SUNWmsgsr/lib/PopProxyAService", "pop"},
		{"/opt/SUNWmsgsr/lib/SmtpProxyAService", "smtp"},
		{"ImapProxyAService.so", "imap"},
		{"lib/popproxyaservice.DLL", "pop"},
		{"SMTPPROXYASERVICE.dylib", "smtp"},
		{"imapproxy", "imap"},
		{"/opt/sun/comms/messaging64/lib/POPPROXY.so", "pop"},
		{"submitproxy", "smtp"},
		{`C:\Sun\lib\ImapProxyAService`, "imap"},
		{`D:\msg\lib\submitproxy.dll`, "smtp"},
		{"smtpproxy", ""},
		{"/lib/ImapProxyAService.so.1", ""},
		{"/lib/ImapProxy", "imap"}, // the 7.x name, in any letter case
		{"/lib/ImapProxyAService/x", ""},
		{"", ""},
	}
	for _, tt := range tests {
		e := ServiceEntry{DLL: tt.dll}
		if got := e.Protocol(); got != tt.want {
			t.Errorf("ServiceEntry{DLL: %q}.Protocol() = %q, want %q", tt.dll, got, tt.want)
		}
	}
}

func TestServiceEntryString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/lib/ImapProxyAService@143|993", "/lib/ImapProxyAService@143|993"},
		{"/lib/ImapProxyAService:ImapProxyAService@143", "/lib/ImapProxyAService@143"},
		{"/lib/ImapProxyAService:ImapProxyAService:default@143", "/lib/ImapProxyAService@143"},
		{"/lib/ImapProxyAService:Other@143", "/lib/ImapProxyAService:Other@143"},
		{"/lib/ImapProxyAService:ImapProxyAService:partner@10.0.0.6:143", "/lib/ImapProxyAService:ImapProxyAService:partner@10.0.0.6:143"},
		{"/lib/ImapProxyAService.so@[::1]:143", "/lib/ImapProxyAService.so@[::1]:143"},
		{"imapproxy@1143|1993 submitproxy:SmtpProxyAService@125", "imapproxy@1143|1993 submitproxy@125"},
		{"popproxy:popproxy@110", "popproxy:popproxy@110"},
		{`C:\Sun\lib\ImapProxyAService:Imap2@143`, `C:\Sun\lib\ImapProxyAService:Imap2@143`},
	}
	for _, tt := range tests {
		es, err := ParseServiceList(tt.in)
		if err != nil {
			t.Fatalf("ParseServiceList(%q): %v", tt.in, err)
		}
		if got := FormatServiceList(es); got != tt.want {
			t.Errorf("FormatServiceList(ParseServiceList(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
