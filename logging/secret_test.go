package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/openmmp/mmp/logging"
)

const password = "hunter2-SECRET"

// Credentials has the Secret in an exported field, the supported way of
// carrying one inside a struct.
type Credentials struct {
	User     string
	Password logging.Secret
}

func TestSecretFmt(t *testing.T) {
	s := logging.Secret(password)
	c := Credentials{User: "joe", Password: s}
	tests := []struct {
		name, got, want string
	}{
		{"%v", fmt.Sprintf("%v", s), "**redacted**"},
		{"%s", fmt.Sprintf("%s", s), "**redacted**"},
		{"%q", fmt.Sprintf("%q", s), `"**redacted**"`},
		{"%x", fmt.Sprintf("%x", s), "**redacted**"},
		{"%X", fmt.Sprintf("%X", s), "**redacted**"},
		{"%d", fmt.Sprintf("%d", s), "**redacted**"},
		{"%10s", fmt.Sprintf("%10s", s), "**redacted**"},
		{"%+v", fmt.Sprintf("%+v", s), "**redacted**"},
		{"%#v", fmt.Sprintf("%#v", s), `logging.Secret("**redacted**")`},
		{"Sprint", fmt.Sprint(s), "**redacted**"},
		{"Sprintln", fmt.Sprintln("pw", s), "pw **redacted**\n"},
		{"String", s.String(), "**redacted**"},
		{"pointer", fmt.Sprintf("%v", &s) + fmt.Sprintf("%s", &s), "**redacted****redacted**"},
		{"struct %v", fmt.Sprintf("%v", c), "{joe **redacted**}"},
		{"struct %+v", fmt.Sprintf("%+v", c), "{User:joe Password:**redacted**}"},
		{"struct %#v", fmt.Sprintf("%#v", c), `logging_test.Credentials{User:"joe", Password:logging.Secret("**redacted**")}`},
		{"struct pointer", fmt.Sprintf("%+v", &c), "&{User:joe Password:**redacted**}"},
		{"slice", fmt.Sprintf("%v %q", []logging.Secret{s}, []logging.Secret{s}), `[**redacted**] ["**redacted**"]`},
		{"map", fmt.Sprint(map[string]logging.Secret{"k": s}), "map[k:**redacted**]"},
		{"any", fmt.Sprintf("%v", any(s)), "**redacted**"},
		{"error", fmt.Errorf("bind %s failed: %w", s, errors.New("x")).Error(), "bind **redacted** failed: x"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
		if strings.Contains(tt.got, password) {
			t.Errorf("%s: password leaked: %q", tt.name, tt.got)
		}
	}
	if string(s) != password {
		t.Errorf("string(s) = %q, want the raw value %q", string(s), password)
	}
}

func TestSecretEncoders(t *testing.T) {
	s := logging.Secret(password)
	j, err := json.Marshal(Credentials{User: "joe", Password: s})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"User":"joe","Password":"**redacted**"}`; string(j) != want {
		t.Errorf("json.Marshal = %s, want %s", j, want)
	}
}

// TestSecretInLogLines logs a Secret in every way slog allows, through this
// package's handler and through the standard handlers.
func TestSecretInLogLines(t *testing.T) {
	s := logging.Secret(password)
	c := Credentials{User: "joe", Password: s}
	logAll := func(l *slog.Logger) {
		l.Info("args", "password", s)
		l.Info("attr", slog.Any("password", s))
		l.Info("group", slog.Group("login", "user", "joe", "password", s))
		l.Info("struct", "creds", c)
		l.Info("pointer", "creds", &c)
		l.With("password", s).Info("with")
		l.Info(fmt.Sprintf("message %v %s %q", s, s, s))
		l.Info("error", "err", fmt.Errorf("login %s: %w", s, errors.New("denied")))
		l.Info("slice", "pws", []logging.Secret{s, s})
	}

	lg, buf := open(t, nil)
	logAll(lg.Slog())
	logAll(lg.Session(1))
	if out := buf.String(); strings.Contains(out, password) || strings.Count(out, "**redacted**") < 18 {
		t.Errorf("log output leaks or lacks redaction:\n%s", out)
	}
	if out := buf.String(); !strings.Contains(out, "General Information: (id 1) args password=**redacted**\n") ||
		!strings.Contains(out, ": group login.user=joe login.password=**redacted**\n") ||
		!strings.Contains(out, ` creds="{User:joe Password:**redacted**}"`) {
		t.Errorf("unexpected rendering:\n%s", out)
	}

	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"TextHandler": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"JSONHandler": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		logAll(slog.New(h(&b)))
		if out := b.String(); strings.Contains(out, password) || !strings.Contains(out, "**redacted**") {
			t.Errorf("%s output leaks or lacks redaction:\n%s", name, out)
		}
	}
}
