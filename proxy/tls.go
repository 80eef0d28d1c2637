package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/tlsconf"
)

// HandshakeTimeout bounds a TLS handshake with a client or a store, so
// that a peer that stops half-way does not hold the session.
const HandshakeTimeout = 30 * time.Second

// SetTLS replaces the TLS configuration for sessions accepted from now
// on: the daemon calls it on refresh with a new tlsconf.Load, so that
// renewed certificates are used. Sessions already running keep theirs.
func (s *Server) SetTLS(c *tlsconf.Config) { s.tls.Store(withSlots(c)) }

// TLSConfig returns the TLS configuration of the session (nil without
// one).
func (s *Session) TLSConfig() *tlsconf.Config { return s.tlsc }

// StartTLSOffered reports whether the protocol may offer STARTTLS (IMAP,
// SMTP) or STLS (POP): SSLEnable, a usable certificate, and a client
// connection not yet encrypted.
func (s *Session) StartTLSOffered() bool { return s.tlsc.StartTLS() && !s.TLS() }

// TLSState returns the client connection's TLS state once the handshake
// is done.
func (s *Session) TLSState() (tls.ConnectionState, bool) {
	s.mu.Lock()
	tc, ok := s.Client.(*tls.Conn)
	s.mu.Unlock()
	if !ok {
		return tls.ConnectionState{}, false
	}
	return tc.ConnectionState(), true
}

// StartTLS runs the server side of a TLS handshake on the client
// connection and makes the *tls.Conn the session's client (SetClient).
// The protocol must have dropped what the client sent before (its reader
// holds it: wire.Reader.Discard) and must then read and write through
// s.Client (wire.Reader.Reset). A failed handshake is logged as "SSL
// negotiation failed for IP <ip>: <reason>" (docs/reference.md §3.10); the session is
// then unusable and the protocol ends it.
func (s *Session) StartTLS(ctx context.Context) error {
	if !s.tlsc.StartTLS() {
		return errors.New("proxy: TLS is not configured")
	}
	if s.handshaken() {
		return errors.New("proxy: the connection is already encrypted")
	}
	raw := s.Client
	conn := raw
	var sc slotConn
	if w := s.srv.opts.Workers; w != nil {
		// The handshake holds a worker slot only while it computes
		// (handshake.go).
		sc = handshakeConn(raw, w)
		conn = sc
	}
	tc := tls.Server(conn, s.tlsc.Client)
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	raw.SetDeadline(time.Now().Add(HandshakeTimeout))
	err := tc.HandshakeContext(ctx)
	if sc != nil {
		sc.handshakeSlot().end()
	}
	raw.SetDeadline(time.Time{})
	if err != nil {
		s.Log.Error(fmt.Sprintf("SSL negotiation failed for IP %s: %v", s.ClientAddr.Addr(), err))
		return err
	}
	s.SetClient(tc)
	if s.Log.Enabled(ctx, logging.LevelInformation) {
		st := tc.ConnectionState()
		resumed := ""
		if st.DidResume {
			resumed = " (session resumed)"
		}
		logging.Infof(s.Log, "TLS established with %s: %s %s%s", s.ClientAddr,
			tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), resumed)
	}
	return nil
}

func (s *Session) handshaken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.Client.(*tls.Conn)
	return ok
}

// implicitTLS runs the handshake of a connection accepted on an SSLPorts
// port, before the greeting. false means the session is over.
func (s *Session) implicitTLS(ctx context.Context) bool {
	if s.tlsc == nil || s.tlsc.Client == nil {
		s.Log.Error(fmt.Sprintf("SSL negotiation failed for IP %s: no usable certificate for the SSL port %d (see SSLCertPEM)",
			s.ClientAddr.Addr(), s.ServerAddr.Port()))
		return false
	}
	return s.StartTLS(ctx) == nil
}

// storeTLS returns the port and TLS configuration for the store side:
// SSLBacksidePort with TLS when it is set, else BacksidePort in clear
// text (docs/reference.md §4.2.5 step 2).
func (s *Session) storeTLS(host string) (int, *tls.Config) { return storeTLS(s.Values, s.tlsc, host) }

func storeTLS(v *config.Values, tlsc *tlsconf.Config, host string) (int, *tls.Config) {
	port := config.Get(v, param.SSLBacksidePort)
	if port <= 0 {
		return config.Get(v, param.BacksidePort), nil
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	if cfg := tlsc.ForStore(name); cfg != nil {
		return port, cfg
	}
	return port, &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name}
}

// DialStore connects to a mail host as the sessions of values would:
// BacksidePort in clear text, or SSLBacksidePort with TLS verified as
// tlsc says (nil: the system's roots), within ConnectTimeout. It returns
// the connection and the address. AService -check --probe uses it.
func DialStore(ctx context.Context, v *config.Values, tlsc *tlsconf.Config, host string) (net.Conn, string, error) {
	port, tcfg := storeTLS(v, tlsc, host)
	addr := storeAddr(host, port)
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, addr, err
	}
	if tcfg != nil {
		if c, err = storeHandshake(ctx, c, tcfg); err != nil {
			return nil, addr, err
		}
	}
	return c, addr, nil
}

// storeHandshake starts TLS on a new store connection.
func storeHandshake(ctx context.Context, c net.Conn, cfg *tls.Config) (net.Conn, error) {
	tc := tls.Client(c, cfg)
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS with the store: %w", err)
	}
	return tc, nil
}

// ClientCertificate returns the client's certificate when it presented
// one and it chained to SSLClientCAPEM (tls.VerifyClientCertIfGiven): the
// identity a certificate login (AUTHENTICATE EXTERNAL, certmap, docs/reference.md
// §3.7) would map to a user. nil otherwise.
func (s *Session) ClientCertificate() *x509.Certificate {
	st, ok := s.TLSState()
	if !ok || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return nil
	}
	return st.VerifiedChains[0][0]
}

// UpgradeTLS is the server side of STARTTLS (IMAP, SMTP) and STLS (POP)
// once the protocol has accepted the command: whatever the client
// pipelined behind it was sent in clear text and may have been injected
// by a man in the middle (CVE-2011-0411), so it is dropped, never
// executed, and logged; the protocol's go-ahead line is written and
// flushed; the handshake runs (StartTLS); r and w then read and write
// through the TLS connection. A failed handshake returns ErrEnd: the
// session is over, and StartTLS has logged why.
func (s *Session) UpgradeTLS(ctx context.Context, command string, r *wire.Reader, w *bufio.Writer, goAhead string) error {
	if n := r.Discard(); n > 0 {
		logging.Notice(s.Log, fmt.Sprintf("client %s sent %d octets behind %s before the TLS handshake; dropped", s.ClientAddr, n, command))
	}
	w.WriteString(goAhead + "\r\n")
	if err := w.Flush(); err != nil {
		return err
	}
	if err := s.StartTLS(ctx); err != nil {
		return ErrEnd
	}
	r.Reset(s.Client)
	w.Reset(s.Client)
	return nil
}
