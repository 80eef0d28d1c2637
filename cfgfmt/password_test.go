package cfgfmt

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func dumpPasswords(modules map[string]string, order []string) string {
	var b strings.Builder
	for _, m := range order {
		fmt.Fprintf(&b, "module=%q password=%q\n", m, modules[m])
	}
	pw, ok := KeyPassword(modules, order)
	fmt.Fprintf(&b, "KeyPassword=%q %v\n", pw, ok)
	return b.String()
}

func TestPasswordGolden(t *testing.T) {
	for _, name := range goldenFiles(t, "password") {
		t.Run(name, func(t *testing.T) {
			modules, order, errs := ParsePasswordFile(name, readGolden(t, name))
			for _, err := range errs {
				t.Errorf("ParsePasswordFile: %v", err)
			}
			checkParsed(t, name, dumpPasswords(modules, order))
		})
	}
}

func TestParsePasswordFile(t *testing.T) {
	in := "\uFEFF# comment\r\n\r\n  Internal (Software) Token :netscape!\r\n" +
		"nCipher nFast Token:ha:rd:wa:re \n" +
		"\t# another\n" +
		"Empty Token:\n" +
		"nCipher nFast Token:second"
	modules, order, errs := ParsePasswordFile("sslpassword.conf", []byte(in))
	wantModules := map[string]string{
		"Internal (Software) Token": "netscape!",
		"nCipher nFast Token":       "second",
		"Empty Token":               "",
	}
	wantOrder := []string{"Internal (Software) Token", "nCipher nFast Token", "Empty Token"}
	if !reflect.DeepEqual(modules, wantModules) || !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("ParsePasswordFile = %q %q, want %q %q", modules, order, wantModules, wantOrder)
	}
	wantErr := "sslpassword.conf:7: nCipher nFast Token: module listed again (first on line 4); the last line is used"
	if len(errs) != 1 || errs[0].Error() != wantErr {
		t.Errorf("errors = %v, want [%s]", errs, wantErr)
	}
}

func TestParsePasswordFileErrorsHideSecrets(t *testing.T) {
	const secret = "Tr0ub4dor&3"
	tests := []struct{ in, want string }{
		{secret + "\n", `pw:1: expected "module:password"`},
		{":" + secret + "\n", `pw:1: missing module name before ':'`},
		{"   \t:" + secret + "\n", `pw:1: missing module name before ':'`},
		{"# ok\nTok:" + secret + "\nTok:" + secret + "x\n", `pw:3: Tok: module listed again (first on line 2); the last line is used`},
	}
	for _, tt := range tests {
		_, _, errs := ParsePasswordFile("pw", []byte(tt.in))
		if len(errs) != 1 || errs[0].Error() != tt.want {
			t.Errorf("ParsePasswordFile(%q) errors = %v, want [%s]", tt.in, errs, tt.want)
			continue
		}
		var e *Error
		if !errors.As(errs[0], &e) {
			t.Errorf("error is not an *Error")
		}
		if strings.Contains(errs[0].Error(), secret) {
			t.Errorf("error %q shows the password", errs[0])
		}
	}
}

func TestKeyPassword(t *testing.T) {
	tests := []struct {
		modules map[string]string
		order   []string
		want    string
		ok      bool
	}{
		{nil, nil, "", false},
		{map[string]string{"A": "a", InternalToken: "int"}, []string{"A", InternalToken}, "int", true},
		{map[string]string{"A": "a", "internal (software) token": "int"}, []string{"A", "internal (software) token"}, "int", true},
		{map[string]string{"B": "b", "A": "a"}, []string{"B", "A"}, "b", true},
		{map[string]string{"B": "b", "A": "a"}, nil, "a", true},                // no order: sorted
		{map[string]string{"B": "b", "A": "a"}, []string{"C", "B"}, "b", true}, // stale order entries skipped
		{map[string]string{"T": ""}, []string{"T"}, "", true},
	}
	for _, tt := range tests {
		got, ok := KeyPassword(tt.modules, tt.order)
		if got != tt.want || ok != tt.ok {
			t.Errorf("KeyPassword(%q, %q) = %q, %v; want %q, %v", tt.modules, tt.order, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormatPassword(t *testing.T) {
	line, err := FormatPassword(InternalToken, "net:scape! ")
	if err != nil || line != "Internal (Software) Token:net:scape! " {
		t.Fatalf("FormatPassword = %q, %v", line, err)
	}
	m, _, errs := ParsePasswordFile("t", []byte(line+"\n"))
	if errs != nil || m[InternalToken] != "net:scape! " {
		t.Errorf("read back %q, %v", m, errs)
	}
	const secret = "s3cr3t-pw"
	for _, tt := range []struct{ module, password, want string }{
		{"", secret, `cfgfmt: sslpassword.conf: empty module name`},
		{"a:b", secret, `cfgfmt: sslpassword.conf module "a:b": name contains ':' or a line break`},
		{"#a", secret, `cfgfmt: sslpassword.conf module "#a": name starts with '#' or has surrounding blanks`},
		{" a", secret, `cfgfmt: sslpassword.conf module " a": name starts with '#' or has surrounding blanks`},
		{"a", secret + "\n", `cfgfmt: sslpassword.conf module "a": password contains a line break`},
	} {
		_, err := FormatPassword(tt.module, tt.password)
		if err == nil || err.Error() != tt.want {
			t.Errorf("FormatPassword(%q, ...) = %v, want %q", tt.module, err, tt.want)
		}
	}
}
