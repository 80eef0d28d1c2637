package smtpproxy

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/proxy"
)

// Limits of the dialogue before the pipe (style guide, example 6).
const (
	// maxLine bounds every line the MMP reads from a client: RFC 4954 §4
	// lets an AUTH command with its initial response, and each SASL
	// response, run to 12288 octets.
	maxLine = 12288
	// maxCommandLine bounds the other commands. RFC 5321 §4.5.3.1.4 sets
	// 512 octets; 1000 leaves room for clients that overrun it with long
	// EHLO arguments, as Postfix and Sendmail do.
	maxCommandLine = 1000
	// maxErrors is the error budget: after this many 5xx replies from the
	// MMP itself the client gets 421 and is dropped, as go-smtp's
	// errThreshold and Postfix's smtpd_hard_error_limit do, so that a
	// confused or hostile peer (or a password guesser) cannot keep a
	// session busy.
	maxErrors = 10
	// maxRelayLine and maxReplyLines bound a relay's replies; EHLO replies
	// are a few hundred octets.
	maxRelayLine  = 4096
	maxReplyLines = 100
	// relayTimeout bounds each relay reply after its greeting (whose bound
	// is FailoverTimeout); it is the store timeout of the other protocols.
	relayTimeout = proxy.StoreTimeout
	// refuseTimeout bounds the write of a refusal to a client that may not
	// be reading.
	refuseTimeout = 5 * time.Second
)

// Options configure the SMTP protocol. The zero value is usable: AUTH is
// then the relay's business, and there is no POP-before-SMTP.
type Options struct {
	// Host is the MMP's host name: the first word of the greeting, %h in
	// Banner, the first line of the EHLO reply and the MMP's own EHLO name
	// towards a relay. Empty means os.Hostname(), whole, since RFC 5321
	// wants a fully qualified name there.
	Host string
	// Version is %v in Banner; empty means proxy.Version.
	Version string
	// LongVersion is %V in Banner; empty means proxy.LongVersion.
	LongVersion string

	// PopBeforeSMTP says whether a client address logged in with POP
	// recently (docs/reference.md §4.3.3): the in-process *authsvc.Cache of a POP
	// service, or authsvc.Remote for a PopProxy elsewhere. Nil turns
	// POP-before-SMTP off.
	PopBeforeSMTP authsvc.Querier

	// Dial connects to relays. Nil means a net.Dialer; tests use it to
	// count connection attempts.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Protocol implements proxy.Protocol for SMTP submission. One Protocol
// serves one service: its relay rotation and the relays it currently
// avoids are shared by all the service's sessions.
type Protocol struct {
	id     proxy.Identity
	pop    atomic.Pointer[popSource] // nil: no POP-before-SMTP
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	relays *relayPool
}

// popSource holds the POP-before-SMTP querier, so that a refresh can
// swap it under running sessions.
type popSource struct{ q authsvc.Querier }

var _ proxy.Protocol = (*Protocol)(nil)

// New returns the SMTP protocol.
func New(o Options) *Protocol {
	p := &Protocol{
		id:     proxy.NewIdentity(o.Host, o.Version, o.LongVersion, true),
		dial:   o.Dial,
		relays: newRelayPool(time.Now),
	}
	p.SetPopBeforeSMTP(o.PopBeforeSMTP)
	if p.dial == nil {
		var d net.Dialer
		p.dial = d.DialContext
	}
	return p
}

// SetPopBeforeSMTP changes where sessions starting from now on ask
// whether a client logged in with POP (Options.PopBeforeSMTP; nil turns
// it off): a refresh that adds a POP service beside the SMTP proxy, or
// changes PopBeforeSmtpServer, applies without a restart.
func (p *Protocol) SetPopBeforeSMTP(q authsvc.Querier) {
	if q == nil {
		p.pop.Store(nil)
		return
	}
	p.pop.Store(&popSource{q})
}

// popBeforeSMTP is the querier set last, or nil.
func (p *Protocol) popBeforeSMTP() authsvc.Querier {
	if s := p.pop.Load(); s != nil {
		return s.q
	}
	return nil
}

// Login runs the dialogue of one connection up to the pipe
// (proxy.Protocol): it returns the relay connection once the client sends
// its first command for the relay.
func (p *Protocol) Login(ctx context.Context, s *proxy.Session) (*proxy.Store, error) {
	c := newConn(p, s)
	defer c.dropRelay()
	return c.serve(ctx)
}

// InternalError says goodbye to a client whose session failed
// unexpectedly (proxy.Protocol).
func (p *Protocol) InternalError(s *proxy.Session) {
	s.Client.SetWriteDeadline(time.Now().Add(refuseTimeout))
	s.Client.Write([]byte(p.closing(errInternalClose).line()))
}

// Refuse turns a client away before the greeting (proxy.Protocol): RFC
// 5321 §3.1 lets a server greet with 554 or close with 421; 421 says "not
// now", which suits a connection limit, and is what Sun's MMP sent.
func (p *Protocol) Refuse(s *proxy.Session, msg string) {
	s.Client.SetWriteDeadline(time.Now().Add(refuseTimeout))
	s.Client.Write([]byte(p.closing(&reply{421, "4.7.0", msg}).line()))
}
