package wire

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// MaxPOPLine is the longest POP3 command line, CRLF included. RFC 2449 §4
// raised RFC 1939's 47 octets (4-octet keyword, space, 40-octet argument,
// CRLF) to 255 and says a server with CAPA MUST accept that much; the MMP
// answers CAPA. A PopProxy Reader's line limit must be at least
// MaxPOPLine-2 (more if SASL responses are to be longer).
const MaxPOPLine = 255

// maxXKeyword bounds private "X" keywords such as Sun's XQUERYAUTH.
const maxXKeyword = 16

// ParsePOPCommand splits a POP3 command line (without CRLF) into its keyword,
// upper-cased, and its arguments (RFC 1939 §3, RFC 2449 §3).
//
// The keyword is 3 or 4 printable characters, or a private keyword of up to
// 16 starting with "X" (the MMP's own XQUERYAUTH, docs/reference.md §4.3.2). Arguments are
// separated by exactly one space and may not be empty; each is printable
// ASCII or UTF-8. The RFC 1939 40-octet argument limit is not applied: RFC
// 2449 §4 lifted it along with the command length, and user names that are
// full e-mail addresses and RFC 5034 initial responses are longer; the line
// as a whole is limited to MaxPOPLine.
//
// PASS is different: as RFC 1939 §7 allows, its one argument is the rest of
// the line, spaces included, because passwords contain spaces. Any octet but
// NUL, CR and LF may be in it, since what a password may hold is for the
// store to say.
//
// The keyword is returned even when the arguments are bad, so a caller can
// log it; err wraps ErrBadSyntax (or ErrLineTooLong).
func ParsePOPCommand(line []byte) (name string, args []string, err error) {
	if len(line) > MaxPOPLine-2 {
		return "", nil, fmt.Errorf("wire: pop3: %w", ErrLineTooLong)
	}
	kw, rest, hasArgs := bytes.Cut(line, []byte{' '})
	if !validPOPKeyword(kw) {
		return "", nil, fmt.Errorf("wire: pop3: invalid keyword: %w", ErrBadSyntax)
	}
	name = upperName(kw)
	if !hasArgs {
		return name, nil, nil
	}
	if name == "PASS" {
		if len(rest) == 0 || bytes.ContainsAny(rest, "\x00\r\n") {
			return name, nil, fmt.Errorf("wire: pop3 PASS: empty or control characters: %w", ErrBadSyntax)
		}
		return name, []string{string(rest)}, nil
	}
	n := bytes.Count(rest, []byte{' '}) + 1
	args = make([]string, 0, n)
	for {
		arg, more, found := bytes.Cut(rest, []byte{' '})
		if !validPOPArg(arg) {
			return name, nil, fmt.Errorf("wire: pop3 %s: empty argument or invalid character: %w", name, ErrBadSyntax)
		}
		args = append(args, string(arg))
		if !found {
			return name, args, nil
		}
		rest = more
	}
}

func validPOPKeyword(kw []byte) bool {
	if len(kw) < 3 || len(kw) > 4 && (kw[0]|0x20 != 'x' || len(kw) > maxXKeyword) {
		return false
	}
	for _, c := range kw {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// validPOPArg: 1*VCHAR, widened to UTF-8 for internationalised user names
// (RFC 6856 does so after its UTF8 command; accepting it earlier harms
// nobody, since the directory decides whether such a user exists).
func validPOPArg(arg []byte) bool {
	if len(arg) == 0 {
		return false
	}
	high := false
	for _, c := range arg {
		switch {
		case c >= utf8.RuneSelf:
			high = true
		case c <= ' ' || c == 0x7f:
			return false
		}
	}
	return !high || utf8.Valid(arg)
}
