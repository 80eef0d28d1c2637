package cfgfmt

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseBool(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr string
	}{
		{in: "yes", want: true},
		{in: "Yes", want: true},
		{in: "TRUE", want: true},
		{in: "True", want: true},
		{in: "on", want: true},
		{in: "1", want: true},
		{in: " yes ", want: true},
		{in: "no"},
		{in: "NO"},
		{in: "false"},
		{in: "Off"},
		{in: "0"},
		{in: "", wantErr: `bad boolean "": want yes/no, true/false, on/off or 1/0`},
		{in: "y", wantErr: `bad boolean "y": want yes/no, true/false, on/off or 1/0`},
		{in: "enabled", wantErr: `bad boolean "enabled": want yes/no, true/false, on/off or 1/0`},
		{in: "2", wantErr: `bad boolean "2": want yes/no, true/false, on/off or 1/0`},
	}
	for _, tt := range tests {
		got, err := ParseBool(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseBool(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseBool(%q) = %v, %v, want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"mailHost", []string{"mailHost"}},
		{"mailHost,mailRoutingHost", []string{"mailHost", "mailRoutingHost"}}, // N4
		{"mailHost mailRoutingHost", []string{"mailHost", "mailRoutingHost"}}, // S6
		{"mailHost, mailRoutingHost ,,x\ty", []string{"mailHost", "mailRoutingHost", "x", "y"}},
		{",a,", []string{"a"}},
	}
	for _, tt := range tests {
		got := SplitList(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadListLinesTooLong(t *testing.T) {
	in := "10.0.0.1\n" + strings.Repeat("x", maxLineLen+10) + "\n"
	got, errs := ParseAddrListLines(strings.NewReader(in))
	if len(got) != 1 || len(errs) != 1 {
		t.Fatalf("ParseAddrListLines(long line) = %v, %v, want 1 entry and 1 error", got, errs)
	}
	want := "line 2: line longer than 65536 bytes"
	if errs[0].Error() != want {
		t.Errorf("ParseAddrListLines(long line) error = %q, want %q", errs[0], want)
	}
}
