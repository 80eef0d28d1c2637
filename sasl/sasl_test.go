package sasl

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// script answers challenges in turn and records them.
type script struct {
	answers    []string
	challenges []string
}

func (s *script) ask(challenge []byte) ([]byte, error) {
	s.challenges = append(s.challenges, string(challenge))
	if len(s.answers) == 0 {
		return nil, errors.New("script: no more answers")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return []byte(a), nil
}

func TestExchange(t *testing.T) {
	tests := []struct {
		name       string
		mech       string
		ir         *string // nil: no initial response
		answers    []string
		challenges []string // as the mechanism gives them, before the protocol's base64
		want       Credentials
		err        error
	}{
		{name: "PLAIN with IR", mech: "PLAIN", ir: ptr(b64("\x00alice\x00pw")),
			want: Credentials{Mechanism: Plain, User: "alice", Password: "pw"}},
		{name: "PLAIN without IR", mech: "plain", answers: []string{b64("admin\x00alice\x00pw")}, challenges: []string{""},
			want: Credentials{Mechanism: Plain, AuthzID: "admin", User: "alice", Password: "pw"}},
		{name: "PLAIN cancelled", mech: "PLAIN", answers: []string{"*"}, challenges: []string{""}, err: ErrCancelled},
		{name: "PLAIN one NUL", mech: "PLAIN", ir: ptr(b64("alice\x00pw")), err: ErrMalformed},
		{name: "PLAIN empty IR", mech: "PLAIN", ir: ptr("="), err: ErrMalformed},
		{name: "PLAIN bad base64", mech: "PLAIN", ir: ptr("!!!"), err: ErrMalformed},
		{name: "LOGIN", mech: "LOGIN", answers: []string{b64("bob"), b64("s3cret")}, challenges: []string{"Username:", "Password:"},
			want: Credentials{Mechanism: Login, User: "bob", Password: "s3cret"}},
		{name: "LOGIN with IR", mech: "LOGIN", ir: ptr(b64("bob")), answers: []string{b64("s3cret")}, challenges: []string{"Password:"},
			want: Credentials{Mechanism: Login, User: "bob", Password: "s3cret"}},
		{name: "LOGIN cancelled at the password", mech: "LOGIN", answers: []string{b64("bob"), "*"}, challenges: []string{"Username:", "Password:"}, err: ErrCancelled},
		{name: "EXTERNAL empty IR", mech: "EXTERNAL", ir: ptr("="), want: Credentials{Mechanism: External}},
		{name: "EXTERNAL empty line", mech: "EXTERNAL", answers: []string{""}, challenges: []string{""}, want: Credentials{Mechanism: External}},
		{name: "EXTERNAL with authzid", mech: "EXTERNAL", ir: ptr(b64("alice")), want: Credentials{Mechanism: External, AuthzID: "alice"}},
		{name: "EXTERNAL NUL", mech: "EXTERNAL", ir: ptr(b64("a\x00b")), err: ErrMalformed},
		{name: "CRAM-MD5 with IR", mech: "CRAM-MD5", ir: ptr(b64("x")), err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := New(tt.mech, Options{Host: "mmp.example"})
			if !ok {
				t.Fatalf("New(%q) = false", tt.mech)
			}
			sc := &script{answers: tt.answers}
			var ir []byte
			if tt.ir != nil {
				ir = []byte(*tt.ir)
			}
			got, err := Exchange(m, ir, sc.ask)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("Exchange = %v, want %v", err, tt.err)
			}
			if strings.Join(sc.challenges, "|") != strings.Join(tt.challenges, "|") {
				t.Errorf("challenges %q, want %q", sc.challenges, tt.challenges)
			}
			if err != nil {
				return
			}
			if got.Mechanism != tt.want.Mechanism || got.AuthzID != tt.want.AuthzID || got.User != tt.want.User ||
				got.Password != tt.want.Password || !got.SASL {
				t.Errorf("Exchange = %+v, want %+v (SASL)", got, tt.want)
			}
		})
	}
	if _, ok := New("GSSAPI", Options{}); ok {
		t.Error("New(GSSAPI) = true")
	}
}

// TestCramMD5 runs RFC 2195's exchange: the client's HMAC-MD5 of the
// challenge under the password verifies against the right password only.
func TestCramMD5(t *testing.T) {
	m, _ := New(CramMD5, Options{Host: "mmp.example"})
	var challenge string
	cr, err := Exchange(m, nil, func(c []byte) ([]byte, error) {
		challenge = string(c)
		mac := hmac.New(md5.New, []byte("tanstaaftanstaaf"))
		mac.Write(c)
		return []byte(b64("tim " + hex.EncodeToString(mac.Sum(nil)))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(challenge, "<") || !strings.HasSuffix(challenge, "@mmp.example>") {
		t.Errorf("challenge %q, want <...@mmp.example>", challenge)
	}
	if cr.User != "tim" || cr.Mechanism != CramMD5 || cr.Password != "" || cr.Verify == nil {
		t.Fatalf("credentials %+v", cr)
	}
	if !cr.Verify("tanstaaftanstaaf") || cr.Verify("wrong") {
		t.Error("Verify does not tell the right password from a wrong one")
	}
}

func ptr(s string) *string { return &s }
