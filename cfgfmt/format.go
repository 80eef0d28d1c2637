package cfgfmt

import (
	"fmt"
	"strings"
)

// Escape letters allowed by each format parameter (docs/reference.md §3.8).
const (
	// SearchEscapes are the escapes of SearchFormat, DomainSearchFormat
	// and N4 UidSearch: %o %s %U %V %C %S %D.
	SearchEscapes = "osUVCSD"
	// ReplayEscapes are the escapes of ReplayFormat: %U %V %A[attr], and
	// the 7.x additions %s and %o.
	ReplayEscapes = "UVAso"
)

// Format is a parsed printf-style template: SearchFormat,
// DomainSearchFormat, ReplayFormat or UidSearch (docs/reference.md §3.8). The zero
// Format is the empty template.
type Format struct {
	text  string
	parts []formatPart
}

// formatPart is a literal (esc == 0) or an escape with its %A argument.
type formatPart struct {
	lit string
	esc byte
	arg string
}

// ParseFormat parses s, permitting the escape letters in allowed (see
// SearchEscapes, ReplayEscapes). "%%" is a literal percent sign. "%A" must
// be followed by an attribute name in brackets, %A[uid]; attribute names
// are letters, digits, "-" and ";" (for options such as cn;lang-fr). An
// escape that is not allowed, a "%" at the end and a malformed %A are
// errors that give the 1-based byte position of the "%": a template that
// quietly kept "%x" would send a wrong filter to the directory on every
// login.
func ParseFormat(s string, allowed string) (Format, error) {
	f := Format{text: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.parts = append(f.parts, formatPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		pos := i + 1
		if i+1 >= len(s) {
			return Format{}, fmt.Errorf("position %d: %q at the end of the format; write %%%% for a literal percent sign", pos, "%")
		}
		e := s[i+1]
		if e == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		if e >= 0x80 || strings.IndexByte(allowed, e) < 0 {
			return Format{}, fmt.Errorf("position %d: unknown escape %q: want one of %s or %%%%", pos, s[i:i+2], escapeList(allowed))
		}
		i++
		arg := ""
		if e == 'A' {
			rest := s[i+1:]
			if !strings.HasPrefix(rest, "[") {
				return Format{}, fmt.Errorf("position %d: %%A needs an attribute name in brackets, as in %%A[uid]", pos)
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return Format{}, fmt.Errorf("position %d: missing \"]\" after %%A[", pos)
			}
			arg = rest[1:end]
			if !isAttrName(arg) {
				return Format{}, fmt.Errorf("position %d: bad attribute name %q in %%A[...]", pos, arg)
			}
			i += end + 1
		}
		flush()
		f.parts = append(f.parts, formatPart{esc: e, arg: arg})
	}
	flush()
	return f, nil
}

// escapeList writes the allowed escapes for an error message.
func escapeList(allowed string) string {
	s := make([]string, 0, len(allowed))
	for i := 0; i < len(allowed); i++ {
		if allowed[i] == 'A' {
			s = append(s, "%A[attr]")
		} else {
			s = append(s, "%"+allowed[i:i+1])
		}
	}
	return strings.Join(s, " ")
}

// isAttrName reports whether s is an LDAP attribute description as the
// spec allows in %A[...]: letters, digits, "-" and ";", not empty.
func isAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == ';') {
			return false
		}
	}
	return true
}

// Expand returns the template with each escape replaced by
// value(letter, arg), arg being the attribute name of %A[attr] and ""
// otherwise. Literal text is copied as it is, "%%" as "%". Escaping the
// values (RFC 4515 for a filter) is value's job, since only the caller
// knows what the result is for.
func (f Format) Expand(value func(esc byte, arg string) string) string {
	var b strings.Builder
	for _, p := range f.parts {
		if p.esc == 0 {
			b.WriteString(p.lit)
		} else {
			b.WriteString(value(p.esc, p.arg))
		}
	}
	return b.String()
}

// Attrs lists the attributes named by %A[attr], in order of first use and
// without repeats (compared case-insensitively, as LDAP does), so that
// the caller can ask the directory for them.
func (f Format) Attrs() []string {
	var out []string
next:
	for _, p := range f.parts {
		if p.esc != 'A' {
			continue
		}
		for _, a := range out {
			if strings.EqualFold(a, p.arg) {
				continue next
			}
		}
		out = append(out, p.arg)
	}
	return out
}

// Uses reports whether the template contains the escape esc, e.g. whether
// a SearchFormat needs the client certificate's subject DN (%D).
func (f Format) Uses(esc byte) bool {
	for _, p := range f.parts {
		if p.esc != 0 && p.esc == esc {
			return true
		}
	}
	return false
}

// String returns the template as it was written.
func (f Format) String() string { return f.text }

// FilterText returns an expanded search filter in parentheses, wrapping
// one written without them (uid=%s) as (uid=...). The S6 defaults had no
// parentheses and 7.x defaults have them (docs/reference.md §7.13), so both must
// work. A filter that is already one parenthesised group is returned as it
// is; surrounding blanks are removed.
func FilterText(expanded string) string {
	s := trimBlanks(expanded)
	if s == "" || isOneGroup(s) {
		return s
	}
	return "(" + s + ")"
}

// isOneGroup reports whether s is "(" ... ")" with the first parenthesis
// closed by the last. A backslash escapes the next byte, for filters in
// the RFC 1960 style that wrote \( and \).
func isOneGroup(s string) bool {
	if s[0] != '(' || s[len(s)-1] != ')' {
		return false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i == len(s)-1
			}
		}
	}
	return false
}
