package proxy

import "strings"

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
