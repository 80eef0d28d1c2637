// Package account holds what the login pipeline and the directory share:
// a login name taken apart (Name), what is asked of the directory
// (Query), what it answers (User, with its hosted Domain), the two
// failures every lookup reports (ErrNoUser, ErrUnavailable), and the one
// interface the directory implements (Directory).
//
// It is a leaf under config, so that package directory, which implements
// Directory with LDAP, and package proxy, which consumes it, import it
// rather than each other (docs/architecture.md).
package account

import (
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// Name is a login name taken apart as docs/reference.md §3.8 describes,
// giving the values of the format escapes %o, %U, %V and %s.
type Name struct {
	Orig   string // %o: as the client sent it
	User   string // %U: the part before the domain delimiter
	Domain string // %V: the virtual domain, "" if none
	Canon  string // %s: User + CanonicalVirtualDomainDelim + Domain, or User
}

// ParseName splits a login name with the settings in v (the session's
// effective values, vdmap included): the name is scanned from the end for
// any VirtualDomainDelim character; without one, the Netscape vdmap VDomain
// or else DefaultDomain supplies the domain. A VDomain is appended to every
// name, qualified or not, as Netscape did (docs/decisions.md): the received
// name becomes the user part.
func ParseName(orig string, v *config.Values) Name {
	n := Name{Orig: orig, User: orig}
	vdomain := config.Get(v, param.VDomain)
	if vdomain != "" {
		n.Domain = vdomain
	} else if i := strings.LastIndexAny(orig, config.Get(v, param.VirtualDomainDelim)); i >= 0 {
		_, size := utf8.DecodeRuneInString(orig[i:])
		n.User, n.Domain = orig[:i], orig[i+size:]
	} else {
		n.Domain = config.Get(v, param.DefaultDomain)
	}
	n.Canon = n.User
	if n.Domain != "" {
		n.Canon = n.User + config.Get(v, param.CanonicalVirtualDomainDelim) + n.Domain
	}
	return n
}

// Query is what the login pipeline asks the directory: who is this, and
// where is their store.
type Query struct {
	Name   Name
	Client netip.Addr // %C
	Server netip.Addr // %S: the local address the client reached
	CertDN string     // %D: subject of a client certificate, if any
	Values *config.Values
}

// User is a directory entry found for a login.
type User struct {
	DN        string
	MailHosts []string            // values of MailHostAttrs, in attribute order then value order
	Attrs     map[string][]string // attributes fetched, keys lower-case (for %A[attr] and filters)

	// Domain is the user's hosted domain (Sun Schema 1 or 2); nil with
	// HostedDomains no and for names without a domain.
	Domain *Domain
}

// Attr returns the first value of an attribute, "" if absent.
func (u *User) Attr(name string) string {
	if v := u.Attrs[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Domain is what a user's hosted-domain node says about its users
// (docs/reference.md §2.3, §4.5). The zero value of each field means the
// node does not have the attribute.
type Domain struct {
	// Name is the canonical name: sunPreferredDomain, or the name the
	// DC-tree node stands for (Schema 1) or the client named (Schema 2).
	// It differs from the login's domain (%V) for aliases and uplevel
	// matches.
	Name string
	// DN is the domain node (Schema 1, after aliases) or organization.
	DN string
	// PreAuth is mailAccessProxyPreAuth: it overrides the PreAuth
	// parameter for the domain's users. Nil when absent or not a boolean.
	PreAuth *bool
	// Replay is mailAccessProxyReplay in ReplayFormat syntax (%A[attr]);
	// it overrides ReplayFormat.
	Replay string
	// AllowedServiceAccess are the values of
	// mailDomainAllowedServiceAccess: access filters for every user of the
	// domain that has none of its own.
	AllowedServiceAccess []string
}

// Lookup failures. The directory wraps one of these so that the login
// pipeline can choose the outcome without knowing why in detail.
var (
	// ErrNoUser: no entry, several entries, an entry that must not log
	// in, or a wrong password. The client sees the same reply for all.
	ErrNoUser = errors.New("no such user")
	// ErrUnavailable: the directory or the account is temporarily
	// unavailable (LDAP down, account on hold).
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Directory is the one seam between the login pipeline and the user
// directory; package directory implements it with LDAP. Every method's
// error wraps ErrNoUser or ErrUnavailable.
type Directory interface {
	// Lookup finds the entry of a login name.
	Lookup(ctx context.Context, q Query) (*User, error)
	// LookupCertificate finds the entry a client certificate maps to
	// with one map of certmap.conf (docs/reference.md §3.7).
	LookupCertificate(ctx context.Context, values *config.Values, cert *x509.Certificate, m *cfgfmt.Map) (*User, error)
	// CheckPassword says whether password is the user's: a bind as the
	// entry (with the auth cache) or the AuthenticationServer's verdict.
	// A wrong password wraps ErrNoUser.
	CheckPassword(ctx context.Context, q Query, u *User, password string) error
	// ClearPassword gives the user's clear-text password, for the
	// challenge-response logins CRAM-MD5 and APOP, which can only be
	// checked against the password itself.
	ClearPassword(ctx context.Context, values *config.Values, u *User) (string, error)
	// RelaySASL starts a SASL exchange of one of ExtraSASLMechanisms
	// that the AuthenticationServer performs (docs/reference.md §2.3).
	RelaySASL(ctx context.Context, values *config.Values, mechanism string, client, server netip.Addr) (SASLRelay, error)
}

// SASLRelay is one SASL exchange performed by a third-party service: the
// MMP passes the client's responses to it and its challenges back, and
// at the end the service names the user it authenticated.
type SASLRelay interface {
	// Next passes the client's next response, base64-decoded (nil: the
	// client sent no initial response), and returns the service's
	// challenge, or done with the login name. A refusal wraps ErrNoUser;
	// a service that gives no verdict, ErrUnavailable.
	Next(response []byte) (challenge []byte, done bool, login string, err error)
	// Close ends the exchange.
	Close() error
}
