package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// A Sun 6.3 site's instance, written as such a site has it, loads with no
// error and gives the values its files say.
func TestLoadSunInstance(t *testing.T) {
	inst, problems := Load("testdata/sun63", Options{})
	if err := problems.Err(Warning); err != nil {
		t.Fatalf("problems:\n%v", err)
	}
	if got := len(inst.Services); got != 4 {
		t.Fatalf("%d services, want 4", got)
	}
	if got := Get(inst.Daemon, param.NumThreads); got != 4 {
		t.Errorf("NumThreads = %d, want 4", got)
	}
	imap, partner, pop, smtp := inst.Services[0], inst.Services[3], inst.Services[1], inst.Services[2]
	if imap.Protocol != param.IMAP || pop.Protocol != param.POP || smtp.Protocol != param.SMTP || partner.Section != "partner" {
		t.Fatalf("services = %v %v %v %v", imap.Protocol, pop.Protocol, smtp.Protocol, partner.Section)
	}
	v := imap.Values
	if got := Get(v, param.LogLevel); got != 5 {
		t.Errorf("LogLevel = %d, want 5 (the service's own, not AService.cfg's 1)", got)
	}
	if got := Get(v, param.BindDN); got != "cn=Directory Manager" {
		t.Errorf("BindDN = %q", got)
	}
	if got := Get(v, param.Capability); len(got) != 13 || got[0] != "IMAP4" {
		t.Errorf("Capability = %v", got)
	}
	if o := v.Origin(param.ConnLimits.Param); o.String() != "ImapProxyAService.cfg:23" {
		t.Errorf("ConnLimits origin = %s, want ImapProxyAService.cfg:23", o)
	}
	if max, ok := cfgfmt.LimitFor(imap.ConnLimits, netip.MustParseAddr("10.0.0.1")); !ok || max != 500 {
		t.Errorf("LimitFor(10.0.0.1) = %d, %v; want 500", max, ok)
	}
	if !Get(v, param.SSLEnable) || len(Get(v, param.SSLPorts)) != 1 {
		t.Errorf("SSL block not read")
	}
	// The partner instance reads default: lines, then its own section.
	pv := partner.Values
	if got := Get(pv, param.DefaultDomain); got != "partner.example" {
		t.Errorf("partner DefaultDomain = %q", got)
	}
	if got := Get(pv, param.LdapUrl); len(got.Hosts) != 2 || got.BaseDN != "o=partner" {
		t.Errorf("partner LdapUrl = %+v", got)
	}
	if got := Get(pv, param.LogLevel); got != 5 {
		t.Errorf("partner inherits default: LogLevel, got %d", got)
	}
	// SMTP inherits LogDir from its own file; POP from AService.cfg.
	if got := Get(pop.Values, param.LogDir); got != "/opt/SUNWmsgsr/data/log" {
		t.Errorf("POP LogDir = %q, want the AService.cfg value", got)
	}
	if got := Get(pop.Values, param.AuthServiceTTL); got != 900*time.Second {
		t.Errorf("AuthServiceTTL = %v", got)
	}
	if len(pop.BGExcluded) != 3 {
		t.Errorf("BGExcluded from file = %v", pop.BGExcluded)
	}
	if got := Get(smtp.Values, param.SmtpRelays); !slices.Equal(got, []string{"sesta:485", "gonzo:25", "mothra:25"}) {
		t.Errorf("SmtpRelays = %v", got)
	}
}

func TestVdmapOverlay(t *testing.T) {
	inst, problems := Load("testdata/sun63", Options{})
	if err := problems.Err(Warning); err != nil {
		t.Fatal(err)
	}
	imap := inst.Services[0]
	if len(imap.Domains) != 3 {
		t.Fatalf("%d vdmap domains, want 3", len(imap.Domains))
	}
	siroe := imap.ForLocal(netip.MustParseAddr("192.168.10.5"))
	if !Get(siroe, param.PreAuth) || Get(imap.Values, param.PreAuth) {
		t.Errorf("vdmap PreAuth: domain %v, service %v; want true, false", Get(siroe, param.PreAuth), Get(imap.Values, param.PreAuth))
	}
	if o := siroe.Origin(param.PreAuth.Param); o.String() != "vdmap.cfg:5" {
		t.Errorf("origin = %s", o)
	}
	varrius := imap.ForLocal(netip.MustParseAddr("::ffff:192.168.10.6"))
	if got := Get(varrius, param.BindDN); got != "uid=mmp,ou=People,o=varrius.com,o=internet" {
		t.Errorf("varrius BindDN = %q (a vdmap block with its own LdapUrl keeps its BindDN)", got)
	}
	airius := imap.ForLocal(netip.MustParseAddr("198.51.100.10"))
	if Get(airius, param.VDomain) != "airius.com" || Get(airius, param.CanonicalVirtualDomainDelim) != "+" {
		t.Errorf("airius: Netscape properties not applied")
	}
	if f := Get(airius, param.SearchFormat); f.String() != "uid=%s" {
		t.Errorf("UidSearch alias in vdmap: SearchFormat = %q", f.String())
	}
	if other := imap.ForLocal(netip.MustParseAddr("10.9.9.9")); other != imap.Values {
		t.Errorf("an address without a vdmap block gets the service's values")
	}
}

// The check of a deliberately broken instance reports every problem at
// once, each at its place, in file order.
func TestBrokenInstance(t *testing.T) {
	_, problems := Load("testdata/broken", Options{})
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		`AService.cfg:3: NumThreads: "many" is not a whole number`,
		`AService.cfg:4: LogLevell: unknown parameter (did you mean LogLevel?); ignored (warning)`,
		`AService.cfg:5: Timeout: does not apply to AService.cfg (it belongs in ImapProxyAService.cfg, PopProxyAService.cfg, SmtpProxyAService.cfg); ignored (warning)`,
		`AService.cfg:6: expected "section:Name value"`,
		`ImapProxyAService.cfg:1: LdapUrl: unsupported scheme "http": want ldap or ldaps`,
		`ImapProxyAService.cfg:3: Timeout: 60 seconds is below the 1800 the protocol standard asks for (warning)`,
		`ImapProxyAService.cfg:4: SmtpRelays: does not apply to ImapProxyAService.cfg (it belongs in SmtpProxyAService.cfg); ignored (warning)`,
		`ImapProxyAService.cfg:6: ConnLimits: entry 1 "10.0.0.0|255.0.255.0:5": bad mask "255.0.255.0": not contiguous`,
		`ImapProxyAService.cfg:7: SpoofMessageFile: does not apply to ImapProxyAService.cfg (it belongs in PopProxyAService.cfg, the Netscape ImapMMP.config/PopMMP.config); ignored (warning)`,
		`ImapProxyAService.cfg:8: CertmapFile: missing-certmap.conf: no such file or directory`,
		`ImapProxyAService.cfg:9: TCPAccess: rule 1 "imap:ALL": no leading "+" or "-"; treated as an allow rule (warning)`,
		`ImapProxyAService.cfg:10: SSLPorts: 993 is not in ServiceList for ImapProxyAService, so it is never opened (warning)`,
		`vdmap.cfg:3: BGMax: is not a vdmap property (it belongs in ImapProxyAService.cfg, PopProxyAService.cfg, SmtpProxyAService.cfg); ignored (warning)`,
		`vdmap.cfg:4: Colour: unknown vdmap property; ignored (warning)`,
		`vdmap.cfg:5: BindDN: ignored: vdmap siroe sets no LdapUrl of its own (warning)`,
		`vdmap.cfg:6: PreAuth: no "vdmap varrius IPADDR" line declares "varrius"; ignored (warning)`,
		`vdmap.cfg:7: vdmap bad: "192.168.10.300" is not an IP address`,
		`PopProxyAService.cfg:2: AuthService: POP-before-SMTP is off: AuthServiceTTL is -1 (the default), so no POP login is recorded; set AuthServiceTTL above 0 in PopProxyAService.cfg (warning)`,
		`PopProxyAService.cfg:3: SpoofMessageFile: nospoof.txt: no such file or directory`,
		`PopProxyAService.cfg:4: Banner: unterminated quoted value`,
		`bgexcl.cfg:2: BGExcluded: "10.0.0.0|255.0.255.0": bad mask "255.0.255.0": not contiguous`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !problems.Fatal() {
		t.Errorf("Fatal() = false for a broken instance")
	}
}

// A missing X.cfg is created from X-def.cfg, and X-def.cfg from the table.
func TestTemplateRule(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList ImapProxyAService@1143 PopProxyAService@1110\n")
	write(t, dir, "PopProxyAService-def.cfg", "# site template\ndefault:BacksidePort 1110\n")
	inst, problems := Load(dir, Options{CreateMissing: true})
	if problems.Fatal() {
		t.Fatal(problems.Err(Fatal))
	}
	if got := Get(inst.Services[1].Values, param.BacksidePort); got != 1110 {
		t.Errorf("POP BacksidePort = %d, want the template's 1110", got)
	}
	if got := read(t, dir, "PopProxyAService.cfg"); got != "# site template\ndefault:BacksidePort 1110\n" {
		t.Errorf("PopProxyAService.cfg = %q, want a copy of the template", got)
	}
	if read(t, dir, "ImapProxyAService.cfg") != string(Template(param.IMAP)) ||
		read(t, dir, "ImapProxyAService-def.cfg") != string(Template(param.IMAP)) {
		t.Errorf("ImapProxyAService.cfg and its -def.cfg not written from the table")
	}
	// Without CreateMissing (the check command) nothing is written.
	dir2 := t.TempDir()
	write(t, dir2, "AService.cfg", "default:ServiceList ImapProxyAService@1143\n")
	_, problems = Load(dir2, Options{})
	if problems.Fatal() || len(problems) != 1 || !strings.Contains(problems[0].Msg, "will be created") {
		t.Errorf("problems = %v", problems)
	}
	if _, err := os.Stat(filepath.Join(dir2, "ImapProxyAService.cfg")); err == nil {
		t.Errorf("check mode wrote a file")
	}
}

// Every generated template loads without a single problem, carries the
// SSL block commented out, and is what the repository ships.
func TestTemplates(t *testing.T) {
	for _, ctx := range []param.Where{param.AService, param.IMAP, param.POP, param.SMTP} {
		tmpl := Template(ctx)
		f, errs := cfgfmt.Parse("t", tmpl, "")
		if len(errs) > 0 {
			t.Fatalf("%s template: %v", ctx.FileName(), errs)
		}
		if ctx != param.AService {
			if !strings.Contains(string(tmpl), "\n#default:SSLEnable yes\n") {
				t.Errorf("%s template: SSL block not commented out", ctx.FileName())
			}
			for _, ln := range f.Settings() {
				if strings.HasPrefix(ln.Name, "SSL") {
					t.Errorf("%s template: %s is live; the SSL block must be commented out", ctx.FileName(), ln.Name)
				}
			}
		}
		name := strings.TrimSuffix(ctx.FileName(), ".cfg") + "-def.cfg"
		shipped, err := os.ReadFile(filepath.Join("..", "templates", name))
		if err != nil || string(shipped) != string(tmpl) {
			t.Errorf("templates/%s is not up to date; run: go run ./internal/gendocs", name)
		}
	}
	dir := t.TempDir()
	write(t, dir, "AService.cfg", string(Template(param.AService)))
	for _, ctx := range []param.Where{param.IMAP, param.POP} {
		write(t, dir, ctx.FileName(), string(Template(ctx)))
	}
	_, problems := Load(dir, Options{})
	if len(problems) > 0 {
		t.Errorf("the templates do not load cleanly:\n%v", problems.Err(Warning))
	}
}

// A value set in all four places resolves to the command line's; without
// it the environment's, then the file's, then the default.
func TestFrontEndPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ImapMMP.config")
	write(t, dir, "ImapMMP.config", "# Netscape instance\nLogLevel=3; export LogLevel\nLDAPHost=ldap.airius.com; export LDAPHost\nBaseDN=\"o=airius.com\"; export BaseDN\nUidAttr=uid; export UidAttr\n")
	env := []param.Setting{{Param: param.LogLevel.Param, Raw: "4", Origin: param.Origin{Kind: param.FromEnv, Name: "LogLevel"}}}
	flag := []param.Setting{{Param: param.LogLevel.Param, Raw: "5", Origin: param.Origin{Kind: param.FromFlag, Name: "-v"}}}
	for _, tt := range []struct {
		fe   FrontEnd
		want int
		from string
	}{
		{FrontEnd{Protocol: param.IMAP, File: file, Env: env, Flags: flag}, 5, "command line -v"},
		{FrontEnd{Protocol: param.IMAP, File: file, Env: env}, 4, "environment LogLevel"},
		{FrontEnd{Protocol: param.IMAP, File: file}, 3, file + ":2"},
		{FrontEnd{Protocol: param.IMAP}, 1, "default"},
	} {
		inst, problems := LoadFrontEnd(tt.fe)
		if problems.Fatal() {
			t.Fatal(problems.Err(Fatal))
		}
		v := inst.Services[0].Values
		if got, from := Get(v, param.LogLevel), v.Origin(param.LogLevel.Param).String(); got != tt.want || from != tt.from {
			t.Errorf("LogLevel = %d from %s, want %d from %s", got, from, tt.want, tt.from)
		}
		if Get(inst.Daemon, param.LogLevel) != tt.want {
			t.Errorf("the daemon-wide LogLevel does not follow")
		}
	}
	inst, _ := LoadFrontEnd(FrontEnd{Protocol: param.IMAP, File: file})
	v := inst.Services[0].Values
	if got := Get(v, param.LdapUrl).String(); got != "ldap://ldap.airius.com:389/o=airius.com" {
		t.Errorf("LdapUrl from LDAPHost and BaseDN = %s", got)
	}
	if got := Get(v, param.ReplayFormat).String(); got != "%A[uid]" {
		t.Errorf("ReplayFormat from UidAttr = %s", got)
	}
	if got := Get(v, param.CanonicalVirtualDomainDelim); got != "+" {
		t.Errorf("Netscape default CanonicalVirtualDomainDelim = %q, want +", got)
	}
	if got := inst.Services[0].Listen; len(got) != 1 || got[0].Port != 143 {
		t.Errorf("Listen = %v, want ListenPort's default 143", got)
	}
}

func TestFrontEndSSLListen(t *testing.T) {
	set := func(p *param.Param, raw string) param.Setting {
		return param.Setting{Param: p, Raw: raw, Origin: param.Origin{Kind: param.FromFlag}}
	}
	inst, problems := LoadFrontEnd(FrontEnd{Protocol: param.POP, Flags: []param.Setting{
		set(param.SSLEnable.Param, "yes"), set(param.ListenPort.Param, "127.0.0.1:1110")}})
	if problems.Fatal() {
		t.Fatal(problems.Err(Fatal))
	}
	svc := inst.Services[0]
	if len(svc.Listen) != 2 || svc.Listen[1].Port != 995 {
		t.Errorf("Listen = %v, want 127.0.0.1:1110 and the POP SSL default 995", svc.Listen)
	}
	if ports := Get(svc.Values, param.SSLPorts); len(ports) != 1 || ports[0].Port != 995 {
		t.Errorf("SSLPorts = %v", ports)
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A Netscape front end with SSL listens on SSLListenPort; that is not a
// port missing from ServiceList.
func TestFrontEndSSLNoFalseWarning(t *testing.T) {
	set := func(p *param.Param, raw string) param.Setting {
		return param.Setting{Param: p, Raw: raw, Origin: param.Origin{Kind: param.FromFlag}}
	}
	_, problems := LoadFrontEnd(FrontEnd{Protocol: param.IMAP, Flags: []param.Setting{set(param.SSLEnable.Param, "yes")}})
	for _, p := range problems {
		if p.Param == "SSLPorts" {
			t.Errorf("false warning: %s", p)
		}
	}
}

// A configuration file with no setting (emptied, truncated, or caught
// between an editor's truncation and its write) is named in
// Instance.Empty, which the daemon's verdict refuses.
func TestEmptyFileReported(t *testing.T) {
	for name, text := range map[string]string{"empty": "", "comments only": "# ImapProxyAService.cfg\n\n#default:SSLEnable yes\n"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "AService.cfg"), []byte("default:ServiceList ImapProxyAService@1143\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "ImapProxyAService.cfg"), []byte(text), 0o644)
			inst, _ := Load(dir, Options{})
			if !slices.Equal(inst.Empty, []string{"ImapProxyAService.cfg"}) {
				t.Errorf("Empty = %q, want ImapProxyAService.cfg", inst.Empty)
			}
		})
	}
	t.Run("AService.cfg", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "AService.cfg"), nil, 0o644)
		if inst, _ := Load(dir, Options{}); !slices.Contains(inst.Empty, "AService.cfg") {
			t.Errorf("Empty = %q, want AService.cfg", inst.Empty)
		}
	})
	t.Run("front end", func(t *testing.T) {
		for _, name := range []string{"ImapMMP.config", "ImapProxyAService.cfg"} {
			file := filepath.Join(t.TempDir(), name)
			os.WriteFile(file, nil, 0o644)
			if inst, _ := LoadFrontEnd(FrontEnd{Protocol: param.IMAP, File: file}); !slices.Equal(inst.Empty, []string{file}) {
				t.Errorf("%s: Empty = %q, want the --config file", name, inst.Empty)
			}
		}
	})
	if inst, _ := Load("testdata/sun63", Options{}); len(inst.Empty) > 0 {
		t.Errorf("sun63: Empty = %q", inst.Empty)
	}
}
