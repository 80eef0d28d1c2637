package smtpproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/param"
)

// ProbeRelay checks a relay as the sessions of values will use it, for
// AService -check --probe and the daemon's start: it connects, reads the
// greeting, says EHLO as the MMP, and tries the configured introduction
// (SmtpRelayAnnounce) with the documentation address 192.0.2.1 as the
// client: XPEHLO with SmtpProxyPassword, or XCLIENT. It returns what it
// found, one phrase a part; err says why sessions will fail, such as a
// relay that refuses XPEHLO (Postfix does: set SmtpRelayAnnounce
// xclient). PROXY and none cannot be tried without a client.
func ProbeRelay(ctx context.Context, v *config.Values, addr, host string) (found []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	rc := &relayConn{addr: addr, c: nc, r: wire.NewReader(nc, maxRelayLine), log: slog.New(slog.DiscardHandler), stop: func() bool { return true }}
	defer rc.quit()
	deadline, _ := ctx.Deadline()
	rep, err := rc.readReply(deadline)
	if err != nil {
		return nil, fmt.Errorf("reading the greeting: %w", err)
	}
	if rep.code != 220 {
		return nil, fmt.Errorf("greeting %s", rep)
	}
	found = append(found, "greeting "+strconv.Quote(rep.lines[0]))
	rep, err = rc.command("EHLO " + host)
	if err != nil || rep.code != 250 {
		return found, fmt.Errorf("EHLO: %v %v", rep, err)
	}
	var kws []string
	for _, l := range rep.lines[1:] {
		kw, _, _ := strings.Cut(l, " ")
		kws = append(kws, strings.ToUpper(kw))
	}
	found = append(found, "EHLO "+strings.Join(kws, " "))
	switch announce := config.Get(v, param.SmtpRelayAnnounce); announce {
	case "xpehlo":
		rep, err = rc.command("XPEHLO " + host + " PASSWORD=" + xtext(config.Get(v, param.SmtpProxyPassword)) + " ADDR=192.0.2.1 PORT=1")
		if err != nil {
			return found, fmt.Errorf("XPEHLO: %w", err)
		}
		if rep.code != 250 {
			return found, fmt.Errorf("the relay refuses XPEHLO (%s): every session would fail; a relay other than a Sun MTA wants SmtpRelayAnnounce xclient, proxy or none", rep)
		}
		found = append(found, "XPEHLO accepted")
	case "xclient":
		rep, err = rc.command("XCLIENT ADDR=192.0.2.1 PORT=1")
		if err != nil {
			return found, fmt.Errorf("XCLIENT: %w", err)
		}
		if rep.code != 220 {
			return found, fmt.Errorf("the relay refuses XCLIENT (%s): list the MMP's address in Postfix's smtpd_authorized_xclient_hosts", rep)
		}
		found = append(found, "XCLIENT accepted")
	default:
		found = append(found, "SmtpRelayAnnounce "+announce+" (not tried)")
	}
	return found, nil
}
