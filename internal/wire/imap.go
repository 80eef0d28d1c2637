package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Limits a CommandReader applies when its fields are zero.
const (
	// DefaultMaxLiteral is the largest literal accepted. It is the LITERAL-
	// ceiling of RFC 7888 and four times the longest ID value of RFC 2971;
	// user names and passwords are far shorter.
	DefaultMaxLiteral = 4096

	// DefaultMaxCommand bounds one command's lines and literals together, so
	// that many literals of the allowed size cannot add up to a large buffer.
	DefaultMaxCommand = 16 << 10

	// DefaultMaxSkip bounds how many octets of refused non-synchronising
	// literals, and of the lines between them, one command may make us read
	// and throw away. Skipping costs no memory but does cost time, and a
	// pre-login client has no business sending megabytes.
	DefaultMaxSkip = 1 << 20
)

// maxDepth bounds parenthesis nesting; ID, the only pre-login command with a
// list, needs one level.
const maxDepth = 8

// Errors of a CommandReader, to be tested with errors.Is. All but
// ErrLostSync arrive inside a *CommandError.
var (
	// ErrBadSyntax means the command does not follow the IMAP grammar.
	ErrBadSyntax = errors.New("wire: bad syntax")

	// ErrLiteralTooLarge means a literal was over the limit, or the Continue
	// callback refused it (by returning an error that wraps this one).
	ErrLiteralTooLarge = errors.New("wire: literal too large")

	// ErrCommandTooLarge means a command's lines and literals together were
	// over the limit.
	ErrCommandTooLarge = errors.New("wire: command too large")

	// ErrLostSync is never inside a CommandError: it means the client sent a
	// non-synchronising literal too large to skip (or one whose size does not
	// even fit in 63 bits), so there is no way to find the start of its next
	// command. The connection must be closed, after "* BYE" if wanted.
	ErrLostSync = errors.New("wire: lost sync with the client")
)

// ArgKind says how an IMAP argument was written.
type ArgKind uint8

// The kinds of argument. NIL has no kind of its own: in an astring position
// it is the atom "NIL", a valid user name, so only the caller knows what it
// means (see Arg.IsNil).
const (
	Atom    ArgKind = iota + 1 // atom, also "\Flag" and list-mailbox wildcards
	Quoted                     // "quoted string", escapes removed
	Literal                    // {n} or {n+} literal
	List                       // parenthesised list
)

func (k ArgKind) String() string {
	switch k {
	case Atom:
		return "Atom"
	case Quoted:
		return "Quoted"
	case Literal:
		return "Literal"
	case List:
		return "List"
	}
	return fmt.Sprintf("ArgKind(%d)", uint8(k))
}

// An Arg is one argument of an IMAP command.
type Arg struct {
	Kind  ArgKind
	Value []byte // the octets of an Atom, Quoted or Literal; nil for a List
	List  []Arg  // the elements of a List; nil otherwise
}

// IsNil reports whether a is the atom NIL (in any case), which ID uses for
// "no parameters" and for an absent value.
func (a Arg) IsNil() bool {
	return a.Kind == Atom && len(a.Value) == 3 && bytes.EqualFold(a.Value, []byte("NIL"))
}

// Astring returns the value of a as an RFC 3501 astring, the grammar of
// LOGIN's user name and password. It is false for lists and for atoms the
// lexer let through for other commands' sake ("\Seen", "INBOX*").
func (a Arg) Astring() ([]byte, bool) {
	switch a.Kind {
	case Quoted, Literal:
		return a.Value, true
	case Atom:
		for _, c := range a.Value {
			if !isAstringChar(c) {
				return nil, false
			}
		}
		return a.Value, true
	}
	return nil, false
}

// A Command is one IMAP command line, with its literals.
type Command struct {
	Tag  string
	Name string // upper-cased
	Args []Arg
}

// A CommandError is a command the client got wrong, read to its end so that
// the stream is still in step: answer "Tag BAD [Code] Text" and go on (an
// error budget should limit how often). Tag is empty when the line had no
// usable tag; answer with "*" then.
type CommandError struct {
	Tag  string
	Name string // upper-cased command name, empty if not reached
	Code string // response code without brackets, such as "TOOBIG"; may be empty
	Text string // short description for the reply
	Err  error  // ErrBadSyntax, ErrLineTooLong, ErrLiteralTooLarge or ErrCommandTooLarge
}

func (e *CommandError) Error() string {
	if e.Name != "" {
		return "wire: imap " + e.Name + ": " + e.Text
	}
	return "wire: imap: " + e.Text
}

func (e *CommandError) Unwrap() error { return e.Err }

// A CommandReader reads IMAP commands (RFC 3501 §6, RFC 9051 §6) from a
// Reader, together with their literals, without writing to the connection
// itself: when a synchronising literal needs a continuation request it calls
// back.
//
// The zero values of the limit fields mean the Default constants.
// MaxLine is the Reader's.
type CommandReader struct {
	MaxLiteral int   // largest single literal
	MaxCommand int   // lines (with CRLF) plus literals of one command
	MaxSkip    int64 // octets of refused non-synchronising literals skipped per command

	r    *Reader
	cont func(n int) error

	cmd     Command
	buf     []byte  // values of the current command
	levels  [][]Arg // elements being collected per nesting level
	line    []byte  // current line segment, from r's buffer
	pos     int
	size    int64 // octets of the current command so far
	skipped int64 // octets skipped for the current command
}

// NewCommandReader returns a CommandReader on r. cont is called with n for
// every acceptable synchronising literal "{n}", before its octets are read;
// it must send "+ Ready for literal data" (or similar), flushed, since the
// client sends nothing until it sees it. cont may refuse the literal by
// returning an error that wraps ErrLiteralTooLarge: then it must not have
// written anything, and Next reports a CommandError. Any other error from
// cont is returned from Next as is. A nil cont refuses every synchronising
// literal.
func NewCommandReader(r *Reader, cont func(n int) error) *CommandReader {
	return &CommandReader{r: r, cont: cont}
}

func (c *CommandReader) maxLiteral() int64 {
	if c.MaxLiteral > 0 {
		return int64(c.MaxLiteral)
	}
	return DefaultMaxLiteral
}

func (c *CommandReader) maxCommand() int64 {
	if c.MaxCommand > 0 {
		return int64(c.MaxCommand)
	}
	return DefaultMaxCommand
}

func (c *CommandReader) maxSkip() int64 {
	if c.MaxSkip > 0 {
		return c.MaxSkip
	}
	return DefaultMaxSkip
}

// Next reads the next command. The Command and every Value in it are reused
// by the next call to Next: copy what must outlive it.
//
// A *CommandError means the command was bad but fully consumed. Any other
// error (I/O, ErrLostSync, or an error from the Continue callback) means the
// connection should be closed.
func (c *CommandReader) Next() (*Command, error) {
	c.cmd = Command{}
	c.buf = c.buf[:0]
	c.size, c.skipped = 0, 0
	c.line, c.pos = nil, 0
	if len(c.levels) == 0 {
		c.levels = make([][]Arg, 1, 2)
	}
	c.levels[0] = c.levels[0][:0]

	line, err := c.r.ReadLine()
	if err == ErrLineTooLong {
		c.cmd.Tag = tagOf(c.r.longHead())
		c.line = c.r.longTail()
		return nil, c.fail("", ErrLineTooLong, "line too long")
	}
	if err != nil {
		return nil, err
	}
	c.line = line
	c.size = int64(len(line)) + 2
	if c.size > c.maxCommand() {
		return nil, c.fail("TOOBIG", ErrCommandTooLarge, "command too large")
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	c.cmd.Args = c.levels[0]
	return &c.cmd, nil
}

// fail consumes the rest of the current command and returns a CommandError,
// or the error that made consuming it impossible.
func (c *CommandReader) fail(code string, kind error, text string) error {
	if err := c.skipRest(c.line); err != nil {
		return err
	}
	return &CommandError{Tag: c.cmd.Tag, Name: c.cmd.Name, Code: code, Text: text, Err: kind}
}

// skipRest consumes what the client will still send of a command whose
// current line segment is line: nothing if line does not end in a literal
// header or ends in a synchronising one (we have not sent "+", so the client
// does not send it), and otherwise the literal and the line after it, and so
// on. Nothing skipped is stored.
func (c *CommandReader) skipRest(line []byte) error {
	for {
		n, plus, _, ok := trailingLiteral(line)
		if !ok || !plus {
			return nil
		}
		if n > c.maxSkip()-c.skipped {
			return fmt.Errorf("wire: cannot skip a non-synchronising literal of %d octets: %w: %w", n, ErrLostSync, ErrLiteralTooLarge)
		}
		c.skipped += n
		if err := c.r.skip(n); err != nil {
			return err
		}
		l, err := c.r.ReadLine()
		switch {
		case err == ErrLineTooLong:
			line = c.r.longTail()
			c.skipped += int64(c.r.max)
		case err != nil:
			return unexpected(err)
		default:
			line = l
			c.skipped += int64(len(l)) + 2
		}
	}
}

// nextSegment reads the line that follows a literal's octets.
func (c *CommandReader) nextSegment() error {
	line, err := c.r.ReadLine()
	if err == ErrLineTooLong {
		c.line, c.pos = c.r.longTail(), 0
		return c.fail("", ErrLineTooLong, "line too long")
	}
	if err != nil {
		return unexpected(err)
	}
	c.line, c.pos = line, 0
	c.size += int64(len(line)) + 2
	if c.size > c.maxCommand() {
		return c.fail("TOOBIG", ErrCommandTooLarge, "command too large")
	}
	return nil
}

func (c *CommandReader) parse() error {
	line := c.line
	n := 0
	for n < len(line) && isTagChar(line[n]) {
		n++
	}
	switch {
	case len(line) == 0:
		return c.fail("", ErrBadSyntax, "empty command")
	case n == 0 || n < len(line) && line[n] != ' ':
		return c.fail("", ErrBadSyntax, "missing or invalid tag")
	}
	c.cmd.Tag = string(line[:n])
	if n == len(line) {
		return c.fail("", ErrBadSyntax, "missing command")
	}
	start := n + 1
	c.pos = start
	for c.pos < len(line) && isAtomChar(line[c.pos]) {
		c.pos++
	}
	if c.pos == start {
		return c.fail("", ErrBadSyntax, "missing or invalid command name")
	}
	if c.pos < len(line) && line[c.pos] != ' ' {
		return c.fail("", ErrBadSyntax, "invalid character in command name")
	}
	c.cmd.Name = upperName(line[start:c.pos])
	return c.parseArgs()
}

// parseArgs reads the arguments after the command name, across literals.
// sep is true where the grammar wants a space (or a list's end, or the end
// of the command) before the next argument.
func (c *CommandReader) parseArgs() error {
	depth := 0
	sep := true
	for {
		if c.pos == len(c.line) {
			if depth > 0 {
				return c.fail("", ErrBadSyntax, "missing )")
			}
			return nil
		}
		ch := c.line[c.pos]
		if ch == ')' && depth > 0 {
			lst := make([]Arg, len(c.levels[depth]))
			copy(lst, c.levels[depth])
			depth--
			c.levels[depth] = append(c.levels[depth], Arg{Kind: List, List: lst})
			c.pos++
			sep = true
			continue
		}
		if sep {
			if ch != ' ' {
				return c.fail("", ErrBadSyntax, "expected space between arguments")
			}
			c.pos++
			if c.pos == len(c.line) {
				return c.fail("", ErrBadSyntax, "space at end of line")
			}
			ch = c.line[c.pos]
		}
		sep = true
		var err error
		switch {
		case ch == '(':
			if depth == maxDepth {
				return c.fail("", ErrBadSyntax, "lists nested too deeply")
			}
			depth++
			if len(c.levels) == depth {
				c.levels = append(c.levels, nil)
			}
			c.levels[depth] = c.levels[depth][:0]
			c.pos++
			sep = false
			continue
		case ch == ')':
			return c.fail("", ErrBadSyntax, "unexpected )")
		case ch == '"':
			err = c.quoted(depth)
		case ch == '{' || ch == '~' && c.pos+1 < len(c.line) && c.line[c.pos+1] == '{':
			err = c.literal(depth)
		default:
			err = c.atom(depth)
		}
		if err != nil {
			return err
		}
	}
}

// grow makes room for n more value octets without letting the buffer's
// capacity pass the command limit (values never exceed the command's size).
func (c *CommandReader) grow(n int) {
	if cap(c.buf)-len(c.buf) >= n {
		return
	}
	want := 2*cap(c.buf) + n
	if lim := int(c.maxCommand()); want > lim && len(c.buf)+n <= lim {
		want = lim
	}
	nb := make([]byte, len(c.buf), want)
	copy(nb, c.buf)
	c.buf = nb
}

// value returns the octets appended to buf since start, capped so that an
// append by the caller cannot run into the next value.
func (c *CommandReader) value(start int) []byte {
	return c.buf[start:len(c.buf):len(c.buf)]
}

func (c *CommandReader) atom(depth int) error {
	line := c.line
	i := c.pos
	if line[i] == '\\' { // flag, e.g. \Seen
		i++
	}
	for i < len(line) && isArgAtomChar(line[i]) {
		i++
	}
	if i == c.pos || line[i-1] == '\\' || i < len(line) && line[i] != ' ' && line[i] != ')' {
		return c.fail("", ErrBadSyntax, "invalid character in atom")
	}
	c.grow(i - c.pos)
	start := len(c.buf)
	c.buf = append(c.buf, line[c.pos:i]...)
	c.levels[depth] = append(c.levels[depth], Arg{Kind: Atom, Value: c.value(start)})
	c.pos = i
	return nil
}

// quoted reads a quoted string. RFC 3501 allows only 7-bit text in one;
// RFC 9051 §9 adds UTF-8, which is accepted when it is valid. Only \" and \\
// are escapes.
func (c *CommandReader) quoted(depth int) error {
	line := c.line
	i := c.pos + 1
	c.grow(len(line) - i)
	start := len(c.buf)
	high := false
	for {
		if i == len(line) {
			return c.fail("", ErrBadSyntax, "unterminated quoted string")
		}
		ch := line[i]
		switch {
		case ch == '"':
			v := c.value(start)
			if high && !utf8.Valid(v) {
				return c.fail("", ErrBadSyntax, "invalid UTF-8 in quoted string")
			}
			c.levels[depth] = append(c.levels[depth], Arg{Kind: Quoted, Value: v})
			c.pos = i + 1
			if c.pos < len(line) && line[c.pos] != ' ' && line[c.pos] != ')' {
				return c.fail("", ErrBadSyntax, "expected space after quoted string")
			}
			return nil
		case ch == '\\':
			i++
			if i == len(line) || line[i] != '"' && line[i] != '\\' {
				return c.fail("", ErrBadSyntax, "invalid escape in quoted string")
			}
			ch = line[i]
		case ch == 0 || ch == '\r':
			return c.fail("", ErrBadSyntax, "invalid character in quoted string")
		case ch >= utf8.RuneSelf:
			high = true
		}
		c.buf = append(c.buf, ch)
		i++
	}
}

// literal reads a literal whose header starts at c.pos and must end the line,
// then the line segment that follows its octets.
func (c *CommandReader) literal(depth int) error {
	n, plus, eight, ok := parseLiteral(c.line[c.pos:])
	if !ok {
		return c.fail("", ErrBadSyntax, "invalid literal")
	}
	if n > math.MaxInt64-c.size {
		c.size = math.MaxInt64
	} else {
		c.size += n
	}
	switch {
	case eight:
		// RFC 3516 allows literal8 only in APPEND, which needs a login.
		return c.fail("", ErrBadSyntax, "literal8 not allowed here")
	case n > c.maxLiteral():
		return c.fail("TOOBIG", ErrLiteralTooLarge, "literal too large")
	case c.size > c.maxCommand():
		return c.fail("TOOBIG", ErrCommandTooLarge, "command too large")
	}
	if !plus {
		if c.cont == nil {
			return c.fail("", ErrBadSyntax, "synchronising literals not accepted")
		}
		if err := c.cont(int(n)); err != nil {
			if errors.Is(err, ErrLiteralTooLarge) {
				return c.fail("TOOBIG", ErrLiteralTooLarge, "literal too large")
			}
			return err
		}
	}
	c.grow(int(n))
	start := len(c.buf)
	var err error
	if c.buf, err = c.r.appendFull(c.buf, int(n)); err != nil {
		return err
	}
	v := c.value(start)
	if err := c.nextSegment(); err != nil {
		return err
	}
	if bytes.IndexByte(v, 0) >= 0 {
		// RFC 3501 CHAR8 excludes NUL; only literal8 may carry it.
		return c.fail("", ErrBadSyntax, "NUL in literal")
	}
	c.levels[depth] = append(c.levels[depth], Arg{Kind: Literal, Value: v})
	return nil
}

// parseLiteral parses a literal header "{n}", "{n+}", "~{n}" or "~{n+}"
// that must be all of b. A size too large for int64 is returned as
// math.MaxInt64, which every limit refuses.
func parseLiteral(b []byte) (n int64, plus, eight, ok bool) {
	if len(b) > 0 && b[0] == '~' {
		eight = true
		b = b[1:]
	}
	if len(b) < 3 || b[0] != '{' || b[len(b)-1] != '}' {
		return 0, false, false, false
	}
	b = b[1 : len(b)-1]
	if b[len(b)-1] == '+' {
		plus = true
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return 0, false, false, false
	}
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false, false, false
		}
		if n > (math.MaxInt64-int64(d-'0'))/10 {
			n = math.MaxInt64
			continue
		}
		if n != math.MaxInt64 {
			n = n*10 + int64(d-'0')
		}
	}
	return n, plus, eight, true
}

// trailingLiteral reports the literal header that ends line, if any.
func trailingLiteral(line []byte) (n int64, plus, eight, ok bool) {
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false, false
	}
	if i > 0 && line[i-1] == '~' {
		i--
	}
	return parseLiteral(line[i:])
}

// tagOf returns the tag at the start of an over-long line's head, or "" if
// the head does not hold a whole tag followed by a space.
func tagOf(head []byte) string {
	n := 0
	for n < len(head) && isTagChar(head[n]) {
		n++
	}
	if n == 0 || n == len(head) || head[n] != ' ' {
		return ""
	}
	return string(head[:n])
}

// Character classes of RFC 9051 §9.
var (
	atomChars    [256]bool // ATOM-CHAR
	astringChars [256]bool // ASTRING-CHAR = ATOM-CHAR / "]"
	argChars     [256]bool // ASTRING-CHAR / list-wildcards, for atoms of any command
)

func init() {
	for c := 0x21; c < 0x7f; c++ {
		switch c {
		case '(', ')', '{', '%', '*', '"', '\\', ']':
		default:
			atomChars[c] = true
		}
	}
	astringChars = atomChars
	astringChars[']'] = true
	argChars = astringChars
	argChars['%'] = true
	argChars['*'] = true
}

func isAtomChar(c byte) bool    { return atomChars[c] }
func isAstringChar(c byte) bool { return astringChars[c] }
func isArgAtomChar(c byte) bool { return argChars[c] }

// isTagChar: tag = 1*<any ASTRING-CHAR except "+">, so that a tag can never
// be mistaken for a continuation response.
func isTagChar(c byte) bool { return c != '+' && astringChars[c] }

// knownNames lets upperName return a command name without allocating.
var knownNames = map[string]string{}

func init() {
	for _, s := range []string{
		// IMAP
		"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN",
		"ID", "ENABLE", "SELECT", "EXAMINE", "LIST", "LSUB", "STATUS",
		"APPEND", "IDLE", "UNSELECT", "COMPRESS", "NAMESPACE",
		// POP3
		"USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT", "STAT",
		"RETR", "DELE", "RSET", "UIDL", "TOP", "XQUERYAUTH", "UTF8",
		// SMTP
		"EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "VRFY",
		"EXPN", "HELP", "XPEHLO", "XCLIENT",
	} {
		knownNames[s] = s
	}
}

// upperName upper-cases an ASCII keyword.
func upperName(b []byte) string {
	var a [16]byte
	u := a[:0]
	if len(b) > len(a) {
		u = make([]byte, 0, len(b))
	}
	for _, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		u = append(u, c)
	}
	if s, ok := knownNames[string(u)]; ok {
		return s
	}
	return string(u)
}
