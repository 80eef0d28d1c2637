package wire

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

// Limits of the fuzzed CommandReader, small so that the fuzzer reaches them.
const (
	fuzzMaxLine    = 64
	fuzzMaxLiteral = 32
	fuzzMaxCommand = 128
	fuzzMaxSkip    = 256
	fuzzContLimit  = 16 // Continue refuses synchronising literals above this
)

// commandSeeds are the table-test inputs, shared by f.Add and the corpus.
var commandSeeds = []string{
	"a001 CAPABILITY\r\n",
	"a1 LOGIN alice secret\r\n",
	`a1 LOGIN "al\"ice" "p\\w"` + "\r\n",
	`a1 LOGIN "jörg" "пароль"` + "\r\n",
	"a LOGIN {5}\r\nalice {6}\r\nsecret\r\n",
	"a LOGIN {5+}\r\nalice secret\r\n",
	`a ID ("name" "x" "version" "y")` + "\r\n",
	"a ID (\"name\" NIL \"v\" {3}\r\nabc)\r\n",
	"a NOOP\nb STARTTLS\r\nc LOGIN x y\r\n",
	"a LOGIN {99+}\r\n" + strings.Repeat("y", 99) + " {3+}\r\nabc\r\nb NOOP\r\n",
	"a LOGIN ~{5+}\r\nab\x00de x\r\n",
	"a001 LOGIN " + strings.Repeat("x", 80) + " {5+}\r\nhello\r\nb NOOP\r\n",
	"a LOGIN {3}\r\na\x00b {2+}\r\nzz\r\n",
	"\r\n+ x\r\na\r\n* NOOP\r\n",
	"a AUTHENTICATE PLAIN =\r\n",
	"a LOGIN {99999999999999999999999+}\r\n",
}

// summary renders a Next result for comparing two runs.
func summary(cmd *Command, err error) string {
	var ce *CommandError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("BAD %q %q %v", ce.Tag, ce.Code, ce.Err)
	case err != nil:
		return "ERR"
	}
	return fmt.Sprintf("%q %q %s", cmd.Tag, cmd.Name, fmtArgs(cmd.Args))
}

// runCommands reads data to the end with the fuzz limits, checking the
// invariants of every result, and returns the summaries.
func runCommands(t *testing.T, data []byte, oneByte bool) []string {
	var src = bytes.NewReader(data)
	r := NewReader(src, fuzzMaxLine)
	if oneByte {
		r = NewReader(iotest.OneByteReader(src), fuzzMaxLine)
	}
	cr := NewCommandReader(r, func(n int) error {
		if n < 0 || n > fuzzMaxLiteral {
			t.Fatalf("Continue(%d) called, want 0 <= n <= %d", n, fuzzMaxLiteral)
		}
		if n > fuzzContLimit {
			return ErrLiteralTooLarge
		}
		return nil
	})
	cr.MaxLiteral, cr.MaxCommand, cr.MaxSkip = fuzzMaxLiteral, fuzzMaxCommand, fuzzMaxSkip
	var out []string
	// Every command or error consumes at least one octet.
	for i := 0; i <= len(data)+1; i++ {
		cmd, err := cr.Next()
		if cap(cr.buf) > fuzzMaxCommand {
			t.Fatalf("value buffer capacity %d, want at most %d", cap(cr.buf), fuzzMaxCommand)
		}
		out = append(out, summary(cmd, err))
		var ce *CommandError
		switch {
		case errors.As(err, &ce):
			checkTag(t, ce.Tag, true)
			continue
		case err != nil:
			return out
		}
		checkTag(t, cmd.Tag, false)
		if cmd.Name == "" || cmd.Name != strings.ToUpper(cmd.Name) {
			t.Fatalf("Next() name = %q, want non-empty upper case", cmd.Name)
		}
		if total := checkArgs(t, cmd.Args, 0); total > fuzzMaxCommand {
			t.Fatalf("Next() returned %d value octets, want at most %d", total, fuzzMaxCommand)
		}
		checkRoundTrip(t, cmd.Args)
	}
	t.Fatalf("Next() made no progress: %d results for %d octets", len(out), len(data))
	return nil
}

func checkTag(t *testing.T, tag string, mayBeEmpty bool) {
	t.Helper()
	if tag == "" && !mayBeEmpty {
		t.Fatalf("Next() returned an empty tag")
	}
	for i := 0; i < len(tag); i++ {
		if !isTagChar(tag[i]) {
			t.Fatalf("Next() tag %q has %q, not a tag character", tag, tag[i])
		}
	}
}

func checkArgs(t *testing.T, args []Arg, depth int) int {
	t.Helper()
	if depth > maxDepth {
		t.Fatalf("Next() returned lists nested %d deep, want at most %d", depth, maxDepth)
	}
	total := 0
	for _, a := range args {
		switch a.Kind {
		case List:
			total += checkArgs(t, a.List, depth+1)
			continue
		case Literal:
			if len(a.Value) > fuzzMaxLiteral {
				t.Fatalf("Next() returned a %d-octet literal, want at most %d", len(a.Value), fuzzMaxLiteral)
			}
		case Quoted:
			if !utf8.Valid(a.Value) || bytes.ContainsAny(a.Value, "\r\n") {
				t.Fatalf("Next() returned quoted %q, want valid UTF-8 without CR or LF", a.Value)
			}
		case Atom:
			if len(a.Value) == 0 {
				t.Fatalf("Next() returned an empty atom")
			}
		default:
			t.Fatalf("Next() returned kind %v", a.Kind)
		}
		if bytes.IndexByte(a.Value, 0) >= 0 {
			t.Fatalf("Next() returned %s %q with a NUL", a.Kind, a.Value)
		}
		total += len(a.Value)
	}
	return total
}

// checkRoundTrip re-encodes every top-level string and reads it back.
func checkRoundTrip(t *testing.T, args []Arg) {
	t.Helper()
	for _, a := range args {
		if a.Kind == List {
			continue
		}
		v := string(a.Value)
		line, ok := AppendAstring([]byte("t X "), v)
		if !ok {
			line = append([]byte("t X "+LiteralHeader(len(v), true)+"\r\n"), v...)
		}
		line = append(line, "\r\n"...)
		cr := NewCommandReader(NewReader(bytes.NewReader(line), 0), nil)
		cmd, err := cr.Next()
		if err != nil || len(cmd.Args) != 1 || string(cmd.Args[0].Value) != v {
			t.Fatalf("Next(%q) = %s, want the value %q back", line, fmtResult(cmd, err), v)
		}
	}
}

func FuzzCommandReader(f *testing.F) {
	for _, s := range commandSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := runCommands(t, data, false)
		// How the octets arrive must not change what is read.
		single := runCommands(t, data, true)
		if fmt.Sprint(whole) != fmt.Sprint(single) {
			t.Fatalf("Next() over %q read whole = %q, one octet at a time = %q", data, whole, single)
		}
	})
}

var plainSeeds = []string{
	"AHRpbQB0YW5zdGFhZnRhbnN0YWFm", b64("admin\x00tim\x00pw"), "*", "=", "",
	b64("tim\x00pw"), b64("a\x00tim\x00pw\x00"), "dGl=", "AHRpbQB0YW5z!GFhZg==",
}

var popSeeds = []string{
	"USER alice", "PASS my secret  pw ", "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
	"AUTH PLAIN =", "CAPA", "TOP 1 10", "XQUERYAUTH 192.0.2.1", "USER  alice", "US",
	"USER jörg@example.com", "PASS a\x00b",
}

func FuzzDecodePlain(f *testing.F) {
	for _, s := range plainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		z, c, p, err := DecodePlain(in)
		if err != nil {
			if z != "" || c != "" || p != "" {
				t.Fatalf("DecodePlain(%q) = %q, %q, %q, %v, want empty strings with the error", in, z, c, p, err)
			}
			if !errors.Is(err, ErrBadPlain) && !errors.Is(err, ErrBadBase64) && !errors.Is(err, ErrCancelled) {
				t.Fatalf("DecodePlain(%q) err = %v, want ErrBadPlain, ErrBadBase64 or ErrCancelled", in, err)
			}
			return
		}
		if c == "" || p == "" || strings.ContainsRune(z+c+p, 0) {
			t.Fatalf("DecodePlain(%q) = %q, %q, %q, want non-empty authcid and passwd and no NUL", in, z, c, p)
		}
		// Only canonical base64 is accepted, so encoding gives the input back.
		if got := EncodePlain(z, c, p); got != string(in) {
			t.Fatalf("EncodePlain(DecodePlain(%q)) = %q, want the input", in, got)
		}
	})
}

func FuzzPOPCommand(f *testing.F) {
	for _, s := range popSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		name, args, err := ParsePOPCommand(line)
		if err != nil {
			if !errors.Is(err, ErrBadSyntax) && !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("ParsePOPCommand(%q) err = %v, want ErrBadSyntax or ErrLineTooLong", line, err)
			}
			return
		}
		if len(line) > MaxPOPLine-2 {
			t.Fatalf("ParsePOPCommand(%q) accepted %d octets, want at most %d", line, len(line), MaxPOPLine-2)
		}
		if len(name) < 3 || len(name) > maxXKeyword || name != strings.ToUpper(name) {
			t.Fatalf("ParsePOPCommand(%q) name = %q, want 3-16 upper-case octets", line, name)
		}
		for _, a := range args {
			if a == "" || strings.ContainsAny(a, "\x00\r\n") || name != "PASS" && strings.ContainsAny(a, " \t") {
				t.Fatalf("ParsePOPCommand(%q) arg %q, want non-empty without NUL, CR, LF (or spaces outside PASS)", line, a)
			}
		}
		// The parts put back together give the line.
		joined := name
		if args != nil {
			joined += " " + strings.Join(args, " ")
		}
		if !strings.EqualFold(joined, string(line)) || joined[len(name):] != string(line[len(name):]) {
			t.Fatalf("ParsePOPCommand(%q) = %q, %q, which joins to %q", line, name, args, joined)
		}
	})
}

// TestFuzzCorpusUpToDate checks that the seed corpus checked in under
// testdata/fuzz is the seed lists above, written in the "go test fuzz v1"
// format, so that the corpus runs in every plain "go test" even on machines
// whose fuzz cache is empty. Run with -update after changing a list.
func TestFuzzCorpusUpToDate(t *testing.T) {
	for name, seeds := range map[string][]string{
		"FuzzCommandReader": commandSeeds,
		"FuzzDecodePlain":   plainSeeds,
		"FuzzPOPCommand":    popSeeds,
	} {
		dir := filepath.Join("testdata", "fuzz", name)
		want := map[string]string{}
		for i, s := range seeds {
			want[fmt.Sprintf("seed%02d", i)] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		}
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			old, _ := filepath.Glob(filepath.Join(dir, "seed*"))
			for _, f := range old {
				os.Remove(f)
			}
			for f, content := range want {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "seed*"))
		if len(files) != len(want) {
			t.Errorf("%s has %d seed files, want %d (run go test -run TestFuzzCorpusUpToDate -update)", dir, len(files), len(want))
		}
		for f, content := range want {
			got, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || string(got) != content {
				t.Errorf("%s/%s = %q, %v, want %q (run go test -run TestFuzzCorpusUpToDate -update)", dir, f, got, err, content)
			}
		}
	}
}
