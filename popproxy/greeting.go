package popproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/param"
)

// greeting is the first line the client sees (docs/reference.md §4.3.1): "+OK <Banner>".
// A Banner that starts with "+OK" is a whole greeting line written the
// Netscape way and is sent as it is (docs/reference.md §7.23). With CRAMs an RFC 1939
// APOP timestamp goes at the end; it is remembered for APOP. It comes from
// wire.CRAMChallenge, "<random.clock@host>": the reference's "<pid.clock@host>"
// would let anyone who knows the pid and the time predict it, and an
// APOP digest is only as good as its timestamp is unique.
func (c *conn) greeting() string {
	b := config.Get(c.v, param.Banner)
	line := b
	if !strings.HasPrefix(b, "+OK") {
		line = "+OK " + c.p.id.Banner(b, "POP")
	}
	if config.Get(c.v, param.CRAMs) {
		c.timestamp = wire.CRAMChallenge(c.p.id.Host)
		line += " " + c.timestamp
	}
	return line
}
