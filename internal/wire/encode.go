package wire

import "strconv"

// AppendAstring appends s to dst in the plainest IMAP form a store will read
// back unchanged, for replaying strings to it:
//
//   - as an atom when s is not empty, not "NIL" in any case, and made only of
//     RFC 3501 ATOM-CHARs (so without "]": RFC 2060 stores do not take it in
//     an atom, though RFC 3501 astrings may contain it);
//   - as a quoted string when every octet is printable 7-bit other than '"'
//     and '\'.
//
// Otherwise — CR, LF, NUL, other controls, 8-bit octets, '"' or '\' — it
// appends nothing and returns ok false: s must go as a literal, written with
// LiteralHeader. Quotes and backslashes could be escaped, but credentials are
// replayed as literals anyway (never by quoting), and a literal leaves no
// escaping for a store to get wrong. A NUL cannot be sent at all: IMAP
// literals exclude it, and such a value must be refused.
func AppendAstring(dst []byte, s string) (b []byte, ok bool) {
	atom := s != "" && !(len(s) == 3 && (s[0]|0x20) == 'n' && (s[1]|0x20) == 'i' && (s[2]|0x20) == 'l')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return dst, false
		}
		if !atomChars[c] {
			atom = false
		}
	}
	if atom {
		return append(dst, s...), true
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), true
}

// LiteralHeader returns the header of an n-octet literal: "{n}", or "{n+}"
// when plus is set and the store advertised LITERAL+ (RFC 7888). The caller
// writes CRLF after it and, for a synchronising literal, waits for the
// store's "+" before writing the octets.
func LiteralHeader(n int, plus bool) string {
	b := make([]byte, 0, 24)
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(n), 10)
	if plus {
		b = append(b, '+')
	}
	return string(append(b, '}'))
}
