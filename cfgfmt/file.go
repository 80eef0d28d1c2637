package cfgfmt

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// This file holds the one line model shared by the three "PREFIX:Name value"
// formats of the MMP (docs/reference.md §3.1, §3.5, §3.7):
//
//	*.cfg         default:LdapUrl ldap://phonebook.siroe.com/o=internet
//	vdmap         vdmap siroe 192.168.10.5
//	              siroe:DefaultDomain siroe.com
//	certmap.conf  certmap siroeca ou=Siroe CA, o=siroe.com, c=US
//	              siroeca:FilterComps ou=uid
//
// The files are edited by hand by administrators and by our tools, so the
// model keeps every physical line byte for byte (comments, blank lines,
// white space, line ends, a BOM) and edits touch as few lines as possible.

// Kind tells what a physical line is.
type Kind int

const (
	Blank   Kind = iota // empty or only blanks and tabs
	Comment             // first non-blank character is '#'
	Setting             // PREFIX:Name [value]
	Header              // vdmap NAME IPADDR, certmap NAME ISSUER-DN
	Bad                 // none of the above; Parse reported an error for it
)

var kindNames = [...]string{"Blank", "Comment", "Setting", "Header", "Bad"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Line is one physical line, kept byte for byte: Raw+EOL is exactly what was
// read (or what an edit wrote). The other fields are derived from Raw.
type Line struct {
	Num  int    // 1-based line number; kept consistent after edits
	Raw  string // the line's text without its end-of-line
	EOL  string // "\n", "\r\n", or "" for a last line without newline
	Kind Kind

	Prefix string // Setting: the part before ':' (cfg: section such as "default"; vdmap/certmap: block NAME), verbatim case
	Name   string // Setting: parameter/property name, verbatim case
	Value  string // Setting: value without its surrounding quotes, trailing blanks trimmed; "" if absent
	Quoted bool   // Setting: the value was written in double quotes

	Keyword string // Header: "vdmap" or "certmap" (lower-cased)
	Label   string // Header: the block name
	Arg     string // Header: vdmap: the IP address; certmap: the issuer DN (rest of line, verbatim inside, trailing blanks trimmed)

	// Commented is set on a Comment that is a commented-out setting such as
	// "#default:SSLEnable yes" (the templates ship the SSL block that way).
	// Prefix, Name, Value and Quoted are then filled in from it, so that Set
	// can uncomment the line in place instead of appending a duplicate.
	Commented bool

	// valStart is the byte offset in Raw where the value text (including an
	// opening quote) starts, or where a value would start when there is none.
	// hasSep reports whether white space separates the name from valStart.
	// They let Set rewrite only the value and keep everything before it.
	valStart int
	hasSep   bool
	// hashAt is, for a Commented line, the offset of its '#' in Raw.
	hashAt int
}

// File is a whole *.cfg, vdmap or certmap.conf file, kept line by line.
// Which of the three it is comes from Parse; a zero File is an empty *.cfg
// file, to which settings can be added with Set.
type File struct {
	Name  string  // file name used in errors
	Lines []*Line // every physical line, in order

	// keyword is the header keyword of the syntax ("" for *.cfg).
	keyword string
}

// ErrUndeclaredBlock is wrapped by the error Parse reports for a vdmap or
// certmap property line whose block (the "vdmap NAME ..." or
// "certmap NAME ..." line) does not appear above it. The line is still a
// valid Setting; docs/reference.md §3.5 asks for a warning, so callers can tell this
// case apart with errors.Is and decide how severe it is.
var ErrUndeclaredBlock = errors.New("property of an undeclared block")

// ErrDuplicateBlock is wrapped by the error Parse reports for a second
// header with the same block name: its properties could not be told apart
// from the first block's.
var ErrDuplicateBlock = errors.New("block declared twice")

// kindError is an error message that also matches a sentinel with errors.Is
// without the sentinel's text showing up in the message.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

const utf8BOM = "\uFEFF"

// Parse reads a *.cfg file (headerKeyword ""), a vdmap file ("vdmap") or a
// certmap.conf ("certmap"). It never fails as a whole: a line it cannot
// understand becomes a Bad line and yields an *Error naming file and line,
// and parsing goes on so that every problem is reported at once. The
// returned File always gives back the input's exact bytes.
//
// Accepted beyond the documented grammar, because hand-edited files have
// them: CRLF and mixed line ends, tabs as blanks, leading blanks before a
// setting or header, blanks between "SECTION:" and the name (the Sun
// Administration Reference prints "default: EhloKeywords TURN"), a UTF-8
// byte order mark on line 1, and a last line without newline. A carriage return that is not part of a CRLF line end is
// an error outside comments, since it would silently become part of a value.
// There are no trailing comments: a '#' after the name is part of the value
// (passwords may contain one).
//
// A comment that reads as a setting once its '#' is removed is marked
// Commented, so that Set can switch it back on.
//
// In a vdmap or certmap file Parse also reports a property whose block has
// no header above it (ErrUndeclaredBlock; docs/reference.md §3.5 asks for a warning) and
// a second header with the same block name (ErrDuplicateBlock). Those lines
// keep their Kind; the errors can be told apart with errors.Is.
func Parse(name string, data []byte, headerKeyword string) (*File, []error) {
	f := &File{Name: name, keyword: strings.ToLower(headerKeyword)}
	var errs []error
	declared := map[string]int{} // foldKey(block label) -> line of its header
	for i, pl := range physLines(string(data)) {
		l, err := f.parseLine(i+1, pl[0], pl[1])
		f.Lines = append(f.Lines, l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f.keyword == "" {
			continue
		}
		switch l.Kind {
		case Header:
			key := foldKey(l.Label)
			if first, ok := declared[key]; ok {
				errs = append(errs, &Error{File: name, Line: l.Num, Err: &kindError{
					msg:  fmt.Sprintf("block %q already declared on line %d", l.Label, first),
					kind: ErrDuplicateBlock,
				}})
				continue
			}
			declared[key] = l.Num
		case Setting:
			if _, ok := declared[foldKey(l.Prefix)]; !ok {
				errs = append(errs, &Error{File: name, Line: l.Num, Name: l.Name, Err: &kindError{
					msg:  fmt.Sprintf("block %q is not declared above (expected \"%s %s %s\" first)", l.Prefix, f.keyword, l.Prefix, headerArgName(f.keyword)),
					kind: ErrUndeclaredBlock,
				}})
			}
		}
	}
	return f, errs
}

// foldKey maps s to a key that two strings share exactly when
// strings.EqualFold holds for them (each rune is replaced by the smallest
// rune of its simple case-folding orbit), so that a map can do what Lookup
// and Set do with EqualFold. strings.ToLower would not: it does not fold
// 'ſ' to 's', which EqualFold does.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// physLines splits s into [text, eol] pairs. Only "\n" ends a line; a "\r"
// just before it belongs to the end-of-line. A trailing empty string after a
// final newline is not a line.
func physLines(s string) [][2]string {
	var out [][2]string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, [2]string{s, ""})
			break
		}
		text, eol := s[:i], "\n"
		if i > 0 && s[i-1] == '\r' {
			text, eol = s[:i-1], "\r\n"
		}
		out = append(out, [2]string{text, eol})
		s = s[i+1:]
	}
	return out
}

func isWSPByte(c byte) bool { return c == ' ' || c == '\t' }

// skipWSP returns the offset of the first non-blank byte of s at or after i.
func skipWSP(s string, i int) int {
	for i < len(s) && isWSPByte(s[i]) {
		i++
	}
	return i
}

// trimWSPRight removes trailing blanks and tabs.
func trimWSPRight(s string) string {
	return strings.TrimRight(s, " \t")
}

// indexWSP returns the offset of the first blank or tab in s, or len(s).
func indexWSP(s string) int {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return i
	}
	return len(s)
}

func headerArgName(keyword string) string {
	switch keyword {
	case "vdmap":
		return "IPADDR"
	case "certmap":
		return "ISSUER-DN"
	}
	return "ARG"
}

// expectedMsg is the message for a line that is nothing we know.
func (f *File) expectedMsg() string {
	if f.keyword == "" {
		return `expected "section:Name value"`
	}
	return fmt.Sprintf(`expected "NAME:Property value" or "%s NAME %s"`, f.keyword, headerArgName(f.keyword))
}

// parseLine classifies one physical line. It returns the Line (Bad when it
// cannot be understood) and, for a Bad line, the *Error to report.
func (f *File) parseLine(num int, raw, eol string) (*Line, error) {
	l := &Line{Num: num, Raw: raw, EOL: eol}
	start := 0
	if num == 1 && strings.HasPrefix(raw, utf8BOM) {
		start = len(utf8BOM)
	}
	i := skipWSP(raw, start)
	if i == len(raw) {
		l.Kind = Blank
		return l, nil
	}
	if raw[i] == '#' {
		l.Kind = Comment
		body := skipWSP(raw, i+1)
		// A comment is a commented-out setting only in the compact form
		// "#default:Name": prose such as "# Note: see below" is not.
		if s, ok := parseSettingAt(raw, body, false); ok && s.err == "" {
			l.Commented = true
			l.hashAt = i
			s.fill(l)
		}
		return l, nil
	}
	bad := func(name, msg string) (*Line, error) {
		l.Kind = Bad
		return l, &Error{File: f.Name, Line: num, Name: name, Err: errors.New(msg)}
	}
	if strings.IndexByte(raw, '\r') >= 0 {
		return bad("", "stray carriage return (CR not followed by LF)")
	}
	tok := raw[i : i+indexWSP(raw[i:])]
	if f.keyword != "" && strings.EqualFold(tok, f.keyword) {
		return f.parseHeader(l, i+len(tok), bad)
	}
	s, ok := parseSettingAt(raw, i, true)
	if !ok {
		return bad("", f.expectedMsg())
	}
	if s.err != "" {
		return bad(s.errName, s.err)
	}
	l.Kind = Setting
	s.fill(l)
	return l, nil
}

// parseHeader parses the rest of "keyword LABEL ARG" starting at offset i.
func (f *File) parseHeader(l *Line, i int, bad func(name, msg string) (*Line, error)) (*Line, error) {
	raw := l.Raw
	want := fmt.Sprintf(`expected "%s NAME %s"`, f.keyword, headerArgName(f.keyword))
	i = skipWSP(raw, i)
	label := raw[i : i+indexWSP(raw[i:])]
	if label == "" {
		return bad("", want)
	}
	if strings.IndexByte(label, ':') >= 0 {
		return bad("", fmt.Sprintf("block name %q must not contain ':'", label))
	}
	if label[0] == '#' {
		return bad("", fmt.Sprintf("block name %q must not start with '#'", label))
	}
	arg := trimWSPRight(raw[skipWSP(raw, i+len(label)):])
	if arg == "" {
		return bad("", want)
	}
	l.Kind = Header
	l.Keyword = f.keyword
	l.Label = label
	l.Arg = arg
	return l, nil
}

// settingParse is the result of parseSettingAt.
type settingParse struct {
	prefix, name, value string
	quoted              bool
	valStart            int
	hasSep              bool
	err                 string // non-empty: it looked like a setting but is broken
	errName             string // the name, when known, for the error
}

func (s *settingParse) fill(l *Line) {
	l.Prefix, l.Name, l.Value, l.Quoted = s.prefix, s.name, s.value, s.quoted
	l.valStart, l.hasSep = s.valStart, s.hasSep
}

// parseSettingAt parses "prefix:name [value]" in raw from offset i, where
// raw[i] is not white space. ok is false when the first word has no ':' at
// all (the line is not a setting); a setting with a broken value or an
// empty prefix or name has ok true and err set.
//
// With spaced, blanks may separate "prefix:" from the name, as in the
// Sun Administration Reference's own EhloKeywords example
// "default: EhloKeywords TURN". The blanks stay in Raw, before valStart,
// so Set keeps them.
func parseSettingAt(raw string, i int, spaced bool) (s settingParse, ok bool) {
	tok := raw[i : i+indexWSP(raw[i:])]
	c := strings.IndexByte(tok, ':')
	if c < 0 {
		return s, false
	}
	s.prefix, s.name = tok[:c], tok[c+1:]
	if spaced && s.name == "" && c == len(tok)-1 {
		// "prefix:" ends the word: the name is the next word, if any.
		j := skipWSP(raw, i+len(tok))
		name := raw[j : j+indexWSP(raw[j:])]
		if name != "" {
			s.name = name
			i, tok = j, name // the value follows the name
		}
	}
	switch {
	case s.prefix == "":
		s.err = "missing section or block name before ':'"
		return s, true
	case s.prefix[0] == '#':
		// Cannot happen for a live line; in a comment body it would be a
		// comment inside a comment, not a setting.
		s.err = "section must not start with '#'"
		return s, true
	case s.name == "":
		s.err = fmt.Sprintf("missing name after %q", s.prefix+":")
		return s, true
	case strings.IndexByte(s.name, ':') >= 0:
		// Only the part before the ':' is shown: in a line such as
		// "default:BindPass:secret" the rest is a password.
		c := strings.IndexByte(s.name, ':')
		s.err = fmt.Sprintf("expected white space after name %q, found ':'", s.name[:c])
		return s, true
	}
	s.errName = s.name
	end := i + len(tok)
	s.valStart = skipWSP(raw, end)
	s.hasSep = s.valStart > end
	text := trimWSPRight(raw[s.valStart:])
	if strings.IndexByte(text, '\r') >= 0 {
		s.err = "stray carriage return (CR not followed by LF)"
		return s, true
	}
	if text == "" || text[0] != '"' {
		s.value = text
		return s, true
	}
	closing := strings.IndexByte(text[1:], '"')
	if closing < 0 {
		s.err = "unterminated quoted value"
		return s, true
	}
	if rest := strings.TrimLeft(text[closing+2:], " \t"); rest != "" {
		// The text is not quoted: the value may be a password.
		s.err = "unexpected text after closing quote"
		return s, true
	}
	s.value = text[1 : closing+1]
	s.quoted = true
	return s, true
}

// Bytes returns the file's exact bytes: the concatenation of Raw+EOL of
// every line. For a file that was not edited it equals the parsed input.
func (f *File) Bytes() []byte {
	n := 0
	for _, l := range f.Lines {
		n += len(l.Raw) + len(l.EOL)
	}
	b := make([]byte, 0, n)
	for _, l := range f.Lines {
		b = append(b, l.Raw...)
		b = append(b, l.EOL...)
	}
	return b
}

// Settings returns the Setting lines in file order. Later lines override
// earlier ones with the same prefix and name (docs/reference.md §3.1).
func (f *File) Settings() []*Line { return f.linesOf(Setting) }

// Headers returns the Header lines (vdmap or certmap blocks) in file order.
func (f *File) Headers() []*Line { return f.linesOf(Header) }

func (f *File) linesOf(k Kind) []*Line {
	var out []*Line
	for _, l := range f.Lines {
		if l.Kind == k {
			out = append(out, l)
		}
	}
	return out
}

// Lookup returns the last Setting with that prefix and name, both compared
// case-insensitively (docs/reference.md §2.0: names are case-insensitive), or nil. The
// last one is the one in force.
func (f *File) Lookup(prefix, name string) *Line {
	for i := len(f.Lines) - 1; i >= 0; i-- {
		if l := f.Lines[i]; l.Kind == Setting && l.matches(prefix, name) {
			return l
		}
	}
	return nil
}

func (l *Line) matches(prefix, name string) bool {
	return strings.EqualFold(l.Prefix, prefix) && strings.EqualFold(l.Name, name)
}

// header returns the index of the last header with that label, or -1.
func (f *File) header(label string) int {
	for i := len(f.Lines) - 1; i >= 0; i-- {
		if l := f.Lines[i]; l.Kind == Header && strings.EqualFold(l.Label, label) {
			return i
		}
	}
	return -1
}

// Set gives prefix:name the value, changing as little of the file as it
// can, because the files are also edited by hand:
//
//   - If the setting exists, only its last line is rewritten. Its spelling
//     of prefix and name, the white space before the value and its line end
//     are kept; only the value text changes.
//   - Else, if a commented-out setting of that prefix and name exists (the
//     SSL block of ImapProxyAService-def.cfg), the last one is uncommented
//     in place and given the value. In a vdmap or certmap file this is done
//     only for a comment below the block's header.
//   - Else a new line "prefix:name value" is added: at the end of a *.cfg
//     file, and in a vdmap or certmap file right after the last setting of
//     the block whose header has the label prefix, spelt as in the header
//     (an error if there is no such block: add it first with AddHeader).
//     It gets the file's dominant line end; if the file's last line had no
//     line end it gets one.
//
// The value is written in double quotes when it is empty, starts or ends
// with a blank, or starts with '"' (all of which would otherwise read back
// differently), and also when the line being rewritten was quoted, to keep
// the administrator's style. An empty value in certmap.conf is written as a
// bare name ("default:DNComps"), its usual spelling. There are no escapes
// in these files, so a value that needs quotes but contains '"' is rejected,
// as is one with a line break. Set returns the line written; its fields
// are those a new Parse would give.
func (f *File) Set(prefix, name, value string) (*Line, error) {
	fail := func(format string, args ...any) (*Line, error) {
		return nil, &Error{File: f.Name, Name: name, Err: fmt.Errorf(format, args...)}
	}
	if msg := checkWord("section", prefix, true); msg != "" {
		return fail("%s", msg)
	}
	if msg := checkWord("name", name, false); msg != "" {
		return fail("%s", msg)
	}
	if strings.ContainsAny(value, "\r\n") {
		return fail("value contains a line break")
	}

	// 1. Rewrite the live setting.
	if l := f.Lookup(prefix, name); l != nil {
		if l.Value == value {
			return l, nil
		}
		text, err := f.valueText(value, l.Quoted)
		if err != nil {
			return fail("%v", err)
		}
		raw := l.Raw[:l.valStart] + text
		if text != "" && !l.hasSep {
			raw = l.Raw[:l.valStart] + " " + text
		}
		if text == "" {
			// Drop the separator too: "default:DNComps", not "default:DNComps ".
			raw = trimWSPRight(l.Raw[:l.valStart])
		}
		return f.replace(l, raw, prefix, name, value)
	}

	// 2. Uncomment a commented-out setting.
	if l := f.commented(prefix, name); l != nil {
		text, err := f.valueText(value, l.Quoted)
		if err != nil {
			return fail("%v", err)
		}
		body := skipWSP(l.Raw, l.hashAt+1)
		raw := l.Raw[:l.hashAt] + l.Raw[body:l.valStart]
		switch {
		case text == "":
			raw = trimWSPRight(raw)
		case !l.hasSep:
			raw += " " + text
		default:
			raw += text
		}
		return f.replace(l, raw, prefix, name, value)
	}

	// 3. Add a new line.
	text, err := f.valueText(value, false)
	if err != nil {
		return fail("%v", err)
	}
	raw := prefix + ":" + name
	if text != "" {
		raw += " " + text
	}
	at := len(f.Lines)
	if f.keyword != "" {
		h := f.header(prefix)
		if h < 0 {
			return fail("no %q block: add its \"%s %s %s\" line first", prefix, f.keyword, prefix, headerArgName(f.keyword))
		}
		at = h + 1
		// Spell the block name as its header does, not as the caller did.
		raw = f.Lines[h].Label + raw[len(prefix):]
		for j := h + 1; j < len(f.Lines) && f.Lines[j].Kind != Header; j++ {
			if f.Lines[j].Kind == Setting || f.Lines[j].Kind == Bad {
				at = j + 1
			}
		}
	}
	l, err := f.insert(at, raw, prefix, name, value)
	if err != nil {
		return fail("%v", err)
	}
	return l, nil
}

// checkWord validates a section, block name or parameter name given to an
// edit: it must read back as the same word. A word at the start of a line
// (lineStart) must not start with '#', which would make the line a comment.
func checkWord(what, w string, lineStart bool) string {
	switch {
	case w == "":
		return "empty " + what
	case strings.ContainsAny(w, " \t\r\n"):
		return fmt.Sprintf("%s %q contains white space", what, w)
	case strings.IndexByte(w, ':') >= 0:
		return fmt.Sprintf("%s %q contains ':'", what, w)
	case lineStart && w[0] == '#':
		return fmt.Sprintf("%s %q starts with '#'", what, w)
	}
	return ""
}

// valueText returns how value is written after the name; "" means no value
// at all (only for an empty value in certmap.conf).
func (f *File) valueText(value string, wasQuoted bool) (string, error) {
	need := value == "" || isWSPByte(value[0]) || isWSPByte(value[len(value)-1]) || value[0] == '"'
	if value == "" && f.keyword == "certmap" && !wasQuoted {
		return "", nil
	}
	if !need && !wasQuoted {
		return value, nil
	}
	if strings.IndexByte(value, '"') < 0 {
		return `"` + value + `"`, nil
	}
	if need {
		// The value is not shown: it may be a password.
		return "", errors.New("value must be quoted but contains '\"', which cannot be escaped")
	}
	return value, nil // was quoted, but cannot be now; unquoted reads back the same
}

// commented returns the last commented-out setting that Set may uncomment.
func (f *File) commented(prefix, name string) *Line {
	for i := len(f.Lines) - 1; i >= 0; i-- {
		l := f.Lines[i]
		if l.Kind != Comment || !l.Commented || !l.matches(prefix, name) {
			continue
		}
		if f.keyword != "" {
			if h := f.header(prefix); h < 0 || h > i {
				continue // uncommenting would create an undeclared property
			}
		}
		return l
	}
	return nil
}

// check parses raw as a new line and makes sure it reads back as the
// setting that was asked for; it is the last guard against an edit that
// would change the meaning of the file.
func (f *File) check(num int, raw, eol, prefix, name, value string) (*Line, error) {
	n, err := f.parseLine(num, raw, eol)
	if err != nil {
		return nil, errors.New("cannot be written so that it reads back unchanged")
	}
	if n.Kind != Setting || !n.matches(prefix, name) || n.Value != value {
		return nil, errors.New("cannot be written so that it reads back unchanged")
	}
	return n, nil
}

// replace rewrites line l in place with raw.
func (f *File) replace(l *Line, raw, prefix, name, value string) (*Line, error) {
	n, err := f.check(l.Num, raw, l.EOL, prefix, name, value)
	if err != nil {
		return nil, &Error{File: f.Name, Line: l.Num, Name: name, Err: err}
	}
	*l = *n
	return l, nil
}

// insert adds raw as a new line before index at and renumbers.
func (f *File) insert(at int, raw, prefix, name, value string) (*Line, error) {
	eol := f.dominantEOL()
	n, err := f.check(at+1, raw, eol, prefix, name, value)
	if err != nil {
		return nil, err
	}
	if at > 0 {
		terminate(&f.Lines[at-1].EOL, f.Lines[at-1].Raw, eol)
	}
	f.Lines = append(f.Lines, nil)
	copy(f.Lines[at+1:], f.Lines[at:])
	f.Lines[at] = n
	f.renumber()
	return n, nil
}

// terminate gives a last line without line end the line end eol before
// something is added after it. A line whose text ends in a stray "\r" gets
// "\r\n" instead: "\r"+"\n" would read back as a CRLF line end and change
// the line's text.
func terminate(lineEOL *string, raw, eol string) {
	if *lineEOL != "" {
		return
	}
	*lineEOL = eol
	if strings.HasSuffix(raw, "\r") {
		*lineEOL = "\r\n"
	}
}

func (f *File) renumber() {
	for i, l := range f.Lines {
		l.Num = i + 1
	}
}

// dominantEOL is the line end most lines of the file use, so that an
// added line matches a CRLF file; "\n" for a file without any.
func (f *File) dominantEOL() string {
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

// Delete removes every Setting line with that prefix and name (compared
// case-insensitively) and reports whether there was any. Comments, including
// commented-out copies of the setting, stay.
func (f *File) Delete(prefix, name string) bool {
	kept := f.Lines[:0]
	removed := false
	for _, l := range f.Lines {
		if l.Kind == Setting && l.matches(prefix, name) {
			removed = true
			continue
		}
		kept = append(kept, l)
	}
	for i := len(kept); i < len(f.Lines); i++ {
		f.Lines[i] = nil
	}
	f.Lines = kept
	f.renumber()
	return removed
}

// AddHeader appends the header line "keyword label arg" that starts a new
// vdmap or certmap block, preceded by a blank line when the file does not
// already end with one, so that blocks stay visually apart. keyword must be
// the file's own header keyword (case-insensitive), label a word without
// ':' that no other header uses, and arg a non-empty text without line
// breaks or surrounding blanks (they would not read back).
func (f *File) AddHeader(keyword, label, arg string) (*Line, error) {
	fail := func(format string, args ...any) (*Line, error) {
		return nil, &Error{File: f.Name, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case f.keyword == "":
		return fail("file has no block headers")
	case !strings.EqualFold(keyword, f.keyword):
		return fail("header keyword %q does not match the file's %q", keyword, f.keyword)
	}
	if msg := checkWord("block name", label, true); msg != "" {
		return fail("%s", msg)
	}
	if arg == "" || strings.ContainsAny(arg, "\r\n") || isWSPByte(arg[0]) || isWSPByte(arg[len(arg)-1]) {
		return fail("%s %q is empty, has surrounding blanks or a line break", strings.ToLower(headerArgName(f.keyword)), arg)
	}
	if h := f.header(label); h >= 0 {
		return fail("block %q already declared on line %d", label, f.Lines[h].Num)
	}
	eol := f.dominantEOL()
	raw := f.keyword + " " + label + " " + arg
	n, err := f.parseLine(len(f.Lines)+1, raw, eol)
	if err != nil || n.Kind != Header || n.Label != label || n.Arg != arg {
		return fail("header %q cannot be written so that it reads back unchanged", raw)
	}
	if k := len(f.Lines); k > 0 {
		terminate(&f.Lines[k-1].EOL, f.Lines[k-1].Raw, eol)
		if f.Lines[k-1].Kind != Blank {
			f.Lines = append(f.Lines, &Line{Kind: Blank, EOL: eol})
		}
	}
	f.Lines = append(f.Lines, n)
	f.renumber()
	return n, nil
}
