package popproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/param"
)

// greeting is the first line the client sees (spec §4.3.1): "+OK <Banner>".
// A Banner that starts with "+OK" is a whole greeting line written the
// Netscape way and is sent as it is (spec §7.23). With CRAMs an RFC 1939
// APOP timestamp goes at the end; it is remembered for APOP. It comes from
// wire.CRAMChallenge, "<random.clock@host>": the spec's "<pid.clock@host>"
// would let anyone who knows the pid and the time predict it, and an
// APOP digest is only as good as its timestamp is unique.
func (c *conn) greeting() string {
	b := config.Get(c.v, param.Banner)
	line := b
	if !strings.HasPrefix(b, "+OK") {
		line = "+OK " + c.p.expandBanner(b)
	}
	if config.Get(c.v, param.CRAMs) {
		c.timestamp = wire.CRAMChallenge(c.p.host)
		line += " " + c.timestamp
	}
	return line
}

// expandBanner replaces the escapes the Sun servers use in their own
// banners (spec §4.2.1): %h host, %p protocol (POP), %P product, %v short
// version, %V long version, %% a percent sign. Other escapes stay as they
// are, since a banner is text for people and must not fail.
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
			out.WriteString("POP")
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
