package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"

	"github.com/openmmp/mmp/tlsconf"
)

// A TLS handshake is work for a worker slot (NumThreads, Workers) only
// while the MMP computes: from the complete ClientHello (the key
// exchange, the certificate's signature) to the server's flight. Waiting
// for the client holds no slot: neither for its ClientHello nor for its
// answer to the server's flight. Held across the whole handshake, a slot
// was held up to HandshakeTimeout by any client that connected to an SSL
// port and said nothing, or stopped after its ClientHello, and NumThreads
// such clients (two on a 2-CPU machine) stopped every handshake and
// every directory operation of the process. They also left the CPU idle
// under honest load while each slot waited for a client's round trip.
//
// The slot is taken in the configuration's GetConfigForClient
// (crypto/tls calls it once the ClientHello is read; withSlots installs
// it) and given back by the client connection's wrapper (handshakeConn)
// when the handshake next waits to read after the server has written, or
// when it ends. With TLS 1.2 the server's key exchange, made after the
// client's, runs without a slot, as does anything after a
// HelloRetryRequest: small parts, and none of them a wait.

// Slot states.
const (
	slotNone     = iota // before the ClientHello
	slotHeld            // computing
	slotWritten         // the server has written: the next read waits for the client
	slotReleased        // given back; never taken again
)

// slot is the worker slot of one handshake.
type slot struct {
	w     *Workers
	state atomic.Int32
}

func (s *slot) take(ctx context.Context) error {
	if s.state.Load() != slotNone {
		return nil
	}
	if err := s.w.acquire(ctx); err != nil {
		return err
	}
	if !s.state.CompareAndSwap(slotNone, slotHeld) {
		s.w.release()
	}
	return nil
}

func (s *slot) wrote() { s.state.CompareAndSwap(slotHeld, slotWritten) }

func (s *slot) reading() {
	if s.state.Load() == slotWritten && s.state.CompareAndSwap(slotWritten, slotReleased) {
		s.w.release()
	}
}

// end gives the slot back if the handshake still holds it.
func (s *slot) end() {
	if old := s.state.Swap(slotReleased); old == slotHeld || old == slotWritten {
		s.w.release()
	}
}

// slotConn is a client connection that carries the slot of its handshake.
type slotConn interface {
	net.Conn
	handshakeSlot() *slot
}

// handshakeConn wraps the client connection of a TLS handshake so that
// its slot follows the handshake's reads and writes. It stays under the
// *tls.Conn for the session's life, so a TCP connection is wrapped in a
// type that embeds it (tcpHandshakeConn): the pipe still finds its
// socket options, SyscallConn, CloseRead and CloseWrite.
func handshakeConn(c net.Conn, w *Workers) slotConn {
	s := &slot{w: w}
	if tc, ok := c.(*net.TCPConn); ok {
		return &tcpHandshakeConn{tc, s}
	}
	return &otherHandshakeConn{c, s}
}

type tcpHandshakeConn struct {
	*net.TCPConn
	slot *slot
}

func (c *tcpHandshakeConn) handshakeSlot() *slot { return c.slot }

func (c *tcpHandshakeConn) Read(b []byte) (int, error) {
	c.slot.reading()
	return c.TCPConn.Read(b)
}

func (c *tcpHandshakeConn) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	c.slot.wrote()
	return n, err
}

type otherHandshakeConn struct {
	net.Conn
	slot *slot
}

func (c *otherHandshakeConn) handshakeSlot() *slot { return c.slot }

func (c *otherHandshakeConn) Read(b []byte) (int, error) {
	c.slot.reading()
	return c.Conn.Read(b)
}

func (c *otherHandshakeConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.slot.wrote()
	return n, err
}

// helloComplete is the GetConfigForClient of the client configuration:
// the ClientHello has been read, the computation begins.
func helloComplete(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if c, ok := hello.Conn.(slotConn); ok {
		if err := c.handshakeSlot().take(hello.Context()); err != nil {
			return nil, err
		}
	}
	return nil, nil // the configuration in use
}

// withSlots returns c with a client configuration whose handshakes take
// their worker slot in helloComplete: a copy, since c may be shared.
func withSlots(c *tlsconf.Config) *tlsconf.Config {
	if c == nil || c.Client == nil {
		return c
	}
	cp := *c
	cp.Client = c.Client.Clone()
	cp.Client.GetConfigForClient = helloComplete
	return &cp
}
