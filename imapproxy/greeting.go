package imapproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// greeting is the first line the client sees (docs/reference.md §4.2.1):
// "* OK [CAPABILITY ...] <Banner>". A Banner that starts with "*" is a
// whole greeting line written the Netscape way and is sent as it is
// (docs/reference.md §7.23).
func (c *conn) greeting() string {
	b := config.Get(c.v, param.Banner)
	if strings.HasPrefix(b, "*") {
		return b
	}
	return "* OK [CAPABILITY " + strings.Join(c.capabilities(), " ") + "] " + c.p.id.Banner(b, "IMAP")
}
