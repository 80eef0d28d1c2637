package wire

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll runs Next until EOF and renders every result; conts records the
// continuation requests.
func readAll(t *testing.T, src io.Reader, setup func(*CommandReader)) (results []string, conts []int) {
	t.Helper()
	r := NewReader(src, 64)
	cr := NewCommandReader(r, func(n int) error {
		conts = append(conts, n)
		return nil
	})
	cr.MaxLiteral = 100
	cr.MaxCommand = 400
	if setup != nil {
		setup(cr)
	}
	for i := 0; i < 100; i++ {
		cmd, err := cr.Next()
		if err == io.EOF {
			return results, conts
		}
		results = append(results, fmtResult(cmd, err))
		var ce *CommandError
		if err != nil && !errors.As(err, &ce) {
			return results, conts
		}
	}
	t.Fatalf("Next() did not reach EOF after 100 commands")
	return nil, nil
}

func TestCommandReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  string // rendering of the first command
		conts string // continuation sizes requested
	}{
		{"capability", "a001 CAPABILITY\r\n", "a001 CAPABILITY []", "[]"},
		{"name upper-cased", "a001 capability\r\n", "a001 CAPABILITY []", "[]"},
		{"unknown name", "a001 xyzzy\r\n", "a001 XYZZY []", "[]"},
		{"bare LF", "a NOOP\n", "a NOOP []", "[]"},
		{"tag with ]", "a]1 NOOP\r\n", "a]1 NOOP []", "[]"},
		{"atoms", "a1 LOGIN alice s3cr]t!\r\n", "a1 LOGIN [Atom(alice) Atom(s3cr]t!)]", "[]"},
		{"quoted", `a1 LOGIN "alice smith" "pw"` + "\r\n", `a1 LOGIN [Quoted("alice smith") Quoted(pw)]`, "[]"},
		{"quoted escapes", `a1 LOGIN "al\"ice" "p\\w"` + "\r\n", `a1 LOGIN [Quoted("al\"ice") Quoted("p\\w")]`, "[]"},
		{"quoted empty", `a1 LOGIN "" ""` + "\r\n", `a1 LOGIN [Quoted("") Quoted("")]`, "[]"},
		{"quoted UTF-8", `a1 LOGIN "jörg" "пароль"` + "\r\n", `a1 LOGIN [Quoted("jörg") Quoted("пароль")]`, "[]"},
		{"quoted tab", "a1 LOGIN \"a\tb\" x\r\n", `a1 LOGIN [Quoted("a\tb") Atom(x)]`, "[]"},
		{"sync literal", "a LOGIN {5}\r\nalice secret\r\n", "a LOGIN [Literal(alice) Atom(secret)]", "[5]"},
		{"non-sync literal", "a LOGIN {5+}\r\nalice secret\r\n", "a LOGIN [Literal(alice) Atom(secret)]", "[]"},
		{"two sync literals", "a LOGIN {5}\r\nalice {6}\r\nsecret\r\n", "a LOGIN [Literal(alice) Literal(secret)]", "[5 6]"},
		{"mixed literals", "a LOGIN {5+}\r\nalice {6}\r\nsecret\r\n", "a LOGIN [Literal(alice) Literal(secret)]", "[6]"},
		{"literal with CRLF and 8-bit", "a LOGIN {4}\r\na\r\n\xff {1+}\r\n\"\r\n", `a LOGIN [Literal("a\r\n\xff") Literal("\"")]`, "[4]"},
		{"empty literal", "a LOGIN {0}\r\n {0+}\r\n\r\n", `a LOGIN [Literal("") Literal("")]`, "[0]"},
		{"leading zeros", "a LOGIN {005+}\r\nalice x\r\n", "a LOGIN [Literal(alice) Atom(x)]", "[]"},
		{"no args", "a LOGIN\r\n", "a LOGIN []", "[]"},
		{"sasl-ir", "a AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm+/=\r\n", "a AUTHENTICATE [Atom(PLAIN) Atom(AHRpbQB0YW5zdGFhZnRhbnN0YWFm+/=)]", "[]"},
		{"sasl-ir empty", "a AUTHENTICATE PLAIN =\r\n", "a AUTHENTICATE [Atom(PLAIN) Atom(=)]", "[]"},
		{"ID list", `a ID ("name" "x" "version" "y")` + "\r\n", "a ID [List(Quoted(name) Quoted(x) Quoted(version) Quoted(y))]", "[]"},
		{"ID NIL", "a ID NIL\r\n", "a ID [Atom(NIL)]", "[]"},
		{"ID NIL values", `a ID ("name" NIL "os" nil)` + "\r\n", "a ID [List(Quoted(name) Atom(NIL) Quoted(os) Atom(nil))]", "[]"},
		{"empty list", "a ID ()\r\n", "a ID [List()]", "[]"},
		{"nested list", "a X (a (b c) ()) d\r\n", "a X [List(Atom(a) List(Atom(b) Atom(c)) List()) Atom(d)]", "[]"},
		{"literal in list", "a ID (\"name\" {3}\r\nabc)\r\n", "a ID [List(Quoted(name) Literal(abc))]", "[3]"},
		{"flags and wildcards", "a X \\Seen INBOX.* %\r\n", `a X [Atom("\\Seen") Atom(INBOX.*) Atom(%)]`, "[]"},
		{"literal8 header text is an atom", "a X ~abc\r\n", "a X [Atom(~abc)]", "[]"},
		{"long command name", "a authenticateverylongname\r\n", "a AUTHENTICATEVERYLONGNAME []", "[]"},
	}
	for _, tt := range tests {
		for _, mode := range []string{"whole", "onebyte"} {
			var src io.Reader = strings.NewReader(tt.in + "z NOOP\r\n")
			if mode == "onebyte" {
				src = iotest.OneByteReader(src)
			}
			results, conts := readAll(t, src, nil)
			want := []string{tt.want, "z NOOP []"}
			if fmt.Sprint(results) != fmt.Sprint(want) {
				t.Errorf("%s/%s: Next(%q) = %q, want %q", tt.name, mode, tt.in, results, want)
			}
			if got := fmt.Sprint(conts); got != tt.conts {
				t.Errorf("%s/%s: Next(%q) asked for continuations %s, want %s", tt.name, mode, tt.in, got, tt.conts)
			}
		}
	}
}

func TestArgHelpers(t *testing.T) {
	tests := []struct {
		arg     Arg
		isNil   bool
		astring string
		ok      bool
	}{
		{Arg{Kind: Atom, Value: []byte("NIL")}, true, "NIL", true},
		{Arg{Kind: Atom, Value: []byte("nIl")}, true, "nIl", true},
		{Arg{Kind: Quoted, Value: []byte("NIL")}, false, "NIL", true},
		{Arg{Kind: Atom, Value: []byte("a]b")}, false, "a]b", true},
		{Arg{Kind: Atom, Value: []byte("a*")}, false, "", false},
		{Arg{Kind: Atom, Value: []byte(`\Seen`)}, false, "", false},
		{Arg{Kind: Literal, Value: []byte("x y")}, false, "x y", true},
		{Arg{Kind: List}, false, "", false},
	}
	for _, tt := range tests {
		if got := tt.arg.IsNil(); got != tt.isNil {
			t.Errorf("%s.IsNil() = %v, want %v", fmtArgs([]Arg{tt.arg}), got, tt.isNil)
		}
		v, ok := tt.arg.Astring()
		if string(v) != tt.astring || ok != tt.ok {
			t.Errorf("%s.Astring() = %q, %v, want %q, %v", fmtArgs([]Arg{tt.arg}), v, ok, tt.astring, tt.ok)
		}
	}
	if got := ArgKind(9).String(); got != "ArgKind(9)" {
		t.Errorf("ArgKind(9).String() = %q, want %q", got, "ArgKind(9)")
	}
}

// TestCommandReaderErrors checks every client error: it must be a
// CommandError with the tag when there is one, and the command after it must
// parse, which shows the stream stayed in step.
func TestCommandReaderErrors(t *testing.T) {
	x200 := strings.Repeat("x", 200)
	tests := []struct {
		name  string
		in    string
		tag   string
		kind  error
		code  string
		conts string
	}{
		{"empty line", "\r\n", "", ErrBadSyntax, "", "[]"},
		{"missing tag", " NOOP\r\n", "", ErrBadSyntax, "", "[]"},
		{"plus tag", "+ NOOP\r\n", "", ErrBadSyntax, "", "[]"},
		{"plus in tag", "a+b NOOP\r\n", "", ErrBadSyntax, "", "[]"},
		{"star tag", "* NOOP\r\n", "", ErrBadSyntax, "", "[]"},
		{"NUL in tag", "a\x00 NOOP\r\n", "", ErrBadSyntax, "", "[]"},
		{"tag only", "a001\r\n", "a001", ErrBadSyntax, "", "[]"},
		{"tag and space", "a001 \r\n", "a001", ErrBadSyntax, "", "[]"},
		{"bad name", "a NO(OP\r\n", "a", ErrBadSyntax, "", "[]"},
		{"8-bit name", "a N\xc3\xb6OP\r\n", "a", ErrBadSyntax, "", "[]"},
		{"trailing space", "a NOOP \r\n", "a", ErrBadSyntax, "", "[]"},
		{"double space", "a LOGIN alice  secret\r\n", "a", ErrBadSyntax, "", "[]"},
		{"unterminated quoted", "a LOGIN \"alice\r\n", "a", ErrBadSyntax, "", "[]"},
		{"bad escape", `a LOGIN "al\ice" x` + "\r\n", "a", ErrBadSyntax, "", "[]"},
		{"escape at end", `a LOGIN "al\` + "\r\n", "a", ErrBadSyntax, "", "[]"},
		{"NUL in quoted", "a LOGIN \"a\x00b\" x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"CR in quoted", "a LOGIN \"a\rb\" x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"bad UTF-8 in quoted", "a LOGIN \"\xff\xfe\" x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"junk after quoted", `a LOGIN "a"b x` + "\r\n", "a", ErrBadSyntax, "", "[]"},
		{"NUL in atom", "a LOGIN al\x00ice x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"8-bit atom", "a LOGIN bj\xc3\xb8rn x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"quote in atom", "a LOGIN al\"ice x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"lone backslash", "a X \\ y\r\n", "a", ErrBadSyntax, "", "[]"},
		{"missing )", "a ID (\"a\" \"b\"\r\n", "a", ErrBadSyntax, "", "[]"},
		{"stray )", "a ID )\r\n", "a", ErrBadSyntax, "", "[]"},
		{"space before )", "a ID (a )\r\n", "a", ErrBadSyntax, "", "[]"},
		{"too deep", "a X " + strings.Repeat("(", 9) + strings.Repeat(")", 9) + "\r\n", "a", ErrBadSyntax, "", "[]"},
		{"literal not at end", "a LOGIN {5} x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"empty literal size", "a LOGIN {}\r\n", "a", ErrBadSyntax, "", "[]"},
		{"bad literal size", "a LOGIN {5a}\r\n", "a", ErrBadSyntax, "", "[]"},
		{"literal size plus only", "a LOGIN {+}\r\n", "a", ErrBadSyntax, "", "[]"},
		{"sync literal too large", "a LOGIN {101}\r\n", "a", ErrLiteralTooLarge, "TOOBIG", "[]"},
		{"sync literal huge", "a LOGIN {99999999999999999999999}\r\n", "a", ErrLiteralTooLarge, "TOOBIG", "[]"},
		{"non-sync literal too large", "a LOGIN {150+}\r\n" + strings.Repeat("y", 150) + " x\r\n", "a", ErrLiteralTooLarge, "TOOBIG", "[]"},
		{"non-sync too large then another", "a LOGIN {150+}\r\n" + strings.Repeat("y", 150) + " {3+}\r\nabc\r\n", "a", ErrLiteralTooLarge, "TOOBIG", "[]"},
		{"second literal too large", "a LOGIN {5}\r\nalice {101}\r\n", "a", ErrLiteralTooLarge, "TOOBIG", "[5]"},
		{"literal8 sync", "a LOGIN ~{5}\r\n", "a", ErrBadSyntax, "", "[]"},
		{"literal8 non-sync", "a LOGIN ~{5+}\r\nab\x00de x\r\n", "a", ErrBadSyntax, "", "[]"},
		{"NUL in literal", "a LOGIN {3}\r\na\x00b x\r\n", "a", ErrBadSyntax, "", "[3]"},
		{"NUL in literal, more literals", "a LOGIN {3}\r\na\x00b {2+}\r\nzz\r\n", "a", ErrBadSyntax, "", "[3]"},
		{"error before non-sync literal", "a LOGIN al\x00ice {4+}\r\nabcd\r\n", "a", ErrBadSyntax, "", "[]"},
		{"error before sync literal", "a LOGIN al\x00ice {4}\r\n", "a", ErrBadSyntax, "", "[]"},
		{"line too long", "a001 LOGIN " + x200 + "\r\n", "a001", ErrLineTooLong, "", "[]"},
		{"line too long, no tag in head", x200 + "\r\n", "", ErrLineTooLong, "", "[]"},
		{"line too long ending in non-sync literal", "a001 LOGIN " + x200 + " {5+}\r\nhello\r\n", "a001", ErrLineTooLong, "", "[]"},
		{"line too long ending in sync literal", "a001 LOGIN " + x200 + " {5}\r\n", "a001", ErrLineTooLong, "", "[]"},
		{"skipping across a too-long line", "a LOGIN {150+}\r\n" + strings.Repeat("y", 150) + x200 + " {3+}\r\nabc\r\n", "a", ErrLiteralTooLarge, "TOOBIG", "[]"},
		{"continuation line too long", "a LOGIN {3}\r\nabc " + x200 + "\r\n", "a", ErrLineTooLong, "", "[3]"},
		{"continuation too long, non-sync", "a LOGIN {3}\r\nabc " + x200 + "{2+}\r\nzz {1+}\r\nz\r\n", "a", ErrLineTooLong, "", "[3]"},
		{"command too large", "a X {60+}\r\n" + strings.Repeat("y", 60) + " {60+}\r\n" + strings.Repeat("y", 60) + " {60+}\r\n" +
			strings.Repeat("y", 60) + " {60+}\r\n" + strings.Repeat("y", 60) + " {60+}\r\n" + strings.Repeat("y", 60) + " {60+}\r\n" + strings.Repeat("y", 60) + "\r\n",
			"a", ErrCommandTooLarge, "TOOBIG", "[]"},
		{"command too large, sync", "a X {60}\r\n" + strings.Repeat("y", 60) + " {60}\r\n" + strings.Repeat("y", 60) + " {60}\r\n" +
			strings.Repeat("y", 60) + " {60}\r\n" + strings.Repeat("y", 60) + " {60}\r\n" + strings.Repeat("y", 60) + " {60}\r\n",
			"a", ErrCommandTooLarge, "TOOBIG", "[60 60 60 60 60]"},
	}
	for _, tt := range tests {
		for _, mode := range []string{"whole", "onebyte"} {
			var src io.Reader = strings.NewReader(tt.in + "z NOOP\r\n")
			if mode == "onebyte" {
				src = iotest.OneByteReader(src)
			}
			results, conts := readAll(t, src, nil)
			want := []string{
				fmt.Sprintf("BAD tag=%q code=%q", tt.tag, tt.code),
				"z NOOP []",
			}
			if len(results) != 2 || !strings.HasPrefix(results[0], want[0]) || results[1] != want[1] {
				t.Errorf("%s/%s: Next(%q) = %q, want %q", tt.name, mode, tt.in, results, want)
			}
			if got := fmt.Sprint(conts); got != tt.conts {
				t.Errorf("%s/%s: Next(%q) asked for continuations %s, want %s", tt.name, mode, tt.in, got, tt.conts)
			}
		}
		// The error must be classified by kind.
		r := NewReader(strings.NewReader(tt.in), 64)
		cr := NewCommandReader(r, func(int) error { return nil })
		cr.MaxLiteral, cr.MaxCommand = 100, 400
		_, err := cr.Next()
		var ce *CommandError
		if !errors.As(err, &ce) || !errors.Is(err, tt.kind) {
			t.Errorf("%s: Next(%q) err = %v, want a CommandError wrapping %v", tt.name, tt.in, err, tt.kind)
		} else if ce.Text == "" || !strings.HasPrefix(ce.Error(), "wire: imap") {
			t.Errorf("%s: Next(%q) err = %q with text %q, want a \"wire: imap\" error with text", tt.name, tt.in, ce.Error(), ce.Text)
		}
	}
}

// TestCommandReaderFatal checks the errors after which the connection must
// close: they are not CommandErrors.
func TestCommandReaderFatal(t *testing.T) {
	writeErr := errors.New("write: broken pipe")
	tests := []struct {
		name string
		in   string
		cont func(int) error
		want error
	}{
		{"EOF in first line", "a NOOP", nil, io.ErrUnexpectedEOF},
		{"EOF in literal", "a LOGIN {5+}\r\nab", nil, io.ErrUnexpectedEOF},
		{"EOF after literal", "a LOGIN {5+}\r\nabcde", nil, io.ErrUnexpectedEOF},
		{"EOF in skipped literal", "a LOGIN {500+}\r\nab", nil, io.ErrUnexpectedEOF},
		{"EOF after skipped literal", "a LOGIN {500+}\r\n" + strings.Repeat("y", 500), nil, io.ErrUnexpectedEOF},
		{"non-sync literal too large to skip", "a LOGIN {2000000+}\r\n", nil, ErrLostSync},
		{"non-sync literal size overflows", "a LOGIN {99999999999999999999999+}\r\n", nil, ErrLostSync},
		{"continuation write fails", "a LOGIN {5}\r\n", func(int) error { return writeErr }, writeErr},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.in), 64)
		cont := tt.cont
		if cont == nil {
			cont = func(int) error { return nil }
		}
		cr := NewCommandReader(r, cont)
		cr.MaxLiteral = 100
		_, err := cr.Next()
		var ce *CommandError
		if errors.As(err, &ce) || !errors.Is(err, tt.want) {
			t.Errorf("%s: Next(%q) err = %v, want a plain error wrapping %v", tt.name, tt.in, err, tt.want)
		}
	}
}

func TestContinueRefusal(t *testing.T) {
	var asked []int
	r := NewReader(strings.NewReader("a LOGIN {5}\r\nalice {30}\r\nb LOGIN {5}\r\nalice {6}\r\nsecret\r\n"), 0)
	cr := NewCommandReader(r, func(n int) error {
		asked = append(asked, n)
		if n > 10 {
			return fmt.Errorf("policy: %d octets: %w", n, ErrLiteralTooLarge)
		}
		return nil
	})
	cmd, err := cr.Next()
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Tag != "a" || ce.Code != "TOOBIG" || !errors.Is(err, ErrLiteralTooLarge) {
		t.Fatalf("Next() = %s, want BAD for tag a with TOOBIG", fmtResult(cmd, err))
	}
	cmd, err = cr.Next()
	if got, want := fmtResult(cmd, err), "b LOGIN [Literal(alice) Literal(secret)]"; got != want {
		t.Errorf("Next() after a refused literal = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(asked), "[5 30 5 6]"; got != want {
		t.Errorf("Continue calls = %s, want %s", got, want)
	}
}

func TestNilContinue(t *testing.T) {
	r := NewReader(strings.NewReader("a LOGIN {5}\r\nb LOGIN {5+}\r\nalice x\r\n"), 0)
	cr := NewCommandReader(r, nil)
	cmd, err := cr.Next()
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Tag != "a" {
		t.Errorf("Next() with nil Continue = %s, want BAD for tag a", fmtResult(cmd, err))
	}
	cmd, err = cr.Next()
	if got, want := fmtResult(cmd, err), "b LOGIN [Literal(alice) Atom(x)]"; got != want {
		t.Errorf("Next() = %s, want %s", got, want)
	}
}

// TestMaxCommandBelowMaxLine: a command limit under the line limit applies
// to a single line too.
func TestMaxCommandBelowMaxLine(t *testing.T) {
	r := NewReader(strings.NewReader("a LOGIN alice secret\r\nb NOOP\r\n"), 0)
	cr := NewCommandReader(r, nil)
	cr.MaxCommand = 10
	cmd, err := cr.Next()
	if !errors.Is(err, ErrCommandTooLarge) {
		t.Errorf("Next() with MaxCommand 10 = %s, want %v", fmtResult(cmd, err), ErrCommandTooLarge)
	}
	if cmd, err := cr.Next(); err != nil || cmd.Name != "NOOP" {
		t.Errorf("Next() after = %s, want b NOOP", fmtResult(cmd, err))
	}
}

func TestPipelined(t *testing.T) {
	in := "a NOOP\r\nb CAPABILITY\r\nc LOGIN {5+}\r\nalice \"pw\"\r\nd ID NIL\r\ne LOGOUT\r\n"
	results, conts := readAll(t, strings.NewReader(in), nil)
	want := []string{"a NOOP []", "b CAPABILITY []", "c LOGIN [Literal(alice) Quoted(pw)]", "d ID [Atom(NIL)]", "e LOGOUT []"}
	if fmt.Sprint(results) != fmt.Sprint(want) || len(conts) != 0 {
		t.Errorf("Next() over %q = %q with continuations %v, want %q and none", in, results, conts, want)
	}
}

func TestDefaults(t *testing.T) {
	lit := strings.Repeat("p", DefaultMaxLiteral)
	in := fmt.Sprintf("a LOGIN {%d+}\r\n%s x\r\nb LOGIN {%d+}\r\n%sy x\r\nc NOOP\r\n", len(lit), lit, len(lit)+1, lit)
	r := NewReader(strings.NewReader(in), 0)
	cr := NewCommandReader(r, nil)
	cmd, err := cr.Next()
	if err != nil || len(cmd.Args) != 2 || len(cmd.Args[0].Value) != DefaultMaxLiteral {
		t.Errorf("Next() with a %d-octet literal = %.40s, want it accepted", DefaultMaxLiteral, fmtResult(cmd, err))
	}
	if _, err := cr.Next(); !errors.Is(err, ErrLiteralTooLarge) {
		t.Errorf("Next() with a %d-octet literal: err = %v, want %v", DefaultMaxLiteral+1, err, ErrLiteralTooLarge)
	}
	if cmd, err := cr.Next(); err != nil || cmd.Name != "NOOP" {
		t.Errorf("Next() after = %s, want c NOOP", fmtResult(cmd, err))
	}
}

// TestValuesNotAliased checks that a caller appending to one value cannot
// overwrite the next.
func TestValuesNotAliased(t *testing.T) {
	r := NewReader(strings.NewReader("a LOGIN alice secret\r\n"), 0)
	cmd, err := NewCommandReader(r, nil).Next()
	if err != nil {
		t.Fatal(err)
	}
	_ = append(cmd.Args[0].Value, "XXXXXX"...)
	if got := string(cmd.Args[1].Value); got != "secret" {
		t.Errorf("second value after appending to the first = %q, want %q", got, "secret")
	}
}

// TestNonSyncLiteralNotBuffered feeds a 32 MiB non-synchronising literal and
// checks that skipping it allocates next to nothing.
func TestNonSyncLiteralNotBuffered(t *testing.T) {
	const size = 32 << 20
	src := io.MultiReader(
		strings.NewReader(fmt.Sprintf("a LOGIN {%d+}\r\n", size)),
		&repeatReader{n: size, c: 'x'},
		strings.NewReader(" pw\r\nb NOOP\r\n"),
	)
	r := NewReader(src, 0)
	cr := NewCommandReader(r, nil)
	cr.MaxSkip = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := cr.Next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLiteralTooLarge) {
		t.Fatalf("Next() with a %d-octet literal: err = %v, want %v", size, err, ErrLiteralTooLarge)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
		t.Errorf("Next() skipping a %d-octet literal allocated %d bytes, want at most 256 KiB", size, alloc)
	}
	if cap(cr.buf) > DefaultMaxCommand {
		t.Errorf("value buffer capacity = %d, want at most %d", cap(cr.buf), DefaultMaxCommand)
	}
	if cmd, err := cr.Next(); err != nil || cmd.Name != "NOOP" {
		t.Errorf("Next() after the skipped literal = %s, want b NOOP", fmtResult(cmd, err))
	}
}

// TestLoginLiteralNotAllocated: "LOGIN {1000000}" must be refused before
// anything of that size is allocated.
func TestLoginLiteralNotAllocated(t *testing.T) {
	r := NewReader(strings.NewReader("a LOGIN {1000000}\r\n"), 0)
	called := false
	cr := NewCommandReader(r, func(int) error { called = true; return nil })
	src := strings.NewReader("")
	allocs := testing.AllocsPerRun(10, func() {
		src.Reset("a LOGIN {1000000}\r\n")
		r.Reset(src)
		cr.Next()
	})
	if called {
		t.Errorf("Next(%q) asked for the literal, want it refused", "a LOGIN {1000000}")
	}
	if cap(cr.buf) > 64 {
		t.Errorf("Next(%q) grew the value buffer to %d, want it untouched", "a LOGIN {1000000}", cap(cr.buf))
	}
	if allocs > 3 {
		t.Errorf("Next(%q) made %v allocations, want at most 3 (tag, error)", "a LOGIN {1000000}", allocs)
	}
}

func BenchmarkCommandReaderLogin(b *testing.B) {
	r := NewReader(&loopReader{s: "a001 LOGIN {5}\r\nalice {6}\r\nsecret\r\n"}, 0)
	cr := NewCommandReader(r, func(int) error { return nil })
	b.ReportAllocs()
	for b.Loop() {
		cmd, err := cr.Next()
		if err != nil || len(cmd.Args) != 2 {
			b.Fatalf("Next() = %s", fmtResult(cmd, err))
		}
	}
}

func BenchmarkCommandReaderLoginQuoted(b *testing.B) {
	r := NewReader(&loopReader{s: "a001 LOGIN \"alice@example.com\" \"correct horse\"\r\n"}, 0)
	cr := NewCommandReader(r, nil)
	b.ReportAllocs()
	for b.Loop() {
		cmd, err := cr.Next()
		if err != nil || len(cmd.Args) != 2 {
			b.Fatalf("Next() = %s", fmtResult(cmd, err))
		}
	}
}

func BenchmarkCommandReaderID(b *testing.B) {
	r := NewReader(&loopReader{s: `a002 ID ("name" "Thunderbird" "version" "128.0" "os" NIL)` + "\r\n"}, 0)
	cr := NewCommandReader(r, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cr.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
