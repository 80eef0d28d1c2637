package wire

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name  string
		in    string
		max   int
		lines []string // "ERR:<error>" for an error
	}{
		{"crlf", "a\r\nbc\r\n", 16, []string{"a", "bc", "ERR:EOF"}},
		{"bare LF", "a\nb\r\n", 16, []string{"a", "b", "ERR:EOF"}},
		{"empty lines", "\r\n\n", 16, []string{"", "", "ERR:EOF"}},
		{"CR inside kept", "a\rb\r\n", 16, []string{"a\rb", "ERR:EOF"}},
		{"two CRs", "a\r\r\n", 16, []string{"a\r", "ERR:EOF"}},
		{"NUL kept", "a\x00b\r\n", 16, []string{"a\x00b", "ERR:EOF"}},
		{"exactly max", "0123456789abcdef\r\nz\r\n", 16, []string{"0123456789abcdef", "z", "ERR:EOF"}},
		{"exactly max bare LF", "0123456789abcdef\nz\n", 16, []string{"0123456789abcdef", "z", "ERR:EOF"}},
		{"max+1 bare LF", "0123456789abcdefg\nz\n", 16, []string{"ERR:" + ErrLineTooLong.Error(), "z", "ERR:EOF"}},
		{"max+1 CRLF", "0123456789abcdefg\r\nz\n", 16, []string{"ERR:" + ErrLineTooLong.Error(), "z", "ERR:EOF"}},
		{"much too long, then more", long + "\r\n" + long + long + "\nok\r\n", 16,
			[]string{"ERR:" + ErrLineTooLong.Error(), "ERR:" + ErrLineTooLong.Error(), "ok", "ERR:EOF"}},
		{"partial last line", "a\r\nb", 16, []string{"a", "ERR:" + io.ErrUnexpectedEOF.Error()}},
		{"too long then EOF", long, 16, []string{"ERR:" + io.ErrUnexpectedEOF.Error()}},
		{"default limit", strings.Repeat("y", DefaultMaxLine) + "\r\n", 0, []string{strings.Repeat("y", DefaultMaxLine), "ERR:EOF"}},
	}
	for _, tt := range tests {
		for _, mode := range []string{"whole", "onebyte"} {
			var src io.Reader = strings.NewReader(tt.in)
			if mode == "onebyte" {
				src = iotest.OneByteReader(src)
			}
			r := NewReader(src, tt.max)
			for i, want := range tt.lines {
				line, err := r.ReadLine()
				got := string(line)
				if err != nil {
					got = "ERR:" + err.Error()
				}
				if got != want {
					t.Errorf("%s/%s: ReadLine() #%d = %q, want %q", tt.name, mode, i, got, want)
					break
				}
			}
		}
	}
}

// TestReadLineBounded checks that a line far over the limit is skipped
// without being buffered.
func TestReadLineBounded(t *testing.T) {
	const size = 16 << 20
	src := io.MultiReader(&repeatReader{n: size, c: 'x'}, strings.NewReader("\r\nnext\r\n"))
	r := NewReader(src, 64)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := r.ReadLine()
	runtime.ReadMemStats(&after)
	if err != ErrLineTooLong {
		t.Fatalf("ReadLine() on a %d-octet line: err = %v, want %v", size, err, ErrLineTooLong)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
		t.Errorf("ReadLine() on a %d-octet line allocated %d bytes, want at most 64 KiB", size, alloc)
	}
	if line, err := r.ReadLine(); string(line) != "next" || err != nil {
		t.Errorf("ReadLine() after the long line = %q, %v, want %q, nil", line, err, "next")
	}
}

func TestReadFull(t *testing.T) {
	r := NewReader(strings.NewReader("{5}\r\nhello world\r\nabc"), 32)
	if line, err := r.ReadLine(); string(line) != "{5}" || err != nil {
		t.Fatalf("ReadLine() = %q, %v, want %q, nil", line, err, "{5}")
	}
	if b, err := r.ReadFull(5); string(b) != "hello" || err != nil {
		t.Errorf("ReadFull(5) = %q, %v, want %q, nil", b, err, "hello")
	}
	if line, err := r.ReadLine(); string(line) != " world" || err != nil {
		t.Errorf("ReadLine() = %q, %v, want %q, nil", line, err, " world")
	}
	if b, err := r.ReadFull(0); len(b) != 0 || err != nil {
		t.Errorf("ReadFull(0) = %q, %v, want empty, nil", b, err)
	}
	if _, err := r.ReadFull(-1); err == nil {
		t.Errorf("ReadFull(-1) err = nil, want an error")
	}
	if _, err := r.ReadFull(4); err != io.ErrUnexpectedEOF {
		t.Errorf("ReadFull(4) with 3 left: err = %v, want %v", err, io.ErrUnexpectedEOF)
	}
	// A literal larger than the line buffer.
	big := strings.Repeat("z", 1000)
	r = NewReader(strings.NewReader(big+"\r\n"), 16)
	if b, err := r.ReadFull(1000); string(b) != big || err != nil {
		t.Errorf("ReadFull(1000) = %d octets, %v, want 1000, nil", len(b), err)
	}
}

// TestStartTLSPipelining is the CVE-2011-0411 case: a client (or a
// man-in-the-middle) sends commands behind STARTTLS in the same packet. They
// must be visible as buffered and dropped, never run after the handshake.
func TestStartTLSPipelining(t *testing.T) {
	injected := "b LOGIN victim stolen\r\n"
	r := NewReader(strings.NewReader("a STARTTLS\r\n"+injected), 0)
	cr := NewCommandReader(r, nil)
	cmd, err := cr.Next()
	if err != nil || cmd.Name != "STARTTLS" {
		t.Fatalf("Next() = %s, want a STARTTLS", fmtResult(cmd, err))
	}
	if got := r.Buffered(); got != len(injected) {
		t.Errorf("Buffered() after STARTTLS = %d, want %d", got, len(injected))
	}
	if got := r.Discard(); got != len(injected) {
		t.Errorf("Discard() = %d, want %d", got, len(injected))
	}
	if got := r.Buffered(); got != 0 {
		t.Errorf("Buffered() after Discard = %d, want 0", got)
	}
	// After the handshake the reader moves to the TLS stream.
	r.Reset(strings.NewReader("c CAPABILITY\r\n"))
	cmd, err = cr.Next()
	if got, want := fmtResult(cmd, err), "c CAPABILITY []"; got != want {
		t.Errorf("Next() after Reset = %s, want %s", got, want)
	}
	if _, err := cr.Next(); err != io.EOF {
		t.Errorf("Next() at end = %v, want EOF", err)
	}
}

func TestResetDropsBuffered(t *testing.T) {
	r := NewReader(strings.NewReader("a\r\nb\r\n"), 0)
	if _, err := r.ReadLine(); err != nil {
		t.Fatal(err)
	}
	r.Reset(strings.NewReader("c\r\n"))
	if r.Buffered() != 0 {
		t.Errorf("Buffered() after Reset = %d, want 0", r.Buffered())
	}
	if line, err := r.ReadLine(); string(line) != "c" || err != nil {
		t.Errorf("ReadLine() after Reset = %q, %v, want %q, nil", line, err, "c")
	}
	if _, err := r.ReadLine(); !errors.Is(err, io.EOF) {
		t.Errorf("ReadLine() at end = %v, want EOF", err)
	}
}
