package smtpproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// greeting is the first line the client sees (spec §4.4.1 step 3):
// "220 <Banner>". RFC 5321 §4.2 wants the server's name first, so a
// Banner that does not begin with the host name (the Netscape default
// "Netscape Messaging Multiplexor ready") gets it put in front. A Banner
// that starts with "220 " is a whole greeting line written the Netscape
// way and is sent as it is (spec §7.23).
func (c *conn) greeting() string {
	b := config.Get(c.v, param.Banner)
	if strings.HasPrefix(b, "220 ") {
		return b
	}
	b = c.p.expandBanner(b)
	if first, _, _ := strings.Cut(b, " "); !strings.EqualFold(first, c.p.host) {
		b = strings.TrimSpace(c.p.host + " " + b)
	}
	return "220 " + b
}

// expandBanner replaces the escapes the Sun servers use in their own
// banners (spec §4.2.1): %h host, %p protocol (ESMTP), %P product, %v
// short version, %V long version, %% a percent sign. Other escapes stay as
// they are, since a banner is text for people and must not fail.
func (p *Protocol) expandBanner(b string) string {
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
			out.WriteString(p.host)
		case 'p':
			out.WriteString("ESMTP")
		case 'P':
			out.WriteString(Product)
		case 'v':
			out.WriteString(p.version)
		case 'V':
			out.WriteString(p.longVersion)
		case '%':
			out.WriteByte('%')
		default:
			out.WriteByte('%')
			out.WriteByte(b[i])
		}
	}
	return out.String()
}
