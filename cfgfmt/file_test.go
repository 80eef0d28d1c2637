package cfgfmt

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the testdata/golden/*.parsed files")

// goldenSyntax tells which parser a file under testdata/golden is for.
func goldenSyntax(name string) string {
	switch {
	case strings.HasSuffix(name, ".config"):
		return "env"
	case strings.Contains(name, "sslpassword"):
		return "password"
	case strings.Contains(name, "vdmap"):
		return "vdmap"
	case strings.Contains(name, "certmap"):
		return "certmap"
	case strings.HasSuffix(name, ".cfg"):
		return ""
	}
	return "skip"
}

// goldenFiles returns the base names of the golden inputs of one syntax.
func goldenFiles(t testing.TB, syntax string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); !strings.HasSuffix(n, ".parsed") && goldenSyntax(n) == syntax {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no golden files for syntax %q", syntax)
	}
	return out
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkParsed compares a dump of what was parsed with name.parsed, or
// rewrites that file with -update.
func checkParsed(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".parsed")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("parse of %s differs from %s (go test -update rewrites it):\n%s", name, path, lineDiff(string(want), got))
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant %s\ngot  %s", i+1, a, b)
		}
	}
	return "(no difference)"
}

func dumpFile(f *File) string {
	var b strings.Builder
	for _, l := range f.Lines {
		fmt.Fprintf(&b, "%d %s eol=%q", l.Num, l.Kind, l.EOL)
		switch {
		case l.Kind == Setting || l.Commented:
			if l.Commented {
				b.WriteString(" commented")
			}
			fmt.Fprintf(&b, " prefix=%q name=%q value=%q", l.Prefix, l.Name, l.Value)
			if l.Quoted {
				b.WriteString(" quoted")
			}
		case l.Kind == Header:
			fmt.Fprintf(&b, " keyword=%q label=%q arg=%q", l.Keyword, l.Label, l.Arg)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestFileGolden(t *testing.T) {
	for _, syntax := range []string{"", "vdmap", "certmap"} {
		for _, name := range goldenFiles(t, syntax) {
			t.Run(name, func(t *testing.T) {
				data := readGolden(t, name)
				f, errs := Parse(name, data, syntax)
				for _, err := range errs {
					t.Errorf("Parse: %v", err)
				}
				if got := f.Bytes(); !bytes.Equal(got, data) {
					t.Fatalf("Bytes() differs from the input:\n%q\nwant\n%q", got, data)
				}
				for i, l := range f.Lines {
					if l.Num != i+1 {
						t.Errorf("line %d has Num %d", i+1, l.Num)
					}
					if l.Kind == Bad {
						t.Errorf("line %d is Bad: %q", l.Num, l.Raw)
					}
				}
				checkParsed(t, name, dumpFile(f))
			})
		}
	}
}

func TestLookup(t *testing.T) {
	f, errs := Parse("site-ImapProxyAService.cfg", readGolden(t, "site-ImapProxyAService.cfg"), "")
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		prefix, name string
		num          int // 0: want nil
		value        string
		quoted       bool
	}{
		{"default", "LogLevel", 26, "5", false}, // duplicate: the last one wins
		{"DEFAULT", "loglevel", 26, "5", false}, // case-insensitive
		{"default", "LdapUrl", 10, "ldap://ldap1.siroe.com:389 ldap2.siroe.com:389/o=internet", true},
		{"default", "BindDN", 11, "cn=Directory Manager", true},
		{"default", "Banner", 31, "", true},
		{"default", "ConnLimits", 48, "0.0.0.0|0.0.0.0:20 10.0.0.0|255.0.0.0:200", false},
		{"default", "SSLEnable", 52, "yes", false},
		{"default", "SSLCertPrefix", 55, "", true},
		{"partner", "LogLevel", 70, "1", false}, // written Partner:LogLevel
		{"partner", "BindPass", 67, "pa ss ", true},
		{"partner", "Timeout", 68, "3600", false},
		{"default", "SSLBacksidePort", 0, "", false}, // only commented out
		{"default", "VirtualDomainFile", 0, "", false},
		{"ssl", "LogLevel", 0, "", false},
	}
	for _, tt := range tests {
		l := f.Lookup(tt.prefix, tt.name)
		if tt.num == 0 {
			if l != nil {
				t.Errorf("Lookup(%q, %q) = line %d, want nil", tt.prefix, tt.name, l.Num)
			}
			continue
		}
		if l == nil {
			t.Errorf("Lookup(%q, %q) = nil, want line %d", tt.prefix, tt.name, tt.num)
			continue
		}
		if l.Num != tt.num || l.Value != tt.value || l.Quoted != tt.quoted {
			t.Errorf("Lookup(%q, %q) = line %d value %q quoted %v, want line %d value %q quoted %v",
				tt.prefix, tt.name, l.Num, l.Value, l.Quoted, tt.num, tt.value, tt.quoted)
		}
		if l.EOL != "\r\n" {
			t.Errorf("Lookup(%q, %q).EOL = %q, want CRLF", tt.prefix, tt.name, l.EOL)
		}
	}
	if n := len(f.Settings()); n != 47 {
		t.Errorf("len(Settings()) = %d, want 47", n)
	}
}

// lineTexts returns each line with its end-of-line, for diffs.
func lineTexts(f *File) []string {
	out := make([]string, len(f.Lines))
	for i, l := range f.Lines {
		out[i] = l.Raw + l.EOL
	}
	return out
}

// editDiff checks that after differs from before only by line num (1-based)
// being rewritten (inserted false) or inserted (inserted true). When a line
// is appended after a last line without newline, that line gains a line
// end, which is the one other change allowed (eolFix).
func editDiff(t *testing.T, before, after []string, num int, inserted bool) {
	t.Helper()
	i := num - 1
	if !inserted {
		if len(after) != len(before) {
			t.Fatalf("rewrite changed the number of lines from %d to %d", len(before), len(after))
		}
		for j := range before {
			if j != i && before[j] != after[j] {
				t.Errorf("line %d changed from %q to %q, want only line %d changed", j+1, before[j], after[j], num)
			}
		}
		return
	}
	if len(after) != len(before)+1 {
		t.Fatalf("insert changed the number of lines from %d to %d", len(before), len(after))
	}
	rest := append(append([]string{}, after[:i]...), after[i+1:]...)
	for j := range before {
		if before[j] == rest[j] {
			continue
		}
		if j == i-1 && j == len(before)-1 && !strings.HasSuffix(before[j], "\n") && strings.TrimRight(rest[j], "\r\n") == before[j] {
			continue // eolFix: the old last line got a line end
		}
		t.Errorf("line %d changed from %q to %q, want only line %d inserted", j+1, before[j], rest[j], num)
	}
}

func TestSetEditsOneLine(t *testing.T) {
	tests := []struct {
		file                string
		prefix, name, value string
		num                 int    // line written
		raw                 string // its new Raw
		eol                 string // its EOL
		inserted            bool
	}{
		// rewrite
		{"spec-AService.cfg", "default", "LogLevel", "3", 7, "default:LogLevel 3", "\n", false},
		{"spec-ImapProxyAService.cfg", "default", "BindDN", "cn=mmp,o=internet", 4, `default:BindDN "cn=mmp,o=internet"`, "\n", false},
		{"spec-SmtpProxyAService.cfg", "default", "SmtpRelays", "relay1:25 relay2", 4, "default:SmtpRelays relay1:25 relay2", "\n", false},
		{"spec-PopProxyAService.cfg", "default", "BindPass", "", 3, `default:BindPass ""`, "\n", false},
		{"spec-PopProxyAService.cfg", "default", "BindPass", " lead", 3, `default:BindPass " lead"`, "\n", false},
		{"spec-vdmap-s6.cfg", "varrius", "BindPass", "", 11, `varrius:BindPass ""`, "\n", false},
		{"spec-vdmap-n4.cfg", "AIRIUS", "vdomain", "airius.net", 2, "airius:VDomain airius.net", "\n", false},
		{"spec-certmap.conf", "default", "DNComps", "ou, o", 2, "default:DNComps ou, o", "\n", false},
		{"spec-certmap.conf", "siroeca", "FilterComps", "", 6, "siroeca:FilterComps", "\n", false},
		{"site-ImapProxyAService.cfg", "default", "LogLevel", "1", 26, "default:LogLevel 1", "\r\n", false},
		{"site-ImapProxyAService.cfg", "default", "LdapUrl", "ldap://ldap3.siroe.com/o=internet", 10, "default:LdapUrl\t\t\"ldap://ldap3.siroe.com/o=internet\"", "\r\n", false},
		{"site-ImapProxyAService.cfg", "default", "BindPass", "two words", 12, "default:BindPass\ttwo words", "\r\n", false},
		{"site-ImapProxyAService.cfg", "PARTNER", "loglevel", "3", 70, "Partner:LogLevel 3", "\r\n", false},
		{"site-ImapProxyAService.cfg", "partner", "Timeout", "7200", 68, "partner:Timeout   7200", "\r\n", false},
		{"site-ImapProxyAService.cfg", "default", "Banner", "Siroe IMAP", 31, `default:Banner "Siroe IMAP"`, "\r\n", false},
		{"site-AService.cfg", "default", "LogLevel", "7", 9, "default:LogLevel 7", "", false},
		{"site-AService.cfg", "default", "BeTheUser", "nobody", 5, "default:BeTheUser nobody", "\n", false},
		{"site-vdmap.cfg", "airius", "VDomain", "airius.net", 24, "airius:VDomain airius.net", "\n", false},
		{"site-vdmap.cfg", "sesta", "UidSearch", "uid=%s", 31, "sesta:UidSearch\t\"uid=%s\"", "\n", false},
		{"site-certmap.conf", "partnerca", "verifycert", "off", 49, "partnerca:verifycert    off", "\n", false},
		// the Sun guide's "default: EhloKeywords TURN" keeps its blank
		{"seed-SmtpProxyAService.cfg", "default", "EhloKeywords", "TURN ETRN", 6, "default: EhloKeywords TURN ETRN", "\n", false},
		{"seed-SmtpProxyAService.cfg", "default", "FailoverTimeout", "20", 7, "default:\tFailoverTimeout\t20", "\n", false},
		{"seed-vdmap.cfg", "siroe", "DefaultDomain", "siroe.net", 3, "siroe: DefaultDomain siroe.net", "\n", false},
		// uncomment
		{"spec-ImapProxyAService.cfg", "default", "SSLEnable", "yes", 29, "default:SSLEnable yes", "\n", false},
		{"spec-ImapProxyAService.cfg", "default", "SSLCertPrefix", "", 32, `default:SSLCertPrefix ""`, "\n", false},
		{"spec-ImapProxyAService.cfg", "default", "SSLPorts", "993,995", 30, "default:SSLPorts 993,995", "\n", false},
		{"site-ImapProxyAService.cfg", "default", "SSLBacksidePort", "993", 61, "default:SSLBacksidePort 993", "\r\n", false},
		{"site-ImapProxyAService.cfg", "default", "VirtualDomainFile", "/etc/vdmap.cfg", 19, "default:VirtualDomainFile /etc/vdmap.cfg", "\r\n", false},
		{"site-vdmap.cfg", "siroe", "CertMap", "/etc/certmap.conf", 12, "siroe:CertMap /etc/certmap.conf", "\n", false},
		{"site-certmap.conf", "default", "verifycert", "on", 32, "default:verifycert     on", "\n", false},
		{"site-certmap.conf", "default", "CmapLdapAttr", "certSubjectDN", 33, "default:CmapLdapAttr   certSubjectDN", "\n", false},
		// insert
		{"spec-PopProxyAService.cfg", "default", "LogLevel", "2", 17, "default:LogLevel 2", "\n", true},
		{"spec-vdmap-s6.cfg", "siroe", "LdapUrl", "ldap://ldap.siroe.com/o=internet", 6, "siroe:LdapUrl ldap://ldap.siroe.com/o=internet", "\n", true},
		{"spec-vdmap-n4.cfg", "AIRIUS", "PreAuth", "yes", 5, "airius:PreAuth yes", "\n", true},
		{"spec-certmap.conf", "siroeca", "CmapLdapAttr", "certSubjectDN", 8, "siroeca:CmapLdapAttr certSubjectDN", "\n", true},
		{"spec-certmap.conf", "default", "verifycert", "on", 4, "default:verifycert on", "\n", true},
		{"site-ImapProxyAService.cfg", "ssl", "Timeout", "600", 71, "ssl:Timeout 600", "\r\n", true},
		{"site-AService.cfg", "default", "Timeout", "10", 10, "default:Timeout 10", "\n", true},
		{"site-vdmap.cfg", "varrius", "AuthService", "no", 21, "varrius:AuthService no", "\n", true},
		{"site-vdmap.cfg", "sesta", "PreAuth", "yes", 33, "sesta:PreAuth yes", "\n", true},
		{"site-certmap.conf", "varrius", "verifycert", "on", 56, "varrius:verifycert on", "\n", true},
		{"site-certmap.conf", "siroeca", "CmapLdapAttr", "mail", 44, "siroeca:CmapLdapAttr mail", "\n", true},
		{"seed-vdmap.cfg", "siroe", "PreAuth", "yes", 5, "siroe:PreAuth yes", "\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.prefix+":"+tt.name, func(t *testing.T) {
			syntax := goldenSyntax(tt.file)
			f, errs := Parse(tt.file, readGolden(t, tt.file), syntax)
			if errs != nil {
				t.Fatal(errs)
			}
			before := lineTexts(f)
			l, err := f.Set(tt.prefix, tt.name, tt.value)
			if err != nil {
				t.Fatalf("Set(%q, %q, %q) = %v", tt.prefix, tt.name, tt.value, err)
			}
			if l.Num != tt.num || l.Raw != tt.raw || l.EOL != tt.eol {
				t.Errorf("Set(%q, %q, %q) wrote line %d %q eol %q, want line %d %q eol %q",
					tt.prefix, tt.name, tt.value, l.Num, l.Raw, l.EOL, tt.num, tt.raw, tt.eol)
			}
			if f.Lines[l.Num-1] != l {
				t.Errorf("returned line is not f.Lines[%d]", l.Num-1)
			}
			editDiff(t, before, lineTexts(f), tt.num, tt.inserted)
			for i, l := range f.Lines {
				if l.Num != i+1 {
					t.Fatalf("after Set, f.Lines[%d].Num = %d", i, l.Num)
				}
			}
			// Read back: the value is found, nothing else broke.
			g, errs := Parse(tt.file, f.Bytes(), syntax)
			if errs != nil {
				t.Fatalf("re-Parse after Set: %v", errs)
			}
			got := g.Lookup(tt.prefix, tt.name)
			if got == nil || got.Value != tt.value || got.Num != tt.num {
				t.Fatalf("re-Parse Lookup(%q, %q) = %+v, want line %d value %q", tt.prefix, tt.name, got, tt.num, tt.value)
			}
			if !reflect.DeepEqual(got, l) {
				t.Errorf("line returned by Set = %+v, re-Parse gives %+v", l, got)
			}
			if strings.Contains(string(f.Bytes()), "\r\n") != strings.Contains(string(readGolden(t, tt.file)), "\r\n") {
				t.Errorf("line ends changed style")
			}
		})
	}
}

func TestSetCRLFStaysCRLF(t *testing.T) {
	f, _ := Parse("site-ImapProxyAService.cfg", readGolden(t, "site-ImapProxyAService.cfg"), "")
	for _, kv := range [][3]string{
		{"default", "LogLevel", "3"},          // rewrite
		{"default", "SSLBacksidePort", "993"}, // uncomment
		{"default", "NewParam", "x"},          // append
		{"partner", "NewParam", ""},           // append, quoted empty
	} {
		if _, err := f.Set(kv[0], kv[1], kv[2]); err != nil {
			t.Fatal(err)
		}
	}
	b := f.Bytes()
	if n := bytes.Count(b, []byte("\n")); n != bytes.Count(b, []byte("\r\n")) {
		t.Errorf("after edits, %d LF but %d CRLF", n, bytes.Count(b, []byte("\r\n")))
	}
	if !bytes.HasSuffix(b, []byte("default:NewParam x\r\npartner:NewParam \"\"\r\n")) {
		t.Errorf("appended lines: file ends %q", b[len(b)-60:])
	}
}

func TestSetUnchangedValue(t *testing.T) {
	data := readGolden(t, "spec-certmap.conf")
	f, _ := Parse("certmap.conf", data, "certmap")
	for _, kv := range [][3]string{{"default", "DNComps", ""}, {"siroeca", "verifycert", "off"}} {
		if _, err := f.Set(kv[0], kv[1], kv[2]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(f.Bytes(), data) {
		t.Errorf("Set to the current value changed the file:\n%s", f.Bytes())
	}
}

func TestSetBOMAndOddLines(t *testing.T) {
	tests := []struct {
		in, prefix, name, value, want string
	}{
		{"\uFEFFdefault:LogLevel 1\n", "default", "LogLevel", "2", "\uFEFFdefault:LogLevel 2\n"},
		{"\uFEFF#default:LogLevel 1\n", "default", "LogLevel", "2", "\uFEFFdefault:LogLevel 2\n"},
		{"  # default:LogLevel\t1\n", "default", "LogLevel", "2", "  default:LogLevel\t2\n"},
		{"#default:DNComps\n", "default", "DNComps", "cn", "default:DNComps cn\n"},
		{"default:LogLevel 1   \n", "default", "LogLevel", "2", "default:LogLevel 2\n"},
		{"default:X \"a\"\n", "default", "X", `b"c`, "default:X b\"c\n"},
		{"", "default", "X", "1", "default:X 1\n"},
		{"# only a comment", "default", "X", "1", "# only a comment\ndefault:X 1\n"},
		{"a:b 1\r\nc:d 2\r\n", "a", "e", "3", "a:b 1\r\nc:d 2\r\na:e 3\r\n"},
		{"a:b 1\r\nc:d 2\n", "a", "e", "3", "a:b 1\r\nc:d 2\na:e 3\n"}, // tie: LF
		{"# stray CR at the end\r", "a", "b", "1", "# stray CR at the end\r\r\na:b 1\n"},
		{"a:b 1\n", "a", "#b", "2", "a:b 1\na:#b 2\n"}, // only a line-leading '#' matters
	}
	for _, tt := range tests {
		f, errs := Parse("t.cfg", []byte(tt.in), "")
		if errs != nil {
			t.Fatalf("Parse(%q): %v", tt.in, errs)
		}
		if _, err := f.Set(tt.prefix, tt.name, tt.value); err != nil {
			t.Errorf("Set on %q: %v", tt.in, err)
			continue
		}
		if got := string(f.Bytes()); got != tt.want {
			t.Errorf("Set(%q, %q, %q) on %q gives %q, want %q", tt.prefix, tt.name, tt.value, tt.in, got, tt.want)
		}
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct {
		file, syntax, in    string
		prefix, name, value string
		want                string
	}{
		{"t.cfg", "", "default:BindDN x\n", "default", "BindDN", "a\nb", "t.cfg: BindDN: value contains a line break"},
		{"t.cfg", "", "default:BindDN x\n", "default", "BindDN", "a\rb", "t.cfg: BindDN: value contains a line break"},
		{"t.cfg", "", "default:BindDN x\n", "default", "BindDN", `"a" b`, `t.cfg: BindDN: value must be quoted but contains '"', which cannot be escaped`},
		{"t.cfg", "", "default:BindDN x\n", "default", "BindDN", ` a"b`, `t.cfg: BindDN: value must be quoted but contains '"', which cannot be escaped`},
		{"t.cfg", "", "", "", "BindDN", "x", "t.cfg: BindDN: empty section"},
		{"t.cfg", "", "", "def ault", "BindDN", "x", `t.cfg: BindDN: section "def ault" contains white space`},
		{"t.cfg", "", "", "#default", "BindDN", "x", `t.cfg: BindDN: section "#default" starts with '#'`},
		{"t.cfg", "", "", "default", "Bind:DN", "x", `t.cfg: Bind:DN: name "Bind:DN" contains ':'`},
		{"t.cfg", "", "", "default", "", "x", `t.cfg: empty name`},
		{"vdmap", "vdmap", "vdmap siroe 192.168.10.5\n", "varrius", "PreAuth", "yes", `vdmap: PreAuth: no "varrius" block: add its "vdmap varrius IPADDR" line first`},
		{"certmap.conf", "certmap", "certmap default default\n", "ca", "DNComps", "", `certmap.conf: DNComps: no "ca" block: add its "certmap ca ISSUER-DN" line first`},
	}
	for _, tt := range tests {
		f, _ := Parse(tt.file, []byte(tt.in), tt.syntax)
		l, err := f.Set(tt.prefix, tt.name, tt.value)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Set(%q, %q, %q) = %v, %v; want error %q", tt.prefix, tt.name, tt.value, l, err, tt.want)
		}
		if got := string(f.Bytes()); got != tt.in {
			t.Errorf("failed Set changed the file to %q", got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		file, syntax, in string
		want             []string
	}{
		{"t.cfg", "", "LogLevel 5\n", []string{`t.cfg:1: expected "section:Name value"`}},
		{"t.cfg", "", "# ok\n\ndefault:BindDN \"cn=x\n", []string{`t.cfg:3: BindDN: unterminated quoted value`}},
		{"t.cfg", "", `default:BindDN "cn=x" y`, []string{`t.cfg:1: BindDN: unexpected text after closing quote`}},
		{"t.cfg", "", `default:BindDN "cn=x""y"`, []string{`t.cfg:1: BindDN: unexpected text after closing quote`}},
		{"t.cfg", "", ":LogLevel 5\n", []string{`t.cfg:1: missing section or block name before ':'`}},
		{"t.cfg", "", "default: \t\n", []string{`t.cfg:1: missing name after "default:"`}},
		{"t.cfg", "", "default:\n", []string{`t.cfg:1: missing name after "default:"`}},
		{"t.cfg", "", "default: BindPass:s3cret\n", []string{`t.cfg:1: expected white space after name "BindPass", found ':'`}},
		{"t.cfg", "", "default: EhloKeywords \"TURN\n", []string{`t.cfg:1: EhloKeywords: unterminated quoted value`}},
		{"t.cfg", "", "default:LogLevel:5\n", []string{`t.cfg:1: expected white space after name "LogLevel", found ':'`}},
		{"t.cfg", "", "default:BindPass:s3cret\n", []string{`t.cfg:1: expected white space after name "BindPass", found ':'`}},
		{"t.cfg", "", "default:LogLevel 5\rdefault:X 1\n", []string{`t.cfg:1: stray carriage return (CR not followed by LF)`}},
		{"t.cfg", "", "default:LogLevel 5\r", []string{`t.cfg:1: stray carriage return (CR not followed by LF)`}},
		{"t.cfg", "", "vdmap siroe 1.2.3.4\n", []string{`t.cfg:1: expected "section:Name value"`}},
		{"t.cfg", "", "default LogLevel 5\r\ndefault:A 1\r\n=x\r\ndefault:B \"\r\n", []string{
			`t.cfg:1: expected "section:Name value"`,
			`t.cfg:3: expected "section:Name value"`,
			`t.cfg:4: B: unterminated quoted value`,
		}},
		{"vdmap.cfg", "vdmap", "vdmap siroe\n", []string{`vdmap.cfg:1: expected "vdmap NAME IPADDR"`}},
		{"vdmap.cfg", "vdmap", "VDMAP\n", []string{`vdmap.cfg:1: expected "vdmap NAME IPADDR"`}},
		{"vdmap.cfg", "vdmap", "vdmap a:b 1.2.3.4\n", []string{`vdmap.cfg:1: block name "a:b" must not contain ':'`}},
		{"vdmap.cfg", "vdmap", "vdmap #a 1.2.3.4\n", []string{`vdmap.cfg:1: block name "#a" must not start with '#'`}},
		{"vdmap.cfg", "vdmap", "siroe.com 1.2.3.4\n", []string{`vdmap.cfg:1: expected "NAME:Property value" or "vdmap NAME IPADDR"`}},
		{"vdmap.cfg", "vdmap", "siroe:PreAuth yes\nvdmap siroe 1.2.3.4\n", []string{
			`vdmap.cfg:1: PreAuth: block "siroe" is not declared above (expected "vdmap siroe IPADDR" first)`,
		}},
		{"vdmap.cfg", "vdmap", "vdmap a 1.1.1.1\nvdmap A 2.2.2.2\n", []string{`vdmap.cfg:2: block "A" already declared on line 1`}},
		{"certmap.conf", "certmap", "certmap default\n", []string{`certmap.conf:1: expected "certmap NAME ISSUER-DN"`}},
		{"certmap.conf", "certmap", "certmap default default\nca:DNComps\n", []string{
			`certmap.conf:2: DNComps: block "ca" is not declared above (expected "certmap ca ISSUER-DN" first)`,
		}},
		{"certmap.conf", "certmap", "default:DNComps\n", []string{
			`certmap.conf:1: DNComps: block "default" is not declared above (expected "certmap default ISSUER-DN" first)`,
		}},
	}
	for _, tt := range tests {
		f, errs := Parse(tt.file, []byte(tt.in), tt.syntax)
		var got []string
		for _, err := range errs {
			got = append(got, err.Error())
			var e *Error
			if !errors.As(err, &e) || e.File != tt.file || e.Line < 1 {
				t.Errorf("Parse(%q): error %v is not an *Error with file and line", tt.in, err)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) errors:\n%s\nwant:\n%s", tt.in, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
		if !bytes.Equal(f.Bytes(), []byte(tt.in)) {
			t.Errorf("Parse(%q).Bytes() = %q", tt.in, f.Bytes())
		}
	}
}

func TestParseBlockErrorKinds(t *testing.T) {
	_, errs := Parse("vdmap", []byte("x:PreAuth yes\nvdmap a 1.1.1.1\nvdmap a 2.2.2.2\n"), "vdmap")
	if len(errs) != 2 || !errors.Is(errs[0], ErrUndeclaredBlock) || !errors.Is(errs[1], ErrDuplicateBlock) {
		t.Errorf("errors = %v, want ErrUndeclaredBlock then ErrDuplicateBlock", errs)
	}
	if errors.Is(errs[0], ErrDuplicateBlock) {
		t.Errorf("undeclared-block error also matches ErrDuplicateBlock")
	}
}

func TestBlockNamesFoldLikeLookup(t *testing.T) {
	// 'ſ' (long s) and 'K' (Kelvin sign) fold to 's' and 'k' for EqualFold,
	// which Lookup and Set use; the block check must agree with them.
	_, errs := Parse("vdmap", []byte("vdmap \u017f\u212a 1.2.3.4\nsk:PreAuth yes\nvdmap SK 5.6.7.8\n"), "vdmap")
	if len(errs) != 1 || !errors.Is(errs[0], ErrDuplicateBlock) {
		t.Errorf("errors = %v, want one ErrDuplicateBlock", errs)
	}
}

func TestParseLineKinds(t *testing.T) {
	tests := []struct {
		in   string
		want Line
	}{
		{"", Line{}}, // no line at all, checked below
		{" \t", Line{Kind: Blank}},
		{"  # x", Line{Kind: Comment}},
		{"# Note: see manual", Line{Kind: Comment}},
		{"#default:SSLEnable yes", Line{Kind: Comment, Commented: true, Prefix: "default", Name: "SSLEnable", Value: "yes"}},
		{"#  default:SSLCertPrefix \"\"", Line{Kind: Comment, Commented: true, Prefix: "default", Name: "SSLCertPrefix", Quoted: true}},
		{"#default:X \"open", Line{Kind: Comment}}, // a broken setting is just a comment
		{"default:DNComps", Line{Kind: Setting, Prefix: "default", Name: "DNComps"}},
		{"default:DNComps \t ", Line{Kind: Setting, Prefix: "default", Name: "DNComps"}},
		{"\tdefault:A\t b  c \t", Line{Kind: Setting, Prefix: "default", Name: "A", Value: "b  c"}},
		{`default:A " b "  `, Line{Kind: Setting, Prefix: "default", Name: "A", Value: " b ", Quoted: true}},
		{`default:A ""`, Line{Kind: Setting, Prefix: "default", Name: "A", Quoted: true}},
		{`default:A b "c"`, Line{Kind: Setting, Prefix: "default", Name: "A", Value: `b "c"`}},
		{`default:A b # not a comment`, Line{Kind: Setting, Prefix: "default", Name: "A", Value: "b # not a comment"}},
		{"\uFEFFdefault:A b", Line{Kind: Setting, Prefix: "default", Name: "A", Value: "b"}},
		// Blanks after the colon, as in the Sun guide's "default: EhloKeywords TURN".
		{"default: EhloKeywords TURN", Line{Kind: Setting, Prefix: "default", Name: "EhloKeywords", Value: "TURN"}},
		{" default:\t EhloKeywords\t\"TURN\" ", Line{Kind: Setting, Prefix: "default", Name: "EhloKeywords", Value: "TURN", Quoted: true}},
		{"default: DNComps", Line{Kind: Setting, Prefix: "default", Name: "DNComps"}},
		// In a comment only the compact form is a commented-out setting:
		// "# Note: see the manual" is prose.
		{"#default: EhloKeywords TURN", Line{Kind: Comment}},
	}
	for _, tt := range tests {
		f, errs := Parse("t.cfg", []byte(tt.in), "")
		if errs != nil {
			t.Errorf("Parse(%q): %v", tt.in, errs)
			continue
		}
		if tt.in == "" {
			if len(f.Lines) != 0 {
				t.Errorf("Parse(\"\") has %d lines", len(f.Lines))
			}
			continue
		}
		l := f.Lines[0]
		got := Line{Kind: l.Kind, Commented: l.Commented, Prefix: l.Prefix, Name: l.Name, Value: l.Value, Quoted: l.Quoted}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	f, _ := Parse("site-certmap.conf", readGolden(t, "site-certmap.conf"), "certmap")
	var got []string
	for _, h := range f.Headers() {
		got = append(got, h.Keyword+"|"+h.Label+"|"+h.Arg)
	}
	want := []string{
		"certmap|default|default",
		"certmap|siroeca|ou=Siroe CA, o=siroe.com, c=US",
		"certmap|partnerca|CN=Partner Issuing CA 2,OU=PKI,O=Partner Corp,C=DE",
		"certmap|varrius|cn=Varrius  Smartcard CA,  o=varrius.com", // inner white space kept
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Headers() = %q, want %q", got, want)
	}
	if l := f.Lookup("partnerca", "FilterComps"); l == nil || l.Value != "cn=uid, e=mail" {
		t.Errorf("Lookup(partnerca, FilterComps) = %+v", l)
	}
}

func TestAddHeader(t *testing.T) {
	f, _ := Parse("vdmap", readGolden(t, "spec-vdmap-n4.cfg"), "vdmap")
	h, err := f.AddHeader("vdmap", "sesta", "198.51.100.20")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Set("sesta", "VDomain", "sesta.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Set("airius", "PreAuth", "yes"); err != nil {
		t.Fatal(err)
	}
	want := string(readGolden(t, "spec-vdmap-n4.cfg")) + "airius:PreAuth yes\n\nvdmap sesta 198.51.100.20\nsesta:VDomain sesta.com\n"
	if got := string(f.Bytes()); got != want {
		t.Errorf("after AddHeader and Set:\n%s\nwant\n%s", got, want)
	}
	if h.Num != 7 || h.Label != "sesta" || h.Arg != "198.51.100.20" {
		t.Errorf("AddHeader returned %+v", h)
	}

	// An existing blank line is reused; a missing final newline is added.
	f, _ = Parse("certmap.conf", []byte("certmap default default\n\n"), "certmap")
	f.AddHeader("CERTMAP", "ca", "o=CA")
	if got := string(f.Bytes()); got != "certmap default default\n\ncertmap ca o=CA\n" {
		t.Errorf("AddHeader after blank line: %q", got)
	}
	f, _ = Parse("certmap.conf", []byte("certmap default default"), "certmap")
	f.AddHeader("certmap", "ca", "o=CA")
	if got := string(f.Bytes()); got != "certmap default default\n\ncertmap ca o=CA\n" {
		t.Errorf("AddHeader after last line without newline: %q", got)
	}

	errTests := []struct {
		syntax, keyword, label, arg, want string
	}{
		{"", "vdmap", "a", "1.2.3.4", "t: file has no block headers"},
		{"vdmap", "certmap", "a", "1.2.3.4", `t: header keyword "certmap" does not match the file's "vdmap"`},
		{"vdmap", "vdmap", "a:b", "1.2.3.4", `t: block name "a:b" contains ':'`},
		{"vdmap", "vdmap", "", "1.2.3.4", `t: empty block name`},
		{"vdmap", "vdmap", "a", "", `t: ipaddr "" is empty, has surrounding blanks or a line break`},
		{"certmap", "certmap", "a", "o=x\n", `t: issuer-dn "o=x\n" is empty, has surrounding blanks or a line break`},
		{"vdmap", "vdmap", "siroe", "1.2.3.4", `t: block "siroe" already declared on line 1`},
	}
	for _, tt := range errTests {
		f, _ := Parse("t", []byte("vdmap siroe 1.1.1.1\n"), tt.syntax)
		before := string(f.Bytes())
		_, err := f.AddHeader(tt.keyword, tt.label, tt.arg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("AddHeader(%q, %q, %q) = %v, want %q", tt.keyword, tt.label, tt.arg, err, tt.want)
		}
		if string(f.Bytes()) != before {
			t.Errorf("failed AddHeader changed the file")
		}
	}
}

func TestDelete(t *testing.T) {
	f, _ := Parse("site-ImapProxyAService.cfg", readGolden(t, "site-ImapProxyAService.cfg"), "")
	n := len(f.Lines)
	if !f.Delete("DEFAULT", "loglevel") {
		t.Fatal("Delete(default, LogLevel) = false")
	}
	if len(f.Lines) != n-2 || f.Lookup("default", "LogLevel") != nil {
		t.Errorf("after Delete: %d lines (want %d), Lookup = %v", len(f.Lines), n-2, f.Lookup("default", "LogLevel"))
	}
	if f.Lookup("partner", "LogLevel") == nil {
		t.Errorf("Delete(default, LogLevel) removed partner:LogLevel")
	}
	for i, l := range f.Lines {
		if l.Num != i+1 {
			t.Fatalf("after Delete, f.Lines[%d].Num = %d", i, l.Num)
		}
	}
	if f.Delete("default", "SSLBacksidePort") {
		t.Errorf("Delete of a commented-out setting reported true")
	}
	if !bytes.Contains(f.Bytes(), []byte("#default:SSLBacksidePort 993\r\n")) {
		t.Errorf("Delete removed a comment")
	}
}

func TestKindString(t *testing.T) {
	if Header.String() != "Header" || Kind(9).String() != "Kind(9)" {
		t.Errorf("Kind.String: %v %v", Header, Kind(9))
	}
}
