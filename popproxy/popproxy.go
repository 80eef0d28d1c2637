package popproxy

import (
	"context"
	"path/filepath"
	"time"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
)

// Limits of the pre-login dialogue (style guide, example 6).
const (
	// maxLine bounds what the reader buffers for one line. Commands are
	// held to wire.MaxPOPLine by ParsePOPCommand (RFC 2449 §4); the larger
	// limit is for the client's lines inside AUTH, which RFC 5034 does not
	// bound and which carry base64 credentials a third longer than the
	// name and password they encode.
	maxLine = 4096
	// maxErrors is the error budget: after this many protocol errors
	// (unknown commands, bad syntax, cancelled exchanges) the client is
	// dropped, as nginx's max_errors does, so that a confused or hostile
	// peer cannot keep a session busy. Failed logins are not counted here;
	// BadGuys slows those down.
	maxErrors = 5
	// maxStoreLine bounds a line from the store during the replay.
	maxStoreLine = 16 << 10
	// maxStoreCapa bounds the lines of the store's CAPA answer.
	maxStoreCapa = 100
)

// Options configure the POP protocol. The zero value is usable.
type Options struct {
	// Host is %h in Banner and the host part of the APOP timestamp. Empty
	// means the host name up to the first dot.
	Host string
	// Version is %v in Banner; empty means proxy.Version.
	Version string
	// LongVersion is %V in Banner; empty means proxy.LongVersion.
	LongVersion string

	// AuthCache remembers successful logins by client address for
	// POP-before-SMTP and answers XQUERYAUTH (docs/reference.md §4.3.3). It is shared
	// by every POP service of the process, and by the SMTP proxy when it
	// runs in the same process. Nil turns AuthService off: nothing is
	// recorded and XQUERYAUTH is not available.
	AuthCache *authsvc.Cache

	// Dir is the directory a relative SpoofMessageFile is relative to: the
	// instance directory. Empty means the working directory.
	Dir string
}

// Protocol implements proxy.Protocol for POP3. It is safe for concurrent
// use by every session of a server.
type Protocol struct {
	id     proxy.Identity
	auth   *authsvc.Cache
	dir    string
	spoofs spoofCache
	// storeCapas are the stores' CAPA answers (replay.go).
	storeCapas storeCapas
}

var _ proxy.Protocol = (*Protocol)(nil)

// New returns the POP3 protocol.
func New(o Options) *Protocol {
	p := &Protocol{id: proxy.NewIdentity(o.Host, o.Version, o.LongVersion, false), auth: o.AuthCache, dir: o.Dir}
	return p
}

// Login runs the pre-login dialogue of one connection (proxy.Protocol).
func (p *Protocol) Login(ctx context.Context, s *proxy.Session) (*proxy.Store, error) {
	c := newConn(p, s)
	st, err := c.serve(ctx)
	// The dialogue is over: the pipe gets copies of what is still
	// buffered (Store.FromClient), and the buffers go back to their pools.
	c.r.Release()
	wire.ReleaseWriter(c.w)
	return st, err
}

// InternalError says goodbye to a client whose session failed
// unexpectedly (proxy.Protocol).
func (p *Protocol) InternalError(s *proxy.Session) {
	s.Client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.Client.Write([]byte("-ERR [SYS/TEMP] Internal error, closing the connection\r\n"))
}

// Refuse tells a client that admission refused it (TCPAccess, connection
// limits; proxy.Protocol) in place of the greeting. POP3 has no refusal
// greeting; a "-ERR msg" first line is one that clients show as an
// error rather than take for a server; the server closes the connection
// afterwards.
// The write is bounded, since nothing is owed to a refused client that
// does not read.
func (p *Protocol) Refuse(s *proxy.Session, msg string) {
	s.Client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.Client.Write([]byte("-ERR " + msg + "\r\n"))
}

// path resolves a file name from the configuration against Dir.
func (p *Protocol) path(name string) string {
	if name == "" || filepath.IsAbs(name) || p.dir == "" {
		return name
	}
	return filepath.Join(p.dir, name)
}
