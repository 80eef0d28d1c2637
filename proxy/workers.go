package proxy

import (
	"context"
	"runtime"
)

// Workers bounds how many sessions do CPU- or directory-heavy work at
// once: TLS handshakes and directory operations (lookups, password
// checks). It is what NumThreads sets (docs/reference.md §2.1): Sun's
// MMP served its connections from that many threads. One Workers is
// shared by every service of a process. A nil *Workers bounds nothing.
type Workers struct{ slots chan struct{} }

// NewWorkers returns a bound of n; n of 0 or less means the number of
// CPUs Go uses.
func NewWorkers(n int) *Workers {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Workers{slots: make(chan struct{}, n)}
}

// Size is the bound.
func (w *Workers) Size() int {
	if w == nil {
		return 0
	}
	return cap(w.slots)
}

// do runs f in a worker slot, waiting (within ctx) for one to be free.
func (w *Workers) do(ctx context.Context, f func() error) error {
	if w == nil {
		return f()
	}
	if err := w.acquire(ctx); err != nil {
		return err
	}
	defer w.release()
	return f()
}

// acquire waits (within ctx) for a free slot and takes it; release gives
// it back. For work that cannot be wrapped in one function: the TLS
// handshake (handshakeConn).
func (w *Workers) acquire(ctx context.Context) error {
	if w == nil {
		return nil
	}
	select {
	case w.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Workers) release() {
	if w != nil {
		<-w.slots
	}
}
