package imapproxy

import (
	"context"
	"time"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
)

// Limits of the pre-login dialogue (style guide, example 6).
const (
	// maxLine bounds one command line; RFC 7162 §4 asks clients to keep
	// lines under 8192 octets and nothing before login comes near it.
	maxLine = 8192
	// maxErrors is the error budget: after this many BAD replies the
	// client is sent "* BYE" and dropped, as nginx's max_errors does, so
	// that a confused or hostile peer cannot keep a session busy.
	maxErrors = 5
	// maxStoreLine bounds a line from the store during the replay; stores
	// send capability lists of a few hundred octets.
	maxStoreLine = 16 << 10
	// maxStoreLiteral bounds a literal in an untagged store response
	// forwarded during the replay.
	maxStoreLiteral = 64 << 10
)

// Options configure the IMAP protocol. The zero value is usable.
type Options struct {
	// Host is %h in Banner. Empty means the host name up to the first dot.
	Host string
	// Version is %v in Banner and the ID version; empty means proxy.Version.
	Version string
	// LongVersion is %V in Banner; empty means proxy.LongVersion.
	LongVersion string
}

// Protocol implements proxy.Protocol for IMAP.
type Protocol struct {
	id proxy.Identity
}

var _ proxy.Protocol = (*Protocol)(nil)

// New returns the IMAP protocol.
func New(o Options) *Protocol {
	return &Protocol{id: proxy.NewIdentity(o.Host, o.Version, o.LongVersion, false)}
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
	s.Client.Write([]byte("* BYE Internal error, closing the connection\r\n"))
}

// Goodbye is what a logged-in client reads when an administrator ends
// its session (proxy.Goodbyer): an untagged BYE, which RFC 3501 §7.1.5
// allows at any time before the server closes the connection.
func (p *Protocol) Goodbye(reason string) []byte {
	return []byte("* BYE " + reason + "\r\n")
}

var _ proxy.Goodbyer = (*Protocol)(nil)

// Refuse turns a client away before the greeting (proxy.Protocol): RFC
// 3501 allows a server to greet with BYE when it will not serve.
func (p *Protocol) Refuse(s *proxy.Session, msg string) {
	s.Client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.Client.Write([]byte("* BYE " + msg + "\r\n"))
}
