package imapproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
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
	return "* OK [CAPABILITY " + strings.Join(c.capabilities(), " ") + "] " + c.p.expandBanner(b)
}

// expandBanner fills in the Banner's escapes for this protocol.
func (p *Protocol) expandBanner(b string) string {
	return proxy.ExpandBanner(b, proxy.BannerVars{Host: p.host, Protocol: "IMAP", Product: proxy.Product, Version: p.version, LongVersion: p.longVersion})
}
