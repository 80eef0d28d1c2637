package cfgfmt

import (
	"reflect"
	"testing"
)

// testValues is the user joe of docs/reference.md §3.8 logging in as joe@siroe.com.
func testValues(esc byte, arg string) string {
	switch esc {
	case 'o':
		return "joe@siroe.com"
	case 's':
		return "joe@siroe.com"
	case 'U':
		return "joe"
	case 'V':
		return "siroe.com"
	case 'C':
		return "192.0.2.7"
	case 'S':
		return "10.0.0.5"
	case 'D':
		return "cn=Joe,o=siroe.com"
	case 'A':
		return "<" + arg + ">"
	}
	return "?"
}

var formatTests = []struct {
	in, allowed string
	want        string   // Expand(testValues)
	attrs       []string // Attrs()
	wantErr     string
}{
	{in: "", allowed: SearchEscapes, want: ""},
	{in: "uid=%U", allowed: SearchEscapes, want: "uid=joe"},
	{in: "uid=%s", allowed: SearchEscapes, want: "uid=joe@siroe.com"},
	{in: "(uid=%s)", allowed: SearchEscapes, want: "(uid=joe@siroe.com)"},
	{in: "(&(uid=%U)(mailHost=*)(|(c=%C)(s=%S)(o=%o)(d=%D)(v=%V)))", allowed: SearchEscapes,
		want: "(&(uid=joe)(mailHost=*)(|(c=192.0.2.7)(s=10.0.0.5)(o=joe@siroe.com)(d=cn=Joe,o=siroe.com)(v=siroe.com)))"},
	{in: "100%% %U%%", allowed: SearchEscapes, want: "100% joe%"},
	{in: "%%U", allowed: SearchEscapes, want: "%U"},
	{in: "%U", allowed: ReplayEscapes, want: "joe"},
	// The ReplayFormat example of docs/reference.md §3.8.
	{in: "%A[uid]@%V", allowed: ReplayEscapes, want: "<uid>@siroe.com", attrs: []string{"uid"}},
	{in: "%A[mailAlternateAddress]%A[cn;lang-fr]%A[UID]%A[uid]", allowed: ReplayEscapes,
		want: "<mailAlternateAddress><cn;lang-fr><UID><uid>", attrs: []string{"mailAlternateAddress", "cn;lang-fr", "UID"}},
	{in: "%s/%o", allowed: ReplayEscapes, want: "joe@siroe.com/joe@siroe.com"},
	{in: "été %U", allowed: SearchEscapes, want: "été joe"},

	{in: "uid=%x", allowed: SearchEscapes, wantErr: `position 5: unknown escape "%x": want one of %o %s %U %V %C %S %D or %%`},
	{in: "uid=%u", allowed: SearchEscapes, wantErr: `position 5: unknown escape "%u": want one of %o %s %U %V %C %S %D or %%`},
	{in: "%A[uid]", allowed: SearchEscapes, wantErr: `position 1: unknown escape "%A": want one of %o %s %U %V %C %S %D or %%`},
	{in: "%C", allowed: ReplayEscapes, wantErr: `position 1: unknown escape "%C": want one of %U %V %A[attr] %s %o or %%`},
	{in: "uid=%U%", allowed: SearchEscapes, wantErr: `position 7: "%" at the end of the format; write %% for a literal percent sign`},
	{in: "%A", allowed: ReplayEscapes, wantErr: `position 1: %A needs an attribute name in brackets, as in %A[uid]`},
	{in: "x%Auid", allowed: ReplayEscapes, wantErr: `position 2: %A needs an attribute name in brackets, as in %A[uid]`},
	{in: "%A[uid", allowed: ReplayEscapes, wantErr: `position 1: missing "]" after %A[`},
	{in: "%A[]", allowed: ReplayEscapes, wantErr: `position 1: bad attribute name "" in %A[...]`},
	{in: "%U@%A[u id]", allowed: ReplayEscapes, wantErr: `position 4: bad attribute name "u id" in %A[...]`},
	{in: "%é", allowed: ReplayEscapes, wantErr: `position 1: unknown escape "%\xc3": want one of %U %V %A[attr] %s %o or %%`},
}

func TestParseFormat(t *testing.T) {
	for _, tt := range formatTests {
		f, err := ParseFormat(tt.in, tt.allowed)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseFormat(%q, %q) error = %v, want %q", tt.in, tt.allowed, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFormat(%q, %q) error = %v, want nil", tt.in, tt.allowed, err)
			continue
		}
		if got := f.Expand(testValues); got != tt.want {
			t.Errorf("ParseFormat(%q, %q).Expand() = %q, want %q", tt.in, tt.allowed, got, tt.want)
		}
		if got := f.Attrs(); !reflect.DeepEqual(got, tt.attrs) {
			t.Errorf("ParseFormat(%q, %q).Attrs() = %q, want %q", tt.in, tt.allowed, got, tt.attrs)
		}
		if got := f.String(); got != tt.in {
			t.Errorf("ParseFormat(%q, %q).String() = %q, want %q", tt.in, tt.allowed, got, tt.in)
		}
	}
}

func TestFormatUses(t *testing.T) {
	f, err := ParseFormat("(&(uid=%U)(cert=%D))%%C", SearchEscapes)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		esc  byte
		want bool
	}{{'U', true}, {'D', true}, {'C', false}, {'%', false}, {0, false}} {
		if got := f.Uses(tt.esc); got != tt.want {
			t.Errorf("Format(%q).Uses(%q) = %v, want %v", f, tt.esc, got, tt.want)
		}
	}
	var zero Format
	if zero.Uses('U') || zero.Expand(testValues) != "" || zero.Attrs() != nil || zero.String() != "" {
		t.Errorf("zero Format is not the empty template")
	}
}

func TestFilterText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"uid=joe", "(uid=joe)"},
		{"(uid=joe)", "(uid=joe)"},
		{"  (uid=joe) ", "(uid=joe)"},
		{"(&(uid=joe)(objectclass=inetmailuser))", "(&(uid=joe)(objectclass=inetmailuser))"},
		{"&(uid=joe)(objectclass=inetmailuser)", "(&(uid=joe)(objectclass=inetmailuser))"},
		{"(uid=a)(uid=b)", "((uid=a)(uid=b))"},
		{`(cn=a\29b)`, `(cn=a\29b)`},
		{`(cn=a\)b)`, `(cn=a\)b)`},
		{`(cn=a\(b)`, `(cn=a\(b)`},
		{"(uid=joe", "((uid=joe)"},
		{"", ""},
		{"()", "()"},
		{")(", "()()"},
	}
	for _, tt := range tests {
		if got := FilterText(tt.in); got != tt.want {
			t.Errorf("FilterText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
