// Package cfgfmt reads and writes the file formats and value grammars of the
// Sun/Netscape Messaging Multiplexor: the *.cfg files and their -def.cfg
// templates, the vdmap file, certmap.conf, sslpassword.conf, the Netscape 4.x
// ImapMMP.config/PopMMP.config shell fragments, and the grammars of values
// such as ServiceList, SSLPorts, ConnLimits, LdapUrl, TCPAccess filters and
// SearchFormat/ReplayFormat escapes (docs/reference.md §3).
//
// Files are kept losslessly: reading a file and writing it back gives the
// same bytes, and editing one value changes one line and keeps every
// comment, blank line and the order. Every entry and every error carries
// its file name and line number so that a mistake can be pointed at.
//
// cfgfmt knows grammars, not parameters: which names exist and what type
// their values have is the business of package param.
package cfgfmt

import "fmt"

// Error is a problem found at a place in a file. It renders as
// "file:line: Name: message", leaving out the parts that are unknown.
type Error struct {
	File string // file name as given to the parser; empty if not from a file
	Line int    // 1-based line number; 0 if unknown
	Name string // parameter or property name the problem concerns; may be empty
	Err  error
}

func (e *Error) Error() string {
	s := ""
	if e.File != "" {
		s = e.File + ":"
		if e.Line > 0 {
			s += fmt.Sprintf("%d:", e.Line)
		}
		s += " "
	} else if e.Line > 0 {
		s = fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Name != "" {
		s += e.Name + ": "
	}
	return s + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
