package wire

import (
	"bufio"
	"io"
	"sync"
)

// The buffers of the pre-login dialogue are pooled: every login used to
// allocate a client reader (8 KiB for IMAP), a store reader (16 KiB) and a
// 4 KiB writer, about 28 KiB that the GC then had to reclaim, for a
// dialogue of a few hundred octets. A proxy gives them back at the
// hand-off (Reader.Release, ReleaseWriter), so that a busy process reuses
// a few of them instead; a logged-in session holds none. The pools are
// sync.Pools, so what is not in use is freed at the next GCs: they never
// hold more than the pre-login sessions of a peak needed.

// readerPools holds a *sync.Pool of *bufio.Reader per buffer size.
var readerPools sync.Map

func readerPool(size int) *sync.Pool {
	if p, ok := readerPools.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := readerPools.LoadOrStore(size, new(sync.Pool))
	return p.(*sync.Pool)
}

// newBufReader returns a pooled bufio.Reader of size on rd, or a new one.
func newBufReader(rd io.Reader, size int) *bufio.Reader {
	if br, ok := readerPool(size).Get().(*bufio.Reader); ok {
		br.Reset(rd)
		return br
	}
	return bufio.NewReaderSize(rd, size)
}

// Release gives the Reader's buffer back, for the next NewReader with the
// same limit, once the caller is done with it: at the hand-off to the
// pipe, after Drain. What is still buffered is lost, and the Reader must
// not be used afterwards (it panics). Releasing twice does nothing. A
// Reader that is never released is simply collected.
func (r *Reader) Release() {
	if r.br == nil {
		return
	}
	br := r.br
	r.br, r.lit = nil, nil
	br.Reset(nil)
	readerPool(br.Size()).Put(br)
}

// WriterSize is the buffer size of NewWriter: the replies of the
// pre-login dialogue are a few lines.
const WriterSize = 4096

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, WriterSize) }}

// NewWriter returns a buffered writer of WriterSize on w, from a pool:
// give it back with ReleaseWriter when done.
func NewWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// ReleaseWriter gives a writer from NewWriter back; what it still buffers
// is dropped (Flush first). bw must not be used afterwards.
func ReleaseWriter(bw *bufio.Writer) {
	if bw == nil || bw.Size() != WriterSize {
		return
	}
	bw.Reset(nil)
	writerPool.Put(bw)
}
