package wire

import "bytes"

// ParseSMTPCommand splits an SMTP command line (without CRLF) into its verb,
// upper-cased, and the rest after the first space or tab with surrounding
// spaces and tabs removed (RFC 5321 §4.1.1: verb SP parameters; a tab
// there is what a client slipping a command past a filter would write). It never fails: the
// SMTP proxy looks only at EHLO, HELO, STARTTLS, AUTH and QUIT itself and
// relays or answers "500" for anything else, so judging the rest is the
// caller's or the relay's business. RFC 5321 §4.1.1 does ask servers to
// tolerate trailing white space, hence the trimming.
func ParseSMTPCommand(line []byte) (verb string, rest string) {
	v, r := line, []byte(nil)
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		v, r = line[:i], line[i+1:]
	}
	return upperName(v), string(bytes.Trim(r, " \t"))
}
