package smtpproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// greeting is the first line the client sees (docs/reference.md §4.4.1 step 3):
// "220 <Banner>". RFC 5321 §4.2 wants the server's name first, so a
// Banner that does not begin with the host name (the Netscape default
// "Netscape Messaging Multiplexor ready") gets it put in front. A Banner
// that starts with "220 " is a whole greeting line written the Netscape
// way and is sent as it is (docs/reference.md §7.23).
func (c *conn) greeting() string {
	b := config.Get(c.v, param.Banner)
	if strings.HasPrefix(b, "220 ") {
		return b
	}
	b = c.p.id.Banner(b, "ESMTP")
	if first, _, _ := strings.Cut(b, " "); !strings.EqualFold(first, c.p.id.Host) {
		b = strings.TrimSpace(c.p.id.Host + " " + b)
	}
	return "220 " + b
}
