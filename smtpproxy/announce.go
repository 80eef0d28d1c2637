package smtpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
)

// introduce tells a freshly greeted relay who the client is, as
// SmtpRelayAnnounce says (docs/reference.md §4.4.1 step 5, §4.4.2), and returns the
// relay's EHLO-style reply. With XCLIENT and SmtpAuth directory the
// XCLIENT waits until the login is known (see doc.go), and the MMP greets
// the relay in its own name meanwhile; c.pending says so.
func (c *conn) introduce(rc *relayConn) (*relayReply, error) {
	switch c.announce {
	case "xpehlo":
		return c.sendXPEHLO(rc)
	case "xclient":
		if c.directoryAuth {
			c.pending = true
			return c.hello(rc, "EHLO", c.p.id.Host, false)
		}
		return c.sendXCLIENT(rc)
	}
	// proxy (the PROXY line went before the greeting) and none.
	return c.hello(rc, c.helloVerb(), c.helo, true)
}

// reintroduce answers a second EHLO or HELO on a relay connection: the
// relay hears the new greeting, and with XPEHLO the whole introduction
// again. A pending XCLIENT still waits, and the relay is not asked at all.
func (c *conn) reintroduce() (*relayReply, error) {
	switch {
	case c.announce == "xpehlo":
		return c.sendXPEHLO(c.relay)
	case c.pending:
		return nil, nil
	}
	return c.hello(c.relay, c.helloVerb(), c.helo, true)
}

// announceLogin tells the relay who authenticated with the MMP (SmtpAuth
// directory): XPEHLO again with LOGIN=, or the XCLIENT that was waiting
// for it. PROXY and none have no way to say it; the relay then treats the
// client as unauthenticated, which the log says.
func (c *conn) announceLogin() error {
	switch {
	case c.announce == "xpehlo":
		_, err := c.sendXPEHLO(c.relay)
		return err
	case c.pending:
		c.pending = false
		_, err := c.sendXCLIENT(c.relay)
		return err
	case c.announce == "xclient":
		return errors.New("XCLIENT was already sent and Postfix refuses a second one")
	}
	c.log.Warn(fmt.Sprintf("user '%s' authenticated, but SmtpRelayAnnounce %s cannot tell the relay; it sees an unauthenticated client", c.login, c.announce))
	return nil
}

// helloVerb is what the client said: EHLO or HELO.
func (c *conn) helloVerb() string {
	if c.esmtp {
		return "EHLO"
	}
	return "HELO"
}

// hello sends EHLO or HELO and expects 250. clients says the argument is
// the client's own, so that a 5xx is the client's problem (helloRefused)
// rather than the relay's.
func (c *conn) hello(rc *relayConn, verb, arg string, clients bool) (*relayReply, error) {
	rep, err := rc.command(verb + " " + arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	if rep.code == 250 {
		return rep, nil
	}
	if clients && rep.code >= 500 {
		return nil, &helloRefused{rep}
	}
	return nil, fmt.Errorf("%s answered %s", verb, rep)
}

// sendXPEHLO introduces the client with XPEHLO (doc.go has the syntax).
// Any answer but 250 means the relay does not speak XPEHLO or refused the
// password (docs/reference.md §4.4.2): the relay is not usable.
func (c *conn) sendXPEHLO(rc *relayConn) (*relayReply, error) {
	var b strings.Builder
	b.WriteString("XPEHLO ")
	b.WriteString(c.helo)
	b.WriteString(" PASSWORD=" + xtext(config.Get(c.v, param.SmtpProxyPassword)))
	b.WriteString(" ADDR=" + xtext(addrString(c.s.ClientAddr.Addr())))
	b.WriteString(" PORT=" + strconv.Itoa(int(c.s.ClientAddr.Port())))
	if c.name != "" {
		b.WriteString(" NAME=" + xtext(c.name))
	}
	if ch := config.Get(c.v, param.PopBeforeSmtpKludgeChannel); ch != "" && c.popUser != "" {
		b.WriteString(" CHANNEL=" + xtext(ch))
	}
	if t := c.tlsParam(); t != "" {
		b.WriteString(" TLS=" + xtext(t))
	}
	if c.s.ServerAddr.Addr().IsValid() {
		b.WriteString(" SERVERADDR=" + xtext(addrString(c.s.ServerAddr.Addr())))
	}
	if c.login != "" {
		b.WriteString(" LOGIN=" + xtext(c.login))
	}
	rep, err := rc.command(b.String())
	if err != nil {
		return nil, fmt.Errorf("XPEHLO: %w", err)
	}
	if rep.code != 250 {
		return nil, fmt.Errorf("XPEHLO refused: %s", rep)
	}
	return rep, nil
}

// sendXCLIENT introduces the client with Postfix's XCLIENT, waits for the
// new 220 greeting XCLIENT is answered with, and greets again with the
// client's EHLO or HELO. LOGIN is the user who authenticated with the MMP,
// else the POP-before-SMTP user, which makes Postfix's
// permit_sasl_authenticated let the client relay.
func (c *conn) sendXCLIENT(rc *relayConn) (*relayReply, error) {
	addr := c.s.ClientAddr.Addr()
	a := addrString(addr)
	if addr.Is6() {
		a = "IPV6:" + a // XCLIENT_README: IPv6 addresses carry the prefix
	}
	var b strings.Builder
	b.WriteString("XCLIENT ADDR=" + xtext(a))
	b.WriteString(" PORT=" + strconv.Itoa(int(c.s.ClientAddr.Port())))
	switch {
	case c.name != "":
		b.WriteString(" NAME=" + xtext(c.name))
	case c.nameTemp:
		b.WriteString(" NAME=[TEMPUNAVAIL]")
	default:
		b.WriteString(" NAME=[UNAVAILABLE]")
	}
	b.WriteString(" HELO=" + xtext(c.helo))
	if c.esmtp {
		b.WriteString(" PROTO=ESMTP")
	} else {
		b.WriteString(" PROTO=SMTP")
	}
	if u := c.relayLogin(); u != "" {
		b.WriteString(" LOGIN=" + xtext(u))
	}
	rep, err := rc.command(b.String())
	if err != nil {
		return nil, fmt.Errorf("XCLIENT: %w", err)
	}
	if rep.code != 220 {
		return nil, fmt.Errorf("XCLIENT refused: %s", rep)
	}
	rep, err = c.hello(rc, c.helloVerb(), c.helo, true)
	var hr *helloRefused
	if errors.As(err, &hr) {
		// After XCLIENT the relay judges the client's name as the
		// client's; it can still not be blamed on the relay.
		return nil, err
	}
	return rep, err
}

// relayLogin is the user the relay is told about: the one who
// authenticated with the MMP, else the POP-before-SMTP user.
func (c *conn) relayLogin() string {
	if c.login != "" {
		return c.login
	}
	return c.popUser
}

// proxyLine is the HAProxy PROXY protocol version 1 header for the client
// connection: source the client, destination the address it reached.
func proxyLine(client, server netip.AddrPort) string {
	src, dst := client.Addr(), server.Addr()
	if !src.IsValid() || !dst.IsValid() {
		return "PROXY UNKNOWN"
	}
	family := "TCP6"
	if src.Is4() && dst.Is4() {
		family = "TCP4"
	} else {
		// TCP6 needs both in IPv6 form; an IPv4 one is written mapped.
		src, dst = netip.AddrFrom16(src.As16()), netip.AddrFrom16(dst.As16())
	}
	return fmt.Sprintf("PROXY %s %s %s %d %d", family, src, dst, client.Port(), server.Port())
}

// addrString is an address as XPEHLO and XCLIENT carry it: without a zone,
// and unmapped.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.Unmap().WithZone("").String()
}

// xtext encodes a parameter value as RFC 3461 §4 xtext: "+" and "=", and
// everything outside "!" to "~", become "+XX".
func xtext(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < '!' || ch > '~' || ch == '+' || ch == '=' {
			b.WriteByte('+')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&0xf])
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// redact masks the proxy password in an XPEHLO line for the trace; the
// password never reaches a log (style guide, example 14).
func redact(line string) string {
	i := strings.Index(line, " PASSWORD=")
	if i < 0 {
		return line
	}
	j := i + len(" PASSWORD=")
	end := strings.IndexByte(line[j:], ' ')
	if end < 0 {
		end = len(line) - j
	}
	return line[:j] + logging.Secret("").String() + line[j+end:]
}

// tlsParam is XPEHLO's TLS=<protocol>:<cipher>:<bits> for an encrypted
// client link, "" for a clear one.
func (c *conn) tlsParam() string {
	tc, ok := c.s.Client.(*tls.Conn)
	if !ok {
		return ""
	}
	return tlsDescription(tc.ConnectionState())
}

// tlsDescription writes a TLS state the way OpenSSL-based MTAs log it:
// "TLSv1.3:TLS_AES_128_GCM_SHA256:128".
func tlsDescription(st tls.ConnectionState) string {
	version := strings.ReplaceAll(tls.VersionName(st.Version), " ", "v")
	suite := tls.CipherSuiteName(st.CipherSuite)
	bits := 0
	switch {
	case strings.Contains(suite, "AES_128"):
		bits = 128
	case strings.Contains(suite, "AES_256"), strings.Contains(suite, "CHACHA20"):
		bits = 256
	case strings.Contains(suite, "3DES"):
		bits = 168
	case strings.Contains(suite, "RC4_128"):
		bits = 128
	}
	return version + ":" + suite + ":" + strconv.Itoa(bits)
}

// lookUpClient does what the introduction needs to know about the client,
// once per session: whether it has a recent POP login (docs/reference.md §4.3.3, only
// when the announcement can carry it) and, with ClientLookup, its
// verified host name (docs/reference.md §4.4.1 step 2).
func (c *conn) lookUpClient(ctx context.Context) {
	if !c.popDone {
		c.popDone = true
		usable := c.announce == "xclient" ||
			c.announce == "xpehlo" && config.Get(c.v, param.PopBeforeSmtpKludgeChannel) != ""
		if pop := c.p.popBeforeSMTP(); pop != nil && usable {
			user, ok, err := pop.Lookup(ctx, c.s.ClientAddr.Addr())
			switch {
			case err != nil:
				c.log.Warn(fmt.Sprintf("client %s: POP-before-SMTP lookup failed, treating it as without POP login: %v", c.s.ClientAddr, err))
			case ok && user != "":
				c.popUser = user
				c.log.Info(fmt.Sprintf("client %s logged in with POP recently as '%s': POP-before-SMTP", c.s.ClientAddr, user))
			}
		}
	}
	if !c.nameDone && config.Get(c.v, param.ClientLookup) {
		c.nameDone = true
		name, verified, temp := c.s.ClientName(ctx)
		if verified {
			c.name = name
		}
		c.nameTemp = temp
	}
}
