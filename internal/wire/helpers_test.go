package wire

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// fmtArgs renders arguments compactly for comparisons, e.g.
// `Atom(alice) Quoted("a b") List(Quoted(name) Atom(NIL))`.
func fmtArgs(args []Arg) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a.Kind == List {
			fmt.Fprintf(&b, "List(%s)", fmtArgs(a.List))
			continue
		}
		fmt.Fprintf(&b, "%s(%s)", a.Kind, quoteIfNeeded(string(a.Value)))
	}
	return b.String()
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " ()\"\\") || strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// fmtResult renders what Next returned.
func fmtResult(cmd *Command, err error) string {
	var ce *CommandError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("BAD tag=%q code=%q text=%q", ce.Tag, ce.Code, ce.Text)
	case err != nil:
		return "error " + err.Error()
	}
	return fmt.Sprintf("%s %s [%s]", cmd.Tag, cmd.Name, fmtArgs(cmd.Args))
}

// repeatReader yields n copies of c without allocating.
type repeatReader struct {
	n int64
	c byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.c
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// loopReader yields s over and over, forever.
type loopReader struct {
	s   string
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}
