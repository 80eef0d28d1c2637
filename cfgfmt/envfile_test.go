package cfgfmt

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func dumpEnv(f *EnvFile) string {
	var b strings.Builder
	for _, l := range f.Lines {
		fmt.Fprintf(&b, "%d eol=%q", l.Num, l.EOL)
		if l.Var != "" {
			fmt.Fprintf(&b, " var=%q", l.Var)
		}
		if l.HasAssign {
			fmt.Fprintf(&b, " value=%q", l.Value)
		}
		if l.Exported {
			b.WriteString(" exported")
		}
		if len(l.Exports) > 0 {
			fmt.Fprintf(&b, " exports=%q", l.Exports)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func envTexts(f *EnvFile) []string {
	out := make([]string, len(f.Lines))
	for i, l := range f.Lines {
		out[i] = l.Raw + l.EOL
	}
	return out
}

func TestEnvGolden(t *testing.T) {
	for _, name := range goldenFiles(t, "env") {
		t.Run(name, func(t *testing.T) {
			data := readGolden(t, name)
			f, errs := ParseEnv(name, data)
			for _, err := range errs {
				t.Errorf("ParseEnv: %v", err)
			}
			if got := f.Bytes(); !bytes.Equal(got, data) {
				t.Fatalf("Bytes() differs from the input:\n%q\nwant\n%q", got, data)
			}
			checkParsed(t, name, dumpEnv(f))
		})
	}
}

func TestEnvLookup(t *testing.T) {
	f, errs := ParseEnv("PopMMP.config", readGolden(t, "site-PopMMP.config"))
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name, value string
		num         int
		exported    bool // by the line itself
	}{
		{"LDAPHost", "ldap.airius.com:389", 5, true},
		{"basedn", "o=airius.com", 6, true},
		{"BindDN", "uid=mmp, ou=People, o=airius.com", 7, true},
		{"BindPassword", `it's "secret"`, 8, true},
		{"LogDir", "/usr/netscape/suitespot4/mmp/MMP-tarpit/log", 9, true},
		{"LogLevel", "1", 10, false},
		{"Banner", `POP3 server "tarpit" ready $ \o/`, 15, false},
		{"SpoofMessageFile", "/usr/netscape/suitespot4/mmp/MMP-tarpit/spoof message.txt", 16, false},
		{"MailHostAttrs", "mailHost", 21, true},
	}
	for _, tt := range tests {
		l := f.Lookup(tt.name)
		if l == nil || l.Value != tt.value || l.Num != tt.num || l.Exported != tt.exported {
			t.Errorf("Lookup(%q) = %+v, want line %d value %q exported %v", tt.name, l, tt.num, tt.value, tt.exported)
		}
		if !f.Exported(tt.name) {
			t.Errorf("Exported(%q) = false", tt.name)
		}
	}
	if l := f.Lookup("ListenPort"); f.Exported("NoSuch") || l == nil || l.Value != "110" {
		t.Errorf("Lookup(ListenPort) = %+v", l)
	}
	if n := len(f.Vars()); n != 13 {
		t.Errorf("len(Vars()) = %d, want 13", n)
	}
}

func TestEnvSet(t *testing.T) {
	tests := []struct {
		file, name, value string
		num               int
		raw               string
		inserted          bool
	}{
		{"spec-ImapMMP.config", "LDAPHost", "ldap2.airius.com:389", 1, "LDAPHost=ldap2.airius.com:389; export LDAPHost", false},
		{"spec-ImapMMP.config", "basedn", "o=siroe.com", 2, `BaseDN="o=siroe.com"; export BaseDN`, false},
		{"spec-ImapMMP.config", "BindPassword", "p@ss word$", 4, `BindPassword='p@ss word$'; export BindPassword`, false},
		{"spec-ImapMMP.config", "LogLevel", "", 6, `LogLevel=''; export LogLevel`, false},
		{"spec-ImapMMP.config", "SSLEnable", "yes", 11, "SSLEnable=yes; export SSLEnable", true},
		{"site-PopMMP.config", "BaseDN", "o=it's", 6, `BaseDN='o=it'\''s'; export BaseDN`, false},
		{"site-PopMMP.config", "BindDN", `uid="x"$`, 7, `BindDN="uid=\"x\"\$"; export BindDN`, false},
		{"site-PopMMP.config", "loglevel", "5", 10, "LogLevel=5   # 10 while debugging", false},
		{"site-PopMMP.config", "LogDir", "/tmp/log dir", 9, "export LogDir='/tmp/log dir'", false},
		{"site-PopMMP.config", "MailHostAttrs", "mailHost,altHost", 21, "MailHostAttrs=mailHost,altHost; export MailHostAttrs;", false},
		{"site-PopMMP.config", "CertMapFile", "/x/certmap.conf", 22, "CertMapFile=/x/certmap.conf; export CertMapFile", true},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.name, func(t *testing.T) {
			data := readGolden(t, tt.file)
			f, _ := ParseEnv(tt.file, data)
			before := envTexts(f)
			l, err := f.Set(tt.name, tt.value)
			if err != nil {
				t.Fatalf("Set(%q, %q) = %v", tt.name, tt.value, err)
			}
			if l.Num != tt.num || l.Raw != tt.raw || l.EOL != "\n" {
				t.Errorf("Set(%q, %q) wrote line %d %q eol %q, want line %d %q", tt.name, tt.value, l.Num, l.Raw, l.EOL, tt.num, tt.raw)
			}
			editDiff(t, before, envTexts(f), tt.num, tt.inserted)
			g, errs := ParseEnv(tt.file, f.Bytes())
			if errs != nil {
				t.Fatal(errs)
			}
			if got := g.Lookup(tt.name); got == nil || got.Value != tt.value || !reflect.DeepEqual(got, l) {
				t.Errorf("re-parse Lookup(%q) = %+v, want %+v", tt.name, got, l)
			}
		})
	}
}

func TestEnvSetErrors(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"1A", "x", "t: 1A: not a shell variable name"},
		{"A-B", "x", "t: A-B: not a shell variable name"},
		{"", "x", "t: not a shell variable name"},
		{"A", "x\ny", "t: A: value contains a line break or NUL byte"},
		{"A", "x\x00", "t: A: value contains a line break or NUL byte"},
	}
	for _, tt := range tests {
		f, _ := ParseEnv("t", []byte("A=1\n"))
		if _, err := f.Set(tt.name, tt.value); err == nil || err.Error() != tt.want {
			t.Errorf("Set(%q, %q) = %v, want %q", tt.name, tt.value, err, tt.want)
		}
		if string(f.Bytes()) != "A=1\n" {
			t.Errorf("failed Set changed the file")
		}
	}
}

func TestEnvParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"LogDir=$HOME/log", `t:1: not a plain NAME=value assignment: '$' expansion`},
		{"BindPassword=`cat /etc/pw`; export BindPassword", "t:1: not a plain NAME=value assignment: '`' expansion"},
		{`A="x$y"`, `t:1: not a plain NAME=value assignment: '$' expansion`},
		{`A="$(cat pw)"`, `t:1: not a plain NAME=value assignment: '$' expansion`},
		{"A=b c", `t:1: A: not a plain NAME=value assignment: more than one word (quote a value that contains blanks)`},
		{"A=1 B=2", `t:1: A: not a plain NAME=value assignment: more than one word (quote a value that contains blanks)`},
		{"A=1; B=2", `t:1: B: more than one assignment on one line`},
		{"export A=1 B=2", `t:1: B: more than one assignment on one line`},
		{"echo hi", `t:1: not a plain NAME=value assignment`},
		{". ./other.config", `t:1: not a plain NAME=value assignment`},
		{"if true; then", `t:1: not a plain NAME=value assignment`},
		{"'A'=1", `t:1: not a plain NAME=value assignment`},
		{"export", `t:1: not a plain NAME=value assignment: export without a name`},
		{"export -n A", `t:1: not a plain NAME=value assignment: "-n" is not a variable name`},
		{"A=1; export 'A'", `t:1: not a plain NAME=value assignment: "'A'" is not a variable name`},
		{"A='x", `t:1: unterminated single quote`},
		{`A="x`, `t:1: unterminated double quote`},
		{`A="x\`, `t:1: unterminated double quote`},
		{`A=x\`, `t:1: line continuation (backslash at end of line) is not supported`},
		{"A=x | tee", `t:1: not a plain NAME=value assignment: shell operator '|'`},
		{"A=x&", `t:1: not a plain NAME=value assignment: shell operator '&'`},
		{"A=x >f", `t:1: not a plain NAME=value assignment: shell operator '>'`},
		{"A=(1 2)", `t:1: not a plain NAME=value assignment: shell operator '('`},
		{"A=~/log", `t:1: not a plain NAME=value assignment: tilde expansion`},
		{"A=x:~/log", `t:1: not a plain NAME=value assignment: tilde expansion`},
		{"; A=1", `t:1: empty command before ';'`},
		{"A=1;;", `t:1: empty command before ';'`},
		{"A=1\r", `t:1: stray carriage return (CR not followed by LF)`},
		{"# fine\n\nA=1\nB=$A\r\nC=3", `t:4: not a plain NAME=value assignment: '$' expansion`},
	}
	for _, tt := range tests {
		f, errs := ParseEnv("t", []byte(tt.in))
		if len(errs) != 1 || errs[0].Error() != tt.want {
			t.Errorf("ParseEnv(%q) errors = %v, want [%s]", tt.in, errs, tt.want)
			continue
		}
		var e *Error
		if !errors.As(errs[0], &e) {
			t.Errorf("ParseEnv(%q) error is not an *Error", tt.in)
		}
		if !bytes.Equal(f.Bytes(), []byte(tt.in)) {
			t.Errorf("ParseEnv(%q).Bytes() = %q", tt.in, f.Bytes())
		}
		if l := f.Lines[e.Line-1]; l.Var != "" || l.HasAssign {
			t.Errorf("ParseEnv(%q): bad line has Var %q", tt.in, l.Var)
		}
	}
}

func TestEnvAccepted(t *testing.T) {
	tests := []struct {
		in, name, value string
		exported        bool
		exports         []string
	}{
		{"A=", "A", "", false, nil},
		{"A=''", "A", "", false, nil},
		{`A=a\ b`, "A", "a b", false, nil},
		{`A=a\$b`, "A", "a$b", false, nil},
		{"A=a~b", "A", "a~b", false, nil},
		{"A='~/x'", "A", "~/x", false, nil},
		{"A=a#b", "A", "a#b", false, nil},
		{"A=1;", "A", "1", false, nil},
		{"  A=1  # comment; export A", "A", "1", false, nil},
		{`A="\a\"\\\$\` + "`" + `"`, "A", "\\a\"\\$`", false, nil},
		{`A='a'"b"c`, "A", "abc", false, nil},
		{"A=x=y", "A", "x=y", false, nil},
		{"export A=1", "A", "1", true, []string{"A"}},
		{"A=1 ;export A B", "A", "1", true, []string{"A", "B"}},
		{"export B; A=1", "A", "1", false, []string{"B"}},
		{"\uFEFFA=1", "A", "1", false, nil},
		{"A=1\t; export\tA", "A", "1", true, []string{"A"}},
	}
	for _, tt := range tests {
		f, errs := ParseEnv("t", []byte(tt.in))
		if errs != nil {
			t.Errorf("ParseEnv(%q): %v", tt.in, errs)
			continue
		}
		l := f.Lines[0]
		if !l.HasAssign || l.Var != tt.name || l.Value != tt.value || l.Exported != tt.exported || !reflect.DeepEqual(l.Exports, tt.exports) {
			t.Errorf("ParseEnv(%q) = %+v, want %s=%q exported %v exports %q", tt.in, l, tt.name, tt.value, tt.exported, tt.exports)
		}
	}
	// Export-only lines name their variable without assigning it.
	f, _ := ParseEnv("t", []byte("export LDAPHost\nexport A B\n"))
	if l := f.Lines[0]; l.Var != "LDAPHost" || l.HasAssign || !l.Exported {
		t.Errorf("export LDAPHost: %+v", l)
	}
	if l := f.Lines[1]; l.Var != "" || l.Exported || len(l.Exports) != 2 {
		t.Errorf("export A B: %+v", l)
	}
	if f.Lookup("LDAPHost") != nil || !f.Exported("ldaphost") {
		t.Errorf("export-only line: Lookup should be nil and Exported true")
	}
}

func TestFormatEnv(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"LDAPHost", "ldap.airius.com:389", "LDAPHost=ldap.airius.com:389; export LDAPHost"},
		{"BindDN", "uid=mmp,ou=People,o=airius.com", "BindDN=uid=mmp,ou=People,o=airius.com; export BindDN"},
		{"BindDN", "cn=Directory Manager", "BindDN='cn=Directory Manager'; export BindDN"},
		{"X", "", "X=''; export X"},
		{"X", "it's", `X='it'\''s'; export X`},
		{"X", "~mmp", "X='~mmp'; export X"},
		{"X", "a$b`c\"d\\e", "X='a$b`c\"d\\e'; export X"},
		{"LogLevel", "10", "LogLevel=10; export LogLevel"},
		{"VirtualDomainDelim", "+", "VirtualDomainDelim=+; export VirtualDomainDelim"},
		{"SearchFormat", "(uid=%s)", "SearchFormat='(uid=%s)'; export SearchFormat"},
	}
	for _, tt := range tests {
		got := FormatEnv(tt.name, tt.value)
		if got != tt.want {
			t.Errorf("FormatEnv(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.want)
		}
		f, errs := ParseEnv("t", []byte(got))
		if errs != nil || len(f.Lines) != 1 || f.Lines[0].Value != tt.value || !f.Lines[0].Exported {
			t.Errorf("ParseEnv(FormatEnv(%q, %q)) = %+v, %v", tt.name, tt.value, f.Lines, errs)
		}
	}
}
