package wire

import (
	"bytes"
	"strings"
	"testing"
)

// A released Reader's buffer serves the next Reader of the same limit,
// which reads only its own input: nothing of the previous connection.
func TestReleaseReuse(t *testing.T) {
	r := NewReader(strings.NewReader("a1 LOGIN user secret\r\npipelined"), 64)
	if l, err := r.ReadLine(); err != nil || string(l) != "a1 LOGIN user secret" {
		t.Fatalf("ReadLine = %q, %v", l, err)
	}
	if d := r.Drain(); string(d) != "pipelined" {
		t.Fatalf("Drain = %q", d)
	}
	r.Release()
	r.Release() // twice does nothing
	for range 3 {
		r2 := NewReader(strings.NewReader("b1 NOOP\r\n"), 64)
		if l, err := r2.ReadLine(); err != nil || string(l) != "b1 NOOP" {
			t.Fatalf("ReadLine after reuse = %q, %v", l, err)
		}
		if _, err := r2.ReadLine(); err == nil {
			t.Fatal("a reused Reader read past its input")
		}
		if r2.Buffered() != 0 {
			t.Fatalf("Buffered = %d", r2.Buffered())
		}
		r2.Release()
	}
	// Another limit gets a buffer of its own size.
	long := strings.Repeat("x", 100)
	r3 := NewReader(strings.NewReader(long+"\r\n"), 128)
	if l, err := r3.ReadLine(); err != nil || string(l) != long {
		t.Fatalf("ReadLine with limit 128 = %q, %v", l, err)
	}
	r3.Release()
}

func TestWriterPool(t *testing.T) {
	var a, b bytes.Buffer
	w := NewWriter(&a)
	w.WriteString("unflushed")
	ReleaseWriter(w)
	w2 := NewWriter(&b)
	w2.WriteString("* OK\r\n")
	if err := w2.Flush(); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 0 || b.String() != "* OK\r\n" {
		t.Fatalf("a %q, b %q", a.String(), b.String())
	}
	ReleaseWriter(w2)
	ReleaseWriter(nil)
}
