package config

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/openmmp/mmp/param"
)

// The Sun Administration Reference prints its EhloKeywords example with a
// blank after the colon, "default: EhloKeywords TURN"; a site that copied
// it, into SmtpProxyAService.cfg or in the same form into vdmap, must
// load without a problem.
func TestSeedBlankAfterSection(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList SmtpProxyAService@25 PopProxyAService@110\n")
	write(t, dir, "SmtpProxyAService.cfg", "default:SmtpRelays sesta:485 gonzo mothra\n"+
		"default:SmtpProxyPassword password\n"+
		"default: EhloKeywords TURN\n")
	write(t, dir, "PopProxyAService.cfg", "default:VirtualDomainFile vdmap.cfg\n")
	write(t, dir, "vdmap.cfg", "vdmap siroe 192.168.10.5\nsiroe: DefaultDomain siroe.com\n")
	inst, problems := Load(dir, Options{})
	if len(problems) > 0 {
		t.Fatalf("problems:\n%v", problems.Err(Warning))
	}
	smtp, pop := inst.Services[0], inst.Services[1]
	if got := Get(smtp.Values, param.EhloKeywords); !slices.Equal(got, []string{"TURN"}) {
		t.Errorf("EhloKeywords = %q, want [TURN]", got)
	}
	if o := smtp.Values.Origin(param.EhloKeywords.Param); o.String() != "SmtpProxyAService.cfg:3" {
		t.Errorf("EhloKeywords origin = %s", o)
	}
	siroe := pop.ForLocal(netip.MustParseAddr("192.168.10.5"))
	if got := Get(siroe, param.DefaultDomain); got != "siroe.com" {
		t.Errorf("vdmap siroe DefaultDomain = %q, want siroe.com", got)
	}
}

// A Sun 7.x ServiceList names the modules in lower case with their 7.x
// names; each entry reads the Sun 6 file of its protocol, created from
// its template when missing, as for the Sun 6 names.
func TestSun7ServiceList(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList imapproxy@1143|1993 popproxy@1110|1995 submitproxy@125|1465\n")
	write(t, dir, "SmtpProxyAService.cfg", "default:SmtpRelays sesta:485 gonzo mothra\ndefault:SmtpProxyPassword A_Password\n")
	inst, problems := Load(dir, Options{CreateMissing: true})
	if problems.Fatal() {
		t.Fatalf("problems:\n%v", problems.Err(Warning))
	}
	want := []struct {
		proto param.Where
		file  string
		port  uint16
	}{{param.IMAP, "ImapProxyAService.cfg", 1143}, {param.POP, "PopProxyAService.cfg", 1110}, {param.SMTP, "SmtpProxyAService.cfg", 125}}
	if len(inst.Services) != len(want) {
		t.Fatalf("%d services, want %d", len(inst.Services), len(want))
	}
	for i, w := range want {
		svc := inst.Services[i]
		if svc.Protocol != w.proto || svc.File != w.file || svc.Listen[0].Port != w.port {
			t.Errorf("service %d = %v %s port %d, want %v %s %d", i, svc.Protocol, svc.File, svc.Listen[0].Port, w.proto, w.file, w.port)
		}
	}
	if got := read(t, dir, "ImapProxyAService.cfg"); got != string(Template(param.IMAP)) {
		t.Errorf("ImapProxyAService.cfg was not created from the IMAP template")
	}

	// Any letter case, a directory, a .so or .dll suffix, a Windows drive.
	for _, list := range []string{
		`/opt/sun/comms/messaging64/lib/IMAPPROXY.so@143 popproxy.DLL@110`,
		`C:\Sun\lib\ImapProxyAService@143 C:\Sun\lib\PopProxy@110`,
	} {
		write(t, dir, "AService.cfg", "default:ServiceList "+list+"\n")
		inst, problems := Load(dir, Options{})
		if problems.Fatal() || len(inst.Services) != 2 || inst.Services[0].Protocol != param.IMAP || inst.Services[1].Protocol != param.POP {
			t.Errorf("ServiceList %s: %d services, problems:\n%v", list, len(inst.Services), problems.Err(Warning))
		}
	}
}

// "The MMP does not support certmap plug-ins" (Sun 6.3 Administration
// Guide): a certmap.conf with one makes every certificate login fail, so
// the check reports it as an error, with the parser the proxy uses at
// login; the Sun guide's own "mapname:FilterComps ou=uid" is fine.
func TestCertmapVerdict(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList ImapProxyAService@143\n")
	write(t, dir, "ImapProxyAService.cfg", "default:CertmapFile certmap.conf\n")
	write(t, dir, "certmap.conf", "certmap default default\ndefault:DNComps\n"+
		"certmap mapname ou=Siroe CA, o=siroe.com, c=US\nmapname:FilterComps ou=uid\n")
	if _, problems := Load(dir, Options{}); len(problems) > 0 {
		t.Errorf("problems:\n%v", problems.Err(Warning))
	}
	write(t, dir, "certmap.conf", "certmap default default\ndefault:library /opt/SUNWmsgsr/lib/libcmap.so\n")
	_, problems := Load(dir, Options{})
	want := "certmap.conf:2: library: certmap plug-ins are not supported by the MMP"
	if len(problems) != 1 || problems[0].String() != want || !problems.Fatal() {
		t.Errorf("problems = %v, want the error %q", problems, want)
	}
}

// AuthServiceTTL outside PopProxyAService.cfg is accepted as the Sun
// guide writes it (-1); another value there is a warning naming the
// line, never an error, and changes nothing.
func TestAuthServiceTTLElsewhere(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList ImapProxyAService@143 SmtpProxyAService@25\n")
	write(t, dir, "ImapProxyAService.cfg", "default:AuthServiceTTL -1\n")
	write(t, dir, "SmtpProxyAService.cfg", "default:SmtpRelays sesta:485\ndefault:SmtpProxyPassword A_Password\ndefault:AuthServiceTTL 900\n")
	_, problems := Load(dir, Options{})
	want := "SmtpProxyAService.cfg:3: AuthServiceTTL: has no effect in SmtpProxyAService.cfg (only PopProxyAService.cfg uses it); ignored (warning)"
	if len(problems) != 1 || problems[0].String() != want {
		t.Errorf("problems = %q, want only %q", problems, want)
	}
}

// A Sun 7.x instance written as the Sun documents tell (testdata/sun7):
// the 7.x ServiceList, "default: EhloKeywords TURN" and AuthServiceTTL -1
// in the IMAP and SMTP files load without a single problem.
func TestLoadSun7Instance(t *testing.T) {
	inst, problems := Load("testdata/sun7", Options{})
	if len(problems) > 0 {
		t.Fatalf("problems:\n%v", problems.Err(Warning))
	}
	if len(inst.Services) != 3 {
		t.Fatalf("%d services, want 3", len(inst.Services))
	}
	smtp := inst.Services[2]
	if smtp.Protocol != param.SMTP || !slices.Equal(Get(smtp.Values, param.EhloKeywords), []string{"TURN"}) {
		t.Errorf("SMTP service %v, EhloKeywords %v", smtp.Protocol, Get(smtp.Values, param.EhloKeywords))
	}
	if smtp.Values.IsSet(param.AuthServiceTTL.Param) {
		t.Errorf("AuthServiceTTL set in the SMTP values; it has no effect there")
	}
}

// "If AuthService is set to yes and AuthServiceTTL is non-zero, the MMP
// will allow queries about who is currently logged into the MMP ... For
// POP before SMTP service, AuthServiceTTL should be set to a value greater
// than 0 in the PopProxyAService.cfg file" (Administration Reference).
// With the default AuthServiceTTL -1, AuthService yes, for the service or
// in a vdmap block as the guide recommends, records nothing: the check
// says so where AuthService is switched on. PreAuth has nothing to do
// with it: only logins the store accepted are recorded.
func TestAuthServiceWithoutTTL(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList PopProxyAService@110\n")
	write(t, dir, "vdmap.cfg", "vdmap siroe 192.168.10.5\nsiroe:DefaultDomain siroe.com\nsiroe:AuthService yes\n")
	for _, tt := range []struct {
		pop  string
		want []string
	}{
		{"default:AuthService yes\ndefault:PreAuth no\n", []string{
			"PopProxyAService.cfg:1: AuthService: POP-before-SMTP is off: AuthServiceTTL is -1 (the default), so no POP login is recorded; set AuthServiceTTL above 0 in PopProxyAService.cfg (warning)"}},
		{"default:VirtualDomainFile vdmap.cfg\ndefault:AuthServiceTTL 0\n", []string{
			"vdmap.cfg:3: AuthService: POP-before-SMTP is off: AuthServiceTTL is 0 (PopProxyAService.cfg:2), so no POP login is recorded; set AuthServiceTTL above 0 in PopProxyAService.cfg (warning)"}},
		{"default:AuthService yes\ndefault:PreAuth no\ndefault:AuthServiceTTL 900\ndefault:VirtualDomainFile vdmap.cfg\n", nil},
		{"default:AuthServiceTTL -1\n", nil}, // AuthService off: nothing to say
	} {
		write(t, dir, "PopProxyAService.cfg", tt.pop)
		_, problems := Load(dir, Options{})
		var got []string
		for _, p := range problems {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("with PopProxyAService.cfg\n%s problems:\n%q\nwant:\n%q", tt.pop, got, tt.want)
		}
	}
}

// ServiceList is the list of "services to start" (Administration
// Reference); an empty one leaves AService nothing to run, so the check
// and the daemon both call it an error.
func TestEmptyServiceList(t *testing.T) {
	for _, text := range []string{"default:ServiceList \"\"\n", "default:ServiceList \"  \"\n"} {
		dir := t.TempDir()
		write(t, dir, "AService.cfg", "# no services\n"+text)
		_, problems := Load(dir, Options{})
		want := "AService.cfg:2: ServiceList: names no service: AService would have nothing to run"
		if len(problems) != 1 || problems[0].String() != want || !problems.Fatal() {
			t.Errorf("%q: problems = %q, want the error %q", text, problems, want)
		}
	}
}

// A misspelt or invented name is a warning with a suggestion, in a cfg
// file and in vdmap alike; the line is ignored and the rest loads.
func TestUnknownNameSuggestion(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList ImapProxyAService@143\n")
	write(t, dir, "ImapProxyAService.cfg", "default:ClientTimeout 600\ndefault:VirtualDomainFile vdmap.cfg\n")
	write(t, dir, "vdmap.cfg", "vdmap siroe 192.168.10.5\nsiroe:DomainDelimiter +\n")
	_, problems := Load(dir, Options{})
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		"ImapProxyAService.cfg:1: ClientTimeout: unknown parameter (did you mean Timeout?); ignored (warning)",
		"vdmap.cfg:2: DomainDelimiter: unknown vdmap property (did you mean VirtualDomainDelim?); ignored (warning)",
	}
	if !slices.Equal(got, want) || problems.Fatal() {
		t.Errorf("problems:\n%q\nwant:\n%q", got, want)
	}
}
