package cfgfmt

import (
	"errors"
	"fmt"
	"strings"
)

// This file reads and edits the Netscape 4.x ImapMMP.config and
// PopMMP.config files (docs/reference.md §3.12): Bourne-shell fragments sourced by the
// ImapMMP/PopMMP wrapper scripts, written by mmp-setup as
//
//	LDAPHost=ldap.airius.com:389; export LDAPHost
//	BaseDN="o=airius.com"; export BaseDN
//
// We never run a shell: a file is accepted only when every line is a plain
// assignment, an export, a comment or blank, so that what we read is what
// the shell would have put in the environment. Anything that would make the
// shell compute a value (command substitution, $ expansion, pipes,
// redirections, other commands) is reported instead of guessed at.

// EnvLine is one physical line of an ImapMMP.config file, kept byte for byte.
type EnvLine struct {
	Num int    // 1-based line number
	Raw string // the line's text without its end-of-line
	EOL string // "\n", "\r\n", or "" for a last line without newline

	// Var is the variable the line assigns, or, for a line that only
	// exports one name ("export NAME"), that name. Empty for blank lines,
	// comments and lines with errors.
	Var       string
	Value     string   // the assigned value after shell unquoting
	HasAssign bool     // the line assigns Var (NAME=value or export NAME=value)
	Exported  bool     // the line exports Var
	Exports   []string // every name the line exports, in order ("export A B")

	// valStart and valEnd delimit the value text (with its quotes) of the
	// assignment in Raw, so that Set can replace only that text.
	valStart, valEnd int
}

// EnvFile is a whole ImapMMP.config or PopMMP.config file.
type EnvFile struct {
	Name  string // file name used in errors
	Lines []*EnvLine
}

const notPlain = "not a plain NAME=value assignment"

// ParseEnv reads an ImapMMP.config/PopMMP.config file. Accepted per line:
// blank lines, "#" comments, NAME=value, export NAME, export NAME=value,
// and several of these separated by ';' (at most one assignment per line,
// which is what mmp-setup writes and keeps edits simple), with an optional
// trailing "# comment". Values may use single quotes (literal), double
// quotes (with the \" \\ \$ \` escapes) and backslash escapes. Every other
// line is reported as an *Error and parsing continues. CRLF line ends and a
// UTF-8 BOM on line 1 are tolerated although a real shell would not like
// them, because such files are read here, never sourced.
func ParseEnv(name string, data []byte) (*EnvFile, []error) {
	f := &EnvFile{Name: name}
	var errs []error
	for i, pl := range physLines(string(data)) {
		l, err := parseEnvLine(name, i+1, pl[0], pl[1])
		f.Lines = append(f.Lines, l)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return f, errs
}

// shellWord is one word of a simple command after quote removal.
type shellWord struct {
	start, end int    // offsets of the word in the line
	text       string // after quote removal
	plain      bool   // no quotes or backslashes at all
	assign     bool   // starts with an unquoted NAME=
	name       string // assign: NAME
	valStart   int    // assign: offset in the line of the value text
	value      string // assign: value after quote removal
}

// isShellName reports whether s is a shell variable name.
func isShellName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// envLexError is a problem found while splitting a line into words.
type envLexError string

// lexShellLine splits one line into commands (separated by ';') of words.
// It understands exactly the quoting a plain assignment may use and
// refuses everything that would make the shell substitute or run something.
func lexShellLine(raw string, start int) ([][]shellWord, envLexError) {
	var cmds [][]shellWord
	var cur []shellWord
	i := start
	for {
		i = skipWSP(raw, i)
		if i == len(raw) || raw[i] == '#' {
			break
		}
		if raw[i] == ';' {
			if len(cur) == 0 {
				return nil, "empty command before ';'"
			}
			cmds = append(cmds, cur)
			cur = nil
			i++
			continue
		}
		w, next, err := lexShellWord(raw, i)
		if err != "" {
			return nil, err
		}
		cur = append(cur, w)
		i = next
	}
	if len(cur) > 0 {
		cmds = append(cmds, cur)
	}
	return cmds, ""
}

// lexShellWord reads the word starting at raw[i].
func lexShellWord(raw string, i int) (shellWord, int, envLexError) {
	w := shellWord{start: i, plain: true}
	var b strings.Builder
	// An unquoted NAME= at the start of a word makes it an assignment.
	if j := strings.IndexByte(raw[i:], '='); j > 0 && isShellName(raw[i:i+j]) {
		w.assign, w.name = true, raw[i:i+j]
		b.WriteString(raw[i : i+j+1])
		i += j + 1
		w.valStart = i
	}
	valAt := b.Len()    // where the value starts in b
	afterColon := false // the previous value byte was an unquoted ':'
	for i < len(raw) {
		c := raw[i]
		if isWSPByte(c) || c == ';' {
			break
		}
		tildeSpot := w.assign && (b.Len() == valAt || afterColon)
		afterColon = false
		switch c {
		case '\\':
			w.plain = false
			if i+1 == len(raw) {
				return w, 0, "line continuation (backslash at end of line) is not supported"
			}
			b.WriteByte(raw[i+1])
			i += 2
		case '\'':
			w.plain = false
			j := strings.IndexByte(raw[i+1:], '\'')
			if j < 0 {
				return w, 0, "unterminated single quote"
			}
			b.WriteString(raw[i+1 : i+1+j])
			i += j + 2
		case '"':
			w.plain = false
			i++
			for {
				if i == len(raw) {
					return w, 0, "unterminated double quote"
				}
				d := raw[i]
				if d == '"' {
					i++
					break
				}
				switch d {
				case '\\':
					if i+1 < len(raw) && strings.IndexByte("$`\"\\", raw[i+1]) >= 0 {
						b.WriteByte(raw[i+1])
						i += 2
						continue
					}
					if i+1 == len(raw) {
						return w, 0, "unterminated double quote"
					}
				case '$', '`':
					return w, 0, envLexError(fmt.Sprintf("%s: %q expansion", notPlain, d))
				}
				b.WriteByte(d)
				i++
			}
		case '$', '`':
			return w, 0, envLexError(fmt.Sprintf("%s: %q expansion", notPlain, c))
		case '|', '&', '<', '>', '(', ')':
			return w, 0, envLexError(fmt.Sprintf("%s: shell operator %q", notPlain, c))
		case '~':
			if tildeSpot {
				return w, 0, envLexError(notPlain + ": tilde expansion")
			}
			b.WriteByte(c)
			i++
		default:
			afterColon = c == ':'
			b.WriteByte(c)
			i++
		}
	}
	w.end = i
	w.text = b.String()
	if w.assign {
		w.value = w.text[valAt:]
	}
	return w, i, ""
}

// parseEnvLine classifies one physical line.
func parseEnvLine(file string, num int, raw, eol string) (*EnvLine, error) {
	l := &EnvLine{Num: num, Raw: raw, EOL: eol}
	start := 0
	if num == 1 && strings.HasPrefix(raw, utf8BOM) {
		start = len(utf8BOM)
	}
	fail := func(name, msg string) (*EnvLine, error) {
		l.Var, l.Value, l.HasAssign, l.Exported, l.Exports = "", "", false, false, nil
		return l, &Error{File: file, Line: num, Name: name, Err: errors.New(msg)}
	}
	if strings.IndexByte(raw, '\r') >= 0 {
		if i := skipWSP(raw, start); i == len(raw) || raw[i] != '#' {
			return fail("", "stray carriage return (CR not followed by LF)")
		}
	}
	cmds, lexErr := lexShellLine(raw, start)
	if lexErr != "" {
		return fail("", string(lexErr))
	}
	var assigned *shellWord
	for _, cmd := range cmds {
		first := cmd[0]
		var assigns []shellWord
		switch {
		case first.assign:
			if len(cmd) > 1 {
				return fail(first.name, notPlain+": more than one word (quote a value that contains blanks)")
			}
			assigns = cmd[:1]
		case first.plain && first.text == "export":
			if len(cmd) == 1 {
				return fail("", notPlain+": export without a name")
			}
			for _, w := range cmd[1:] {
				switch {
				case w.assign:
					assigns = append(assigns, w)
					l.Exports = append(l.Exports, w.name)
				case w.plain && isShellName(w.text):
					l.Exports = append(l.Exports, w.text)
				default:
					return fail("", fmt.Sprintf("%s: %q is not a variable name", notPlain, raw[w.start:w.end]))
				}
			}
		default:
			return fail("", notPlain)
		}
		for k := range assigns {
			if assigned != nil {
				return fail(assigns[k].name, "more than one assignment on one line")
			}
			assigned = &assigns[k]
		}
	}
	switch {
	case assigned != nil:
		l.Var, l.Value, l.HasAssign = assigned.name, assigned.value, true
		l.valStart, l.valEnd = assigned.valStart, assigned.end
	case len(l.Exports) == 1:
		l.Var = l.Exports[0]
	}
	for _, e := range l.Exports {
		if l.Var != "" && e == l.Var {
			l.Exported = true
		}
	}
	return l, nil
}

// Bytes returns the file's exact bytes.
func (f *EnvFile) Bytes() []byte {
	var b strings.Builder
	for _, l := range f.Lines {
		b.WriteString(l.Raw)
		b.WriteString(l.EOL)
	}
	return []byte(b.String())
}

// Vars returns the assignment lines in file order; a later assignment of a
// variable overrides an earlier one, as in the shell.
func (f *EnvFile) Vars() []*EnvLine {
	var out []*EnvLine
	for _, l := range f.Lines {
		if l.HasAssign {
			out = append(out, l)
		}
	}
	return out
}

// Lookup returns the last assignment of the variable, compared
// case-insensitively like every parameter name (docs/reference.md §7.21), or nil.
func (f *EnvFile) Lookup(name string) *EnvLine {
	for i := len(f.Lines) - 1; i >= 0; i-- {
		if l := f.Lines[i]; l.HasAssign && strings.EqualFold(l.Var, name) {
			return l
		}
	}
	return nil
}

// Exported reports whether any line exports the variable (case-insensitive).
// A variable that is assigned but never exported is not seen by the proxy
// started by the ImapMMP script, so importers may want to warn about it.
func (f *EnvFile) Exported(name string) bool {
	for _, l := range f.Lines {
		for _, e := range l.Exports {
			if strings.EqualFold(e, name) {
				return true
			}
		}
	}
	return false
}

// Set gives the variable the value. An existing assignment (the last one)
// is edited in place: only the value text changes, keeping the line's
// spelling of the name, its "; export NAME" and any comment, and keeping
// its quoting style (a double-quoted value stays double-quoted, a
// single-quoted one single-quoted; an unquoted one is single-quoted only
// if the new value needs it). Otherwise "NAME=value; export NAME" is
// appended with the file's dominant line end. Values with a line break or
// a NUL byte cannot be written to a line-oriented file and are rejected.
func (f *EnvFile) Set(name, value string) (*EnvLine, error) {
	fail := func(line int, format string, args ...any) (*EnvLine, error) {
		return nil, &Error{File: f.Name, Line: line, Name: name, Err: fmt.Errorf(format, args...)}
	}
	if !isShellName(name) {
		return fail(0, "not a shell variable name")
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fail(0, "value contains a line break or NUL byte")
	}
	if l := f.Lookup(name); l != nil {
		if l.Value == value {
			return l, nil
		}
		var text string
		switch old := l.Raw[l.valStart:l.valEnd]; {
		case strings.HasPrefix(old, `"`):
			text = shellDoubleQuote(value)
		case strings.HasPrefix(old, `'`):
			text = shellSingleQuote(value)
		default:
			text = ShellQuote(value)
		}
		raw := l.Raw[:l.valStart] + text + l.Raw[l.valEnd:]
		n, err := parseEnvLine(f.Name, l.Num, raw, l.EOL)
		if err != nil || !n.HasAssign || n.Var != l.Var || n.Value != value {
			return fail(l.Num, "cannot be written so that it reads back unchanged")
		}
		*l = *n
		return l, nil
	}
	eol := f.dominantEOL()
	n, err := parseEnvLine(f.Name, len(f.Lines)+1, FormatEnv(name, value), eol)
	if err != nil || !n.HasAssign || n.Var != name || n.Value != value {
		return fail(0, "cannot be written so that it reads back unchanged")
	}
	if k := len(f.Lines); k > 0 {
		terminate(&f.Lines[k-1].EOL, f.Lines[k-1].Raw, eol)
	}
	f.Lines = append(f.Lines, n)
	return n, nil
}

func (f *EnvFile) dominantEOL() string {
	crlf, lf := 0, 0
	for _, l := range f.Lines {
		switch l.EOL {
		case "\r\n":
			crlf++
		case "\n":
			lf++
		}
	}
	if crlf > lf {
		return "\r\n"
	}
	return "\n"
}

// FormatEnv returns "NAME=value; export NAME", the line mmp-setup writes to
// ImapMMP.config and `ImapProxy install` prints, with value quoted for the
// Bourne shell when needed (see ShellQuote). name must be a shell variable
// name; it is written as given.
func FormatEnv(name, value string) string {
	return name + "=" + ShellQuote(value) + "; export " + name
}

// ShellQuote returns value as a single Bourne-shell word: unchanged when it
// is made only of characters that are never special in an assignment,
// else in single quotes, inside which nothing is special. A single quote
// in the value ends the quoting, is escaped and reopens it, and the empty
// value is a pair of quotes:
//
//	it's  ->  'it'\''s'
//	      ->  ''
func ShellQuote(value string) string {
	if value == "" {
		return "''"
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_./:,@%+=", c) >= 0 {
			continue
		}
		return shellSingleQuote(value)
	}
	return value
}

func shellSingleQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// shellDoubleQuote quotes v in double quotes, escaping the four characters
// that stay special inside them.
func shellDoubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if strings.IndexByte("$`\"\\", v[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}
