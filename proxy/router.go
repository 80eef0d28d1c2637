package proxy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// Name is a login name taken apart as spec §3.8 describes, giving the
// values of the format escapes %o, %U, %V and %s.
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
// name, qualified or not, as Netscape did (spec §7.25): the received
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

// Query is what a protocol asks the directory: who is this, and where is
// their store.
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
}

// Attr returns the first value of an attribute, "" if absent.
func (u *User) Attr(name string) string {
	if v := u.Attrs[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Keys of User.Attrs that carry the user's hosted-domain node, for the
// domain's overrides (spec §2.3, §4.5). They contain a colon, which no LDAP
// attribute name can, so they never collide with a fetched attribute.
const (
	AttrDomainName                 = "domain:name"                           // canonical domain name
	AttrDomainDN                   = "domain:dn"                             // domain node or organization
	AttrDomainPreAuth              = "domain:mailaccessproxypreauth"         // yes/no: overrides PreAuth
	AttrDomainReplay               = "domain:mailaccessproxyreplay"          // overrides ReplayFormat (%A[attr] syntax)
	AttrDomainAllowedServiceAccess = "domain:maildomainallowedserviceaccess" // access filters for the domain's users
)

// Router finds users; package directory implements it with LDAP.
type Router interface {
	Lookup(ctx context.Context, q Query) (*User, error)
}

// PreAuthenticator checks a password against the directory before the
// store is contacted (PreAuth, spec §2.3). A Router may implement it;
// package directory does, with an auth cache. Errors wrap ErrNoUser for a
// wrong password and ErrUnavailable for a directory that cannot answer.
type PreAuthenticator interface {
	PreAuth(ctx context.Context, q Query, u *User, password string) error
}

// Lookup failures. A Router wraps one of these so that protocols can
// choose the reply without knowing why in detail.
var (
	// ErrNoUser: no entry, several entries, or an entry that must not log
	// in. The client sees the same reply as for a wrong password.
	ErrNoUser = errors.New("no such user")
	// ErrUnavailable: the directory or the account is temporarily
	// unavailable (LDAP down, account on hold).
	ErrUnavailable = errors.New("temporarily unavailable")
)
