package wire

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParsePOPCommand(t *testing.T) {
	long := strings.Repeat("a", 60) + "@example.com"
	tests := []struct {
		in   string
		name string
		args string // fmt.Sprintf("%q", args)
		err  error
	}{
		{"USER alice", "USER", `["alice"]`, nil},
		{"user alice", "USER", `["alice"]`, nil},
		{"User alice@example.com", "USER", `["alice@example.com"]`, nil},
		{"USER " + long, "USER", fmt.Sprintf("[%q]", long), nil},
		{"USER jörg@example.com", "USER", `["jörg@example.com"]`, nil},
		{"PASS secret", "PASS", `["secret"]`, nil},
		{"PASS my secret  pw ", "PASS", `["my secret  pw "]`, nil},
		{"PASS  lead", "PASS", `[" lead"]`, nil},
		{"pass p\xe4ss\tword", "PASS", `["p\xe4ss\tword"]`, nil},
		{"APOP mrose c4c9334bac560ecc979e58001b3e22fb", "APOP", `["mrose" "c4c9334bac560ecc979e58001b3e22fb"]`, nil},
		{"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "AUTH", `["PLAIN" "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"]`, nil},
		{"AUTH PLAIN =", "AUTH", `["PLAIN" "="]`, nil},
		{"AUTH", "AUTH", `[]`, nil},
		{"CAPA", "CAPA", `[]`, nil},
		{"stls", "STLS", `[]`, nil},
		{"TOP 1 10", "TOP", `["1" "10"]`, nil},
		{"XQUERYAUTH 192.0.2.1", "XQUERYAUTH", `["192.0.2.1"]`, nil},
		{"", "", `[]`, ErrBadSyntax},
		{"US alice", "", `[]`, ErrBadSyntax},
		{"USERS alice", "", `[]`, ErrBadSyntax},
		{"XAVERYLONGKEYWORD x", "", `[]`, ErrBadSyntax},
		{"US\x00R alice", "", `[]`, ErrBadSyntax},
		{"U\xc3\x9fR alice", "", `[]`, ErrBadSyntax},
		{" USER alice", "", `[]`, ErrBadSyntax},
		{"USER  alice", "USER", `[]`, ErrBadSyntax},
		{"USER alice ", "USER", `[]`, ErrBadSyntax},
		{"USER ", "USER", `[]`, ErrBadSyntax},
		{"USER al\tice", "USER", `[]`, ErrBadSyntax},
		{"USER al\x00ice", "USER", `[]`, ErrBadSyntax},
		{"USER al\rice", "USER", `[]`, ErrBadSyntax},
		{"USER \xff", "USER", `[]`, ErrBadSyntax},
		{"TOP 1  10", "TOP", `[]`, ErrBadSyntax},
		{"PASS ", "PASS", `[]`, ErrBadSyntax},
		{"PASS a\x00b", "PASS", `[]`, ErrBadSyntax},
		{"PASS a\rb", "PASS", `[]`, ErrBadSyntax},
		{"PASS " + strings.Repeat("p", 248), "PASS", fmt.Sprintf("[%q]", strings.Repeat("p", 248)), nil},
		{"PASS " + strings.Repeat("p", 249), "", `[]`, ErrLineTooLong},
	}
	for _, tt := range tests {
		name, args, err := ParsePOPCommand([]byte(tt.in))
		if args == nil {
			args = []string{}
		}
		gotArgs := fmt.Sprintf("%q", args)
		if name != tt.name || gotArgs != tt.args || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ParsePOPCommand(%q) = %q, %s, %v, want %q, %s, %v", tt.in, name, gotArgs, err, tt.name, tt.args, tt.err)
		}
	}
}

func TestParseSMTPCommand(t *testing.T) {
	tests := []struct{ in, verb, rest string }{
		{"EHLO client.example.com", "EHLO", "client.example.com"},
		{"ehlo  client.example.com \t", "EHLO", "client.example.com"},
		{"STARTTLS", "STARTTLS", ""},
		{"quit ", "QUIT", ""},
		{"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "AUTH", "PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm"},
		{"MAIL FROM:<a@example.com> SIZE=100", "MAIL", "FROM:<a@example.com> SIZE=100"},
		{"XyZzY foo", "XYZZY", "foo"},
		{"", "", ""},
	}
	for _, tt := range tests {
		verb, rest := ParseSMTPCommand([]byte(tt.in))
		if verb != tt.verb || rest != tt.rest {
			t.Errorf("ParseSMTPCommand(%q) = %q, %q, want %q, %q", tt.in, verb, rest, tt.verb, tt.rest)
		}
	}
}
