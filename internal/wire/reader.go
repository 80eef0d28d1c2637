package wire

import (
	"bufio"
	"errors"
	"io"
)

// DefaultMaxLine is the line limit NewReader uses when given zero or less.
// RFC 7162 §4 sets 8192 octets as the command line length clients should
// stay within and servers should accept; nothing a client says before login
// comes near it.
const DefaultMaxLine = 8192

// ErrLineTooLong is returned by Reader.ReadLine for a line longer than the
// limit. The whole line, up to and including its newline, has already been
// skipped, so the next ReadLine starts on the next line.
var ErrLineTooLong = errors.New("wire: line too long")

// headLen and tailLen are how many bytes of an over-long line a Reader keeps.
// The head lets an IMAP reader still name the tag in its BAD reply; the tail
// lets it see a "{n+}" at the end of the skipped line, whose literal octets it
// must also skip to stay in step. A literal header is at most 24 bytes
// ("~{" + 19 digits + "+}" + CR).
const (
	headLen = 64
	tailLen = 32
)

// A Reader reads CRLF-terminated lines and literal octets from an
// unauthenticated peer without ever holding more than its line limit.
//
// A Reader is not safe for concurrent use. After any error other than
// ErrLineTooLong the Reader's position in the stream is undefined and the
// connection should be closed.
type Reader struct {
	br  *bufio.Reader
	max int
	lit []byte // reused by ReadFull

	// First and last bytes of the last over-long line, kept for CommandReader.
	head  [headLen]byte
	nhead int
	tail  [tailLen]byte
	ntail int
}

// NewReader returns a Reader on r whose lines, without their line ending, are
// at most maxLine octets; zero or less means DefaultMaxLine. The buffer is
// sized so that a line of exactly maxLine plus CRLF fits, which is what lets
// ReadLine return lines without copying them.
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Reader{br: newBufReader(r, maxLine+2), max: maxLine}
}

// ReadLine returns the next line without its CRLF. A bare LF also ends a line
// (many clients and test tools send one), and a CR before it is removed; a CR
// anywhere else is left for the caller's grammar to reject.
//
// The returned slice points into the Reader's buffer and is valid only until
// the next call on the Reader.
//
// A line longer than the limit is skipped up to and including its newline and
// ErrLineTooLong is returned, so the caller can answer it and go on. End of
// input in the middle of a line gives io.ErrUnexpectedEOF: a truncated command
// is never returned, because the client cannot have meant it.
func (r *Reader) ReadLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	switch err {
	case nil:
		n := len(line) - 1
		if n > 0 && line[n-1] == '\r' {
			n--
		}
		if n > r.max {
			// maxLine+1 octets and a bare LF still fit in the buffer.
			r.noteHead(line)
			r.ntail = 0
			r.noteTail(line)
			return nil, ErrLineTooLong
		}
		return line[:n], nil
	case bufio.ErrBufferFull:
		r.noteHead(line)
		r.ntail = 0
		for err == bufio.ErrBufferFull {
			r.noteTail(line)
			line, err = r.br.ReadSlice('\n')
		}
		if err != nil {
			return nil, unexpected(err)
		}
		r.noteTail(line)
		return nil, ErrLineTooLong
	default:
		if len(line) > 0 {
			return nil, unexpected(err)
		}
		return nil, err
	}
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF, for reads that stopped
// part-way through something the peer had promised to send.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) noteHead(b []byte) {
	r.nhead = copy(r.head[:], b)
}

// noteTail keeps the last tailLen bytes seen across the chunks of a line.
func (r *Reader) noteTail(b []byte) {
	if len(b) >= tailLen {
		r.ntail = copy(r.tail[:], b[len(b)-tailLen:])
		return
	}
	if keep := tailLen - len(b); r.ntail > keep {
		copy(r.tail[:], r.tail[r.ntail-keep:r.ntail])
		r.ntail = keep
	}
	r.ntail += copy(r.tail[r.ntail:], b)
}

// longHead returns the first bytes of the last over-long line.
func (r *Reader) longHead() []byte { return r.head[:r.nhead] }

// longTail returns the last bytes of the last over-long line, without its
// line ending.
func (r *Reader) longTail() []byte {
	t := r.tail[:r.ntail]
	if n := len(t); n > 0 && t[n-1] == '\n' {
		t = t[:n-1]
	}
	if n := len(t); n > 0 && t[n-1] == '\r' {
		t = t[:n-1]
	}
	return t
}

// ReadFull reads exactly n octets, the body of a literal. The result is valid
// until the next call on the Reader; its buffer is kept and reused, so the
// caller must bound n before asking, as CommandReader bounds its literals.
func (r *Reader) ReadFull(n int) ([]byte, error) {
	if n < 0 {
		return nil, errors.New("wire: negative literal size")
	}
	if cap(r.lit) < n {
		r.lit = make([]byte, n)
	}
	b := r.lit[:n]
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, unexpected(err)
	}
	return b, nil
}

// appendFull reads exactly n octets onto dst. The caller has made room.
func (r *Reader) appendFull(dst []byte, n int) ([]byte, error) {
	l := len(dst)
	dst = dst[:l+n]
	if _, err := io.ReadFull(r.br, dst[l:]); err != nil {
		return dst[:l], unexpected(err)
	}
	return dst, nil
}

// skip reads and drops n octets without storing them.
func (r *Reader) skip(n int64) error {
	for n > 0 {
		chunk := n
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		d, err := r.br.Discard(int(chunk))
		n -= int64(d)
		if err != nil {
			return unexpected(err)
		}
	}
	return nil
}

// Buffered returns how many octets have been received but not yet read.
// After a STARTTLS (or STLS) command this must be zero: anything else was
// sent in plaintext before the handshake, possibly injected by a
// man-in-the-middle (CVE-2011-0411), and must be dropped with Discard, never
// executed after TLS starts.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Discard drops everything buffered and returns how many octets that was.
func (r *Reader) Discard() int {
	n, _ := r.br.Discard(r.br.Buffered())
	return n
}

// Reset drops everything buffered and makes the Reader read from rd, keeping
// its buffer and limit. It is what a STARTTLS handler calls with the
// *tls.Conn after the handshake.
func (r *Reader) Reset(rd io.Reader) {
	r.br.Reset(rd)
	r.nhead, r.ntail = 0, 0
}

// Drain returns a copy of the octets buffered and not yet read, nil if
// none: at the hand-off to the pipe, what the peer pipelined behind its
// last command.
func (r *Reader) Drain() []byte {
	n := r.br.Buffered()
	if n == 0 {
		return nil
	}
	b, _ := r.br.Peek(n)
	out := append([]byte(nil), b...)
	r.br.Discard(n)
	return out
}
