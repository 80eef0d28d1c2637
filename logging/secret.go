package logging

import (
	"fmt"
	"log/slog"
)

const redacted = "**redacted**"

// Secret holds a password or other credential. Every way of printing it —
// fmt verbs (%v, %s, %q, %x, %#v …), fmt.Sprint, slog attributes with any
// handler, and encoders using encoding.TextMarshaler such as encoding/json —
// yields **redacted**, so that a credential cannot end up in a log line or
// an error message by accident (style guide, example 14).
//
// The raw value is obtained with string(s), and only at the point of use:
// when replaying LOGIN to the store or binding to LDAP. Do not convert it
// earlier and carry the string around.
//
// Two holes remain that a string type cannot close. fmt cannot call methods
// on unexported struct fields, so printing a struct whose unexported field
// is a Secret with %v shows the raw value: do not print such structs, or
// give them their own String method, or keep the Secret in an exported
// field. And encoding/json writes map keys of any string type raw: do not
// key maps by Secret.
type Secret string

// LogValue makes slog resolve a Secret to **redacted** in every handler.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// String returns **redacted**; it is what %v and %s print.
func (Secret) String() string { return redacted }

// GoString returns a Go-syntax value without the secret, for %#v in places
// that consult GoStringer but not Formatter.
func (Secret) GoString() string { return `logging.Secret("` + redacted + `")` }

// Format handles every fmt verb, so that %q, %x or %d cannot reach the
// underlying string either.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		_, _ = f.Write([]byte(`"` + redacted + `"`))
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(redacted))
	default:
		_, _ = f.Write([]byte(redacted))
	}
}

// MarshalText returns **redacted**, so that encoding/json, encoding/xml and
// slog.JSONHandler (for a Secret nested inside another value) never see the
// raw value. There is deliberately no UnmarshalText: Secrets are read from
// configuration files as plain strings and converted.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
