package wire

import (
	"encoding/base64"
	"errors"
	"regexp"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDecodeBase64Line(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"*", "", ErrCancelled},
		{"=", "", nil},
		{"", "", nil},
		{"dGlt", "tim", nil},
		{"VXNlcm5hbWU6", "Username:", nil},
		{"UGFzc3dvcmQ6", "Password:", nil},
		{"dGk=", "ti", nil},
		{"dA==", "t", nil},
		{"dGl", "", ErrBadBase64},      // no padding
		{"dGk", "", ErrBadBase64},      // no padding
		{"dGl=", "", ErrBadBase64},     // non-zero trailing bits
		{"dG\r\nlt", "", ErrBadBase64}, // Go would skip the CRLF
		{"dG lt", "", ErrBadBase64},
		{"dGlt\n", "", ErrBadBase64},
		{"dGlt====", "", ErrBadBase64},
		{"**", "", ErrBadBase64},
		{"d-lt", "", ErrBadBase64}, // URL alphabet
	}
	for _, tt := range tests {
		got, err := DecodeBase64Line([]byte(tt.in))
		if string(got) != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("DecodeBase64Line(%q) = %q, %v, want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestDecodePlain(t *testing.T) {
	tests := []struct {
		in                      string
		authzid, authcid, passw string
		err                     error
	}{
		{b64("\x00tim\x00tanstaaftanstaaf"), "", "tim", "tanstaaftanstaaf", nil},
		{b64("admin\x00tim\x00pw"), "admin", "tim", "pw", nil},
		{b64("\x00jörg\x00pass word"), "", "jörg", "pass word", nil},
		{b64("\x00tim\x00\xff\xfe"), "", "tim", "\xff\xfe", nil}, // 8-bit password left to the store
		{"*", "", "", "", ErrCancelled},
		{"=", "", "", "", ErrBadPlain},
		{"", "", "", "", ErrBadPlain},
		{b64("timpw"), "", "", "", ErrBadPlain},
		{b64("tim\x00pw"), "", "", "", ErrBadPlain},
		{b64("a\x00tim\x00pw\x00"), "", "", "", ErrBadPlain},
		{b64("a\x00tim\x00p\x00w"), "", "", "", ErrBadPlain},
		{b64("a\x00\x00pw"), "", "", "", ErrBadPlain},
		{b64("a\x00tim\x00"), "", "", "", ErrBadPlain},
		{b64("\x00\x00"), "", "", "", ErrBadPlain},
		{"AHRpbQB0YW5zdGFhZ", "", "", "", ErrBadBase64},
		{"AHRpbQB0YW5z!GFhZg==", "", "", "", ErrBadBase64},
	}
	for _, tt := range tests {
		z, c, p, err := DecodePlain([]byte(tt.in))
		if z != tt.authzid || c != tt.authcid || p != tt.passw || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("DecodePlain(%q) = %q, %q, %q, %v, want %q, %q, %q, %v", tt.in, z, c, p, err, tt.authzid, tt.authcid, tt.passw, tt.err)
		}
	}
}

func TestEncodePlain(t *testing.T) {
	tests := []struct{ z, c, p, want string }{
		{"", "tim", "tanstaaftanstaaf", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"},
		{"alice", "mmpadmin", "adm pw", b64("alice\x00mmpadmin\x00adm pw")},
	}
	for _, tt := range tests {
		got := EncodePlain(tt.z, tt.c, tt.p)
		if got != tt.want {
			t.Errorf("EncodePlain(%q, %q, %q) = %q, want %q", tt.z, tt.c, tt.p, got, tt.want)
		}
		z, c, p, err := DecodePlain([]byte(got))
		if z != tt.z || c != tt.c || p != tt.p || err != nil {
			t.Errorf("DecodePlain(EncodePlain(%q, %q, %q)) = %q, %q, %q, %v, want the same, nil", tt.z, tt.c, tt.p, z, c, p, err)
		}
	}
}

// The RFC 2195 §2 example, exchanged in base64 as on the wire.
func TestCRAMMD5RFC2195(t *testing.T) {
	challenge, err := DecodeBase64Line([]byte("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"))
	if want := "<1896.697170952@postoffice.reston.mci.net>"; string(challenge) != want || err != nil {
		t.Fatalf("DecodeBase64Line(challenge) = %q, %v, want %q, nil", challenge, err, want)
	}
	response, err := DecodeBase64Line([]byte("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"))
	if want := "tim b913a602c7eda7a495b4e6e7334d3890"; string(response) != want || err != nil {
		t.Fatalf("DecodeBase64Line(response) = %q, %v, want %q, nil", response, err, want)
	}
	if user, err := CRAMUser(string(response)); user != "tim" || err != nil {
		t.Errorf("CRAMUser(%q) = %q, %v, want %q, nil", response, user, err, "tim")
	}
	tests := []struct {
		challenge, response, password string
		user                          string
		ok                            bool
	}{
		{string(challenge), string(response), "tanstaaftanstaaf", "tim", true},
		{string(challenge), "tim B913A602C7EDA7A495B4E6E7334D3890", "tanstaaftanstaaf", "tim", true},
		{string(challenge), string(response), "tanstaaf", "tim", false},
		{"<1896.697170952@other>", string(response), "tanstaaftanstaaf", "tim", false},
		// The digest covers only password and challenge: the caller must
		// pass the password of the user CRAMUser named.
		{string(challenge), "tom b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf", "tom", true},
		{string(challenge), "first last b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf", "first last", true},
		{string(challenge), "tim b913a602c7eda7a495b4e6e7334d389", "tanstaaftanstaaf", "", false},
		{string(challenge), "tim zz13a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf", "", false},
		{string(challenge), "b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf", "", false},
		{string(challenge), " b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf", "", false},
		{string(challenge), "t\x00m b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf", "", false},
		{string(challenge), "", "tanstaaftanstaaf", "", false},
	}
	for _, tt := range tests {
		user, ok := CheckCRAMMD5(tt.challenge, tt.response, tt.password)
		if user != tt.user || ok != tt.ok {
			t.Errorf("CheckCRAMMD5(%q, %q, %q) = %q, %v, want %q, %v", tt.challenge, tt.response, tt.password, user, ok, tt.user, tt.ok)
		}
	}
}

func TestCRAMChallenge(t *testing.T) {
	re := regexp.MustCompile(`^<[0-9]+\.[0-9]+@mmp\.example\.com>$`)
	a, b := CRAMChallenge("mmp.example.com"), CRAMChallenge("mmp.example.com")
	if !re.MatchString(a) {
		t.Errorf("CRAMChallenge(%q) = %q, want <random.timestamp@host>", "mmp.example.com", a)
	}
	if a == b {
		t.Errorf("CRAMChallenge(%q) returned %q twice, want fresh challenges", "mmp.example.com", a)
	}
	if got := CRAMChallenge(""); !regexp.MustCompile(`@localhost>$`).MatchString(got) {
		t.Errorf("CRAMChallenge(%q) = %q, want a localhost msg-id", "", got)
	}
}

// The RFC 1939 §7 APOP example.
func TestCheckAPOP(t *testing.T) {
	const ts = "<1896.697170952@dbc.mtview.ca.us>"
	tests := []struct {
		digest, password string
		want             bool
	}{
		{"c4c9334bac560ecc979e58001b3e22fb", "tanstaaf", true},
		{"c4c9334bac560ecc979e58001b3e22fb", "tanstaaF", false},
		{"c4c9334bac560ecc979e58001b3e22f", "tanstaaf", false},
		{"c4c9334bac560ecc979e58001b3e22fbaa", "tanstaaf", false},
		{"x4c9334bac560ecc979e58001b3e22fb", "tanstaaf", false},
		{"", "tanstaaf", false},
	}
	for _, tt := range tests {
		if got := CheckAPOP(ts, tt.digest, tt.password); got != tt.want {
			t.Errorf("CheckAPOP(%q, %q, %q) = %v, want %v", ts, tt.digest, tt.password, got, tt.want)
		}
	}
}
