package legacy

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// settings renders parsed settings as "Name=raw" for comparison.
func settings(c *Command) string {
	var s []string
	for _, st := range c.Settings {
		s = append(s, st.Param.Name+"="+st.Raw)
	}
	return strings.Join(s, " ")
}

// Every option of docs/reference.md §5.1 / Netscape Messaging Server 4.x Administrator's Guide, ch. 13 Table 13.4, spelled as documented.
func TestEveryOption(t *testing.T) {
	tests := []struct {
		service param.Where
		args    []string
		want    string
	}{
		{param.IMAP, []string{"-a", "down for maintenance"}, "ServerDownAlert=down for maintenance"},
		{param.IMAP, []string{"-b", "o=airius.com"}, "BaseDN=o=airius.com"},
		{param.IMAP, []string{"-ba", "Airius MMP"}, "Banner=Airius MMP"},
		{param.IMAP, []string{"-c", "1143"}, "BacksidePort=1143"},
		{param.IMAP, []string{"-cm", "certmap.conf"}, "CertmapFile=certmap.conf"},
		{param.IMAP, []string{"-d", "mmpstore"}, "StoreAdmin=mmpstore"},
		{param.IMAP, []string{"-D", "cn=Directory Manager"}, "BindDN=cn=Directory Manager"},
		{param.IMAP, []string{"-h", "ldap.airius.com:389"}, "LDAPHost=ldap.airius.com:389"},
		{param.POP, []string{"-m", "/opt/spoof.txt"}, "SpoofMessageFile=/opt/spoof.txt"},
		{param.IMAP, []string{"-ma", "mailHost,altHost"}, "MailHostAttrs=mailHost,altHost"},
		{param.IMAP, []string{"-o", "/var/log/mmp"}, "LogDir=/var/log/mmp"},
		{param.IMAP, []string{"-p", "10.0.0.5:143"}, "ListenPort=10.0.0.5:143"},
		{param.IMAP, []string{"-pre"}, "PreAuth=yes"},
		{param.IMAP, []string{"-ps", "993"}, "SSLListenPort=993"},
		{param.IMAP, []string{"-t", "4"}, "NumThreads=4"},
		{param.IMAP, []string{"-us", "(uid=%s)"}, "SearchFormat=(uid=%s)"},
		{param.IMAP, []string{"-v", "10"}, "LogLevel=10"},
		{param.IMAP, []string{"-vd", "vdmap.cfg"}, "VirtualDomainFile=vdmap.cfg"},
		{param.IMAP, []string{"-vdd", "@+"}, "VirtualDomainDelim=@+"},
		{param.IMAP, []string{"-vddc", "+"}, "CanonicalVirtualDomainDelim=+"},
		{param.IMAP, []string{"-w", "secret"}, "BindPass=secret"},
		{param.IMAP, []string{"-W", "adminpw"}, "StoreAdminPass=adminpw"},
		{param.IMAP, []string{"-x", "IMAP4 IMAP4rev1"}, "Capability=IMAP4 IMAP4rev1"},
		{param.SMTP, []string{"-p", "587", "-ba", "submit"}, "ListenPort=587 Banner=submit"},
		// -ps is one option, never -p followed by -s.
		{param.IMAP, []string{"-ps", "993", "-p", "143"}, "SSLListenPort=993 ListenPort=143"},
		// Go long options alongside.
		{param.IMAP, []string{"--Timeout", "600", "--ldapurl=ldap://h/o=x"}, "Timeout=600 LdapUrl=ldap://h/o=x"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.service, tt.args)
		if err != nil {
			t.Errorf("Parse(%q) error %v", tt.args, err)
			continue
		}
		if got := settings(c); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.args, got, tt.want)
		}
		if c.Mode != Run {
			t.Errorf("Parse(%q) mode = %v, want Run", tt.args, c.Mode)
		}
		for _, s := range c.Settings {
			if s.Origin.Kind != param.FromFlag || !strings.HasPrefix(s.Origin.Name, "-") {
				t.Errorf("Parse(%q): origin %+v, want the flag", tt.args, s.Origin)
			}
		}
	}
}

func TestSSLSixArguments(t *testing.T) {
	c, err := Parse(param.IMAP, []string{"-s", "", "cert7.db", "key3.db", "", "all", "Server-Cert", "-p", "143"})
	if err != nil {
		t.Fatal(err)
	}
	want := "SSLEnable=yes SSLSecmodFile= SSLCertFile=cert7.db SSLKeyFile=key3.db SSLKeyPasswd= SSLCipherSpecs=all SSLCertNicknames=Server-Cert ListenPort=143"
	if got := settings(c); got != want {
		t.Errorf("-s = %s,\nwant %s", got, want)
	}
	// The sixth argument names one certificate ("Name of this server's
	// SSL server certificate", Table 13.5), blanks and all.
	c, err = Parse(param.IMAP, []string{"-s", "", "cert7.db", "key3.db", "", "all", "Siroe.com Server-Cert"})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range c.Settings {
		if st.Param == param.SSLCertNicknames.Param {
			if n, err := param.SSLCertNicknames.Parse(st.Raw); err != nil || len(n) != 1 || n[0] != "Siroe.com Server-Cert" {
				t.Errorf("-s nickname with a blank: %q parses as %q, %v", st.Raw, n, err)
			}
		}
	}
	_, err = Parse(param.IMAP, []string{"-s", "", "cert7.db", "key3.db"})
	if err == nil || !strings.Contains(err.Error(), "needs six arguments") {
		t.Errorf("-s with three arguments: error %v, want 'needs six arguments'", err)
	}
}

func TestDashH(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-h", "-p", "143"}, {"-p", "143", "-h"}} {
		c, err := Parse(param.IMAP, args)
		if err != nil || c.Mode != List {
			t.Errorf("Parse(%q) = mode %v, %v; want List", args, c.Mode, err)
		}
	}
	c, err := Parse(param.IMAP, []string{"-h", "ldap:389"})
	if err != nil || c.Mode != Run || settings(c) != "LDAPHost=ldap:389" {
		t.Errorf("Parse(-h ldap:389) = %+v, %v; want LDAPHost set and Run", c, err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		service param.Where
		args    []string
		want    string
	}{
		{param.IMAP, []string{"-vdx", "x"}, "-vdx: unknown option (did you mean -vd?)"},
		{param.IMAP, []string{"-p"}, "-p: needs an argument"},
		{param.IMAP, []string{"-p", "99999"}, "-p: ListenPort:"},
		{param.IMAP, []string{"stray"}, `stray: unexpected argument`},
		{param.IMAP, []string{"-p", "143", "install"}, `install: unexpected argument`},
		{param.IMAP, []string{"--Tiemout", "5"}, "--Tiemout: unknown option (did you mean --Timeout?)"},
		{param.IMAP, []string{"--ServiceList", "x"}, "--ServiceList: ServiceList does not apply to ImapProxy"},
		{param.POP, []string{"--VDomain", "x.com"}, "--VDomain: VDomain does not apply to PopProxy"},
		{param.IMAP, []string{"-v", "eleven"}, "-v: LogLevel:"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.service, tt.args)
		var le *Error
		if err == nil || !errors.As(err, &le) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %v, want prefix %q", tt.args, err, tt.want)
		}
	}
}

// A script may pass one option set to both programs, as the environment
// of an ImapMMP and a PopMMP can hold both programs' variables: an option
// of another front end is ignored with a warning, and printed by install
// only by the program it belongs to.
func TestOtherProgramsOptions(t *testing.T) {
	tests := []struct {
		service  param.Where
		args     []string
		settings string
		warnings string
	}{
		{param.IMAP, []string{"-p", "143", "-m", "/opt/spoof.txt"}, "ListenPort=143",
			"-m: SpoofMessageFile is an option of PopProxy, not of ImapProxy; ignored"},
		{param.POP, []string{"-x", "IMAP4 IMAP4rev1", "-a", "down", "-p", "110"}, "ListenPort=110",
			"-x: Capability is an option of ImapProxy, not of PopProxy; ignored|-a: ServerDownAlert is an option of ImapProxy, not of PopProxy; ignored"},
		{param.SMTP, []string{"-pre", "-c", "1143"}, "",
			"-pre: PreAuth is an option of ImapProxy and PopProxy, not of SmtpProxy; ignored|-c: BacksidePort is an option of ImapProxy and PopProxy, not of SmtpProxy; ignored"},
		{param.IMAP, []string{"install", "--SmtpRelays", "relay:25", "-t", "2"}, "NumThreads=2",
			"--SmtpRelays: SmtpRelays is an option of SmtpProxy, not of ImapProxy; ignored"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.service, tt.args)
		if err != nil {
			t.Errorf("Parse(%q) error %v", tt.args, err)
			continue
		}
		if got := settings(c); got != tt.settings {
			t.Errorf("Parse(%q) = %s, want %s", tt.args, got, tt.settings)
		}
		if got := strings.Join(c.Warnings, "|"); got != tt.warnings {
			t.Errorf("Parse(%q) warnings %q, want %q", tt.args, got, tt.warnings)
		}
	}
}

func TestInstallOutput(t *testing.T) {
	c, err := Parse(param.IMAP, []string{"install", "-h", "ldap.airius.com:389", "-b", "o=airius.com", "-p", "143", "-t", "2",
		"-D", "uid=mmp, ou=People, o=airius.com", "-pre", "-us", "(uid=%s)"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != Install {
		t.Fatalf("mode %v, want Install", c.Mode)
	}
	var b bytes.Buffer
	if err := WriteInstall(&b, c); err != nil {
		t.Fatal(err)
	}
	want := `LDAPHost=ldap.airius.com:389; export LDAPHost
BaseDN=o=airius.com; export BaseDN
ListenPort=143; export ListenPort
NumThreads=2; export NumThreads
BindDN='uid=mmp, ou=People, o=airius.com'; export BindDN
PreAuth=yes; export PreAuth
UidSearch='(uid=%s)'; export UidSearch
`
	if b.String() != want {
		t.Errorf("install output:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestNTInstanceIgnored(t *testing.T) {
	c, err := Parse(param.POP, []string{"-n", "mmp1", "-p", "110"})
	if err != nil || len(c.Warnings) != 1 || settings(c) != "ListenPort=110" {
		t.Errorf("Parse(-n) = %+v, %v", c, err)
	}
}

func TestFromEnv(t *testing.T) {
	env := []string{"PATH=/usr/bin", "LDAPHost=ldap:389", "UidSearch=uid=%s", "bindpassword=pw", "Timeout=5",
		"SpoofMessageFile=/x", "HOME=/root", "SSLCertNickname=Server-Cert", "TIMEOUT=5m", "hostedDomains=maybe"}
	s, errs := FromEnv(param.IMAP, env)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := ""
	for _, st := range s {
		got += st.Param.Name + "<-" + st.Origin.Name + " "
	}
	// Timeout has no Netscape variable but is read by its Sun name, as
	// every parameter a command-line option can set (Netscape Messaging Server 4.x Administrator's Guide, ch. 13: "Any
	// configuration parameter can be set as either an environment
	// variable or command-line option"), in its own spelling only: TIMEOUT
	// and hostedDomains belong to other programs. SpoofMessageFile is POP
	// only.
	want := "BindPass<-bindpassword SearchFormat<-UidSearch Timeout<-Timeout SSLCertNicknames<-SSLCertNickname LDAPHost<-LDAPHost "
	if got != want {
		t.Errorf("FromEnv = %s, want %s", got, want)
	}
	_, errs = FromEnv(param.IMAP, []string{"LogLevel=loud"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "environment LogLevel") {
		t.Errorf("FromEnv(bad) errors = %v", errs)
	}
}

// What install prints is what the environment reader takes: the ImapMMP
// script exports the pasted lines and the front end must honour each one,
// Sun parameters (--HostedDomains) included.
func TestInstallThroughEnvironment(t *testing.T) {
	c, err := Parse(param.IMAP, []string{"install", "-h", "ldap.airius.com:389", "-b", "o=airius.com", "--HostedDomains", "no",
		"--Timeout=900", "-s", "", "cert7.db", "key3.db", "", "all", "Server-Cert", "--SSLCertPEM", "/etc/mmp.crt", "-us", "(uid=%s)"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteInstall(&b, c); err != nil {
		t.Fatal(err)
	}
	f, errs := cfgfmt.ParseEnv("ImapMMP.config", b.Bytes())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var environ []string
	for _, v := range f.Vars() {
		environ = append(environ, v.Var+"="+v.Value)
	}
	got, errs := FromEnv(param.IMAP, environ)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	read := map[*param.Param]string{}
	for _, s := range got {
		read[s.Param] = s.Raw
	}
	for _, s := range c.Settings {
		if v, ok := read[s.Param]; !ok || v != s.Raw {
			t.Errorf("install printed %s=%q; the environment reader took %q (read: %v)", s.Param.EnvName(), s.Raw, v, ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"install -h ldap:389 -p 143", "-s a b c d e f", "-h", "--Timeout=5 -pre", "-ps 993 -vddc +"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := Parse(param.IMAP, strings.Fields(line))
		if err != nil {
			return
		}
		for _, s := range c.Settings {
			if _, err := s.Param.Check(s.Raw); err != nil {
				t.Errorf("accepted a value its parameter refuses: %s=%q", s.Param.Name, s.Raw)
			}
		}
	})
}
