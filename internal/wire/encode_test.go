package wire

import (
	"strings"
	"testing"
)

func TestAppendAstring(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"alice", "alice", true},
		{"alice@example.com", "alice@example.com", true},
		{"a+b!#$&'-.=?^_`|~", "a+b!#$&'-.=?^_`|~", true},
		{"", `""`, true},
		{"NIL", `"NIL"`, true},
		{"nil", `"nil"`, true},
		{"nils", "nils", true},
		{"a b", `"a b"`, true},
		{"a]b", `"a]b"`, true},
		{"INBOX*", `"INBOX*"`, true},
		{"50%", `"50%"`, true},
		{"(x)", `"(x)"`, true},
		{"{5}", `"{5}"`, true},
		{`a"b`, "", false},
		{`a\b`, "", false},
		{"jörg", "", false},
		{"a\r\nb", "", false},
		{"a\nb", "", false},
		{"a\x00b", "", false},
		{"a\tb", "", false},
		{"a\x7fb", "", false},
	}
	for _, tt := range tests {
		got, ok := AppendAstring([]byte("x "), tt.in)
		want := "x " + tt.want
		if string(got) != want || ok != tt.ok {
			t.Errorf("AppendAstring(%q, %q) = %q, %v, want %q, %v", "x ", tt.in, got, ok, want, tt.ok)
		}
		if !ok {
			continue
		}
		// What we write must read back as the same value.
		r := NewReader(strings.NewReader("t LOGIN "+tt.want+"\r\n"), 0)
		cmd, err := NewCommandReader(r, nil).Next()
		if err != nil || len(cmd.Args) != 1 {
			t.Errorf("Next(%q) = %s, want one argument", tt.want, fmtResult(cmd, err))
			continue
		}
		if v, ok := cmd.Args[0].Astring(); !ok || string(v) != tt.in {
			t.Errorf("Next(%q) astring = %q, %v, want %q, true", tt.want, v, ok, tt.in)
		}
	}
}

func TestLiteralHeader(t *testing.T) {
	tests := []struct {
		n    int
		plus bool
		want string
	}{
		{5, false, "{5}"},
		{5, true, "{5+}"},
		{0, false, "{0}"},
		{123456, true, "{123456+}"},
	}
	for _, tt := range tests {
		if got := LiteralHeader(tt.n, tt.plus); got != tt.want {
			t.Errorf("LiteralHeader(%d, %v) = %q, want %q", tt.n, tt.plus, got, tt.want)
		}
	}
}
