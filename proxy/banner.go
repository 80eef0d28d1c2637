package proxy

import (
	"os"
	"strings"
)

// The MMP's name and version, for the Banner escapes %P, %v and %V, the
// IMAP ID reply and the goodbye lines of every protocol.
const (
	Product     = "Messaging Multiplexor"
	Version     = "0.1"
	LongVersion = "openmmp " + Version
)

// BannerVars are the values of the escapes a Banner may use.
type BannerVars struct {
	Host        string // %h: the host name
	Protocol    string // %p: IMAP, POP or ESMTP
	Product     string // %P: the product name
	Version     string // %v: the short version
	LongVersion string // %V: the long version
}

// ExpandBanner replaces the escapes the Sun servers use in their own
// banners (docs/reference.md §4.2.1): %h host, %p protocol, %P product, %v short
// version, %V long version, %% a percent sign. Other escapes stay as they
// are, since a banner is text for people and must not fail.
func ExpandBanner(b string, v BannerVars) string {
	if !strings.Contains(b, "%") {
		return b
	}
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != '%' || i+1 == len(b) {
			out.WriteByte(b[i])
			continue
		}
		i++
		switch b[i] {
		case 'h':
			out.WriteString(v.Host)
		case 'p':
			out.WriteString(v.Protocol)
		case 'P':
			out.WriteString(v.Product)
		case 'v':
			out.WriteString(v.Version)
		case 'V':
			out.WriteString(v.LongVersion)
		case '%':
			out.WriteByte('%')
		default:
			out.WriteByte('%')
			out.WriteByte(b[i])
		}
	}
	return out.String()
}

// Identity is how the MMP names itself to clients: its host name in
// greetings and the Banner escapes, and its version.
type Identity struct {
	Host, Version, LongVersion string
}

// NewIdentity fills what is empty: the host name (up to its first dot
// unless full: RFC 5321 wants the fully qualified name in SMTP), Version
// and LongVersion.
func NewIdentity(host, version, longVersion string, full bool) Identity {
	id := Identity{Host: host, Version: version, LongVersion: longVersion}
	if id.Host == "" {
		id.Host, _ = os.Hostname()
		if !full {
			id.Host, _, _ = strings.Cut(id.Host, ".")
		}
		if id.Host == "" {
			id.Host = "localhost"
		}
	}
	if id.Version == "" {
		id.Version = Version
	}
	if id.LongVersion == "" {
		id.LongVersion = LongVersion
	}
	return id
}

// Banner fills in the escapes of a Banner for protocol ("IMAP", "POP",
// "ESMTP").
func (id Identity) Banner(b, protocol string) string {
	return ExpandBanner(b, BannerVars{Host: id.Host, Protocol: protocol, Product: Product, Version: id.Version, LongVersion: id.LongVersion})
}
