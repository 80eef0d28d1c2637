package smtpproxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/sasl"
)

// passedKeywords are the EHLO keywords of a relay that reach the client
// besides EhloKeywords: the Sun list (docs/reference.md §2.6, §4.4.1
// step 6), and the standard extensions of today's relays that change
// nothing the MMP reads before the pipe, so that they pass through it
// unchanged: DSN (RFC 3461), CHUNKING and BINARYMIME (RFC 3030, BDAT
// comes after MAIL, in the pipe) and SMTPUTF8 (RFC 6531). Without them a
// Sun configuration put in front of Postfix would take these from every
// client. STARTTLS is listed by Sun but is the MMP's own (see
// filterKeywords); AUTH depends on SmtpAuth.
var passedKeywords = []string{"8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "EXPN", "HELP", "XLOOP", "ETRN", "SIZE",
	"DSN", "CHUNKING", "BINARYMIME", "SMTPUTF8"}

// handleHello answers EHLO and HELO (RFC 5321 §4.1.1.1). The first one
// finds and introduces a relay; a later one introduces the client to the
// same relay again, since a new EHLO resets the SMTP session on both.
func (c *conn) handleHello(ctx context.Context, verb, arg string) error {
	helo, _, _ := strings.Cut(arg, " ")
	if !validHelo(helo) {
		if verb == "HELO" {
			return errHELOSyntax
		}
		return errEHLOSyntax
	}
	c.helo, c.esmtp = helo, verb == "EHLO"
	var rep *relayReply
	var err error
	if c.relay == nil {
		c.lookUpClient(ctx)
		rep, err = c.connectRelay(ctx)
	} else {
		rep, err = c.reintroduce()
	}
	var hr *helloRefused
	switch {
	case errors.As(err, &hr):
		// The relay did not like the client's name: pass its answer on.
		// The next EHLO starts again with a fresh relay connection.
		c.dropRelay()
		return &reply{hr.rep.code, "", hr.rep.lines[0]}
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errNoRelay):
		return err
	case err != nil:
		if c.relay != nil {
			c.log.Error(fmt.Sprintf("relay %s failed during %s: %v", c.relay.addr, verb, err))
			c.dropRelay()
		}
		return errNoRelay
	}
	if rep != nil {
		c.ehlo = c.filterKeywords(rep.lines[1:])
	}
	if !c.esmtp {
		c.w.WriteString("250 " + c.p.id.Host + "\r\n")
		return nil
	}
	lines := append([]string{c.p.id.Host}, c.ehlo...)
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		c.w.WriteString("250" + sep + l + "\r\n")
	}
	return nil
}

// validHelo accepts an EHLO or HELO argument the MMP can pass on in
// XPEHLO, where it is the first word and must not look like a KEY=value
// parameter: 1 to 255 printable ASCII characters without "=". RFC 5321
// wants a domain or an address literal, but judging that is the relay's
// business, as it is with a direct connection.
func validHelo(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' || s[i] == '=' {
			return false
		}
	}
	return true
}

// filterKeywords keeps the relay's EHLO keywords the MMP passes on (docs/reference.md
// §4.4.1 step 6). The relay's STARTTLS always goes: TLS ends at the MMP,
// which offers its own. AUTH depends on who performs it: with SmtpAuth
// relay the relay's mechanisms are passed on, less PLAIN and LOGIN when
// RestrictPlainPasswords forbids them on this link; with SmtpAuth
// directory the MMP offers its own PLAIN and LOGIN instead. EXTERNAL is
// the MMP's in both modes, when externalOffered: the relay's never
// reaches the client, since the relay cannot see the client certificate.
func (c *conn) filterKeywords(relay []string) []string {
	extra := config.Get(c.v, param.EhloKeywords)
	allowed := func(kw string) bool {
		return slices.Contains(passedKeywords, kw) || slices.ContainsFunc(extra, func(e string) bool { return strings.EqualFold(e, kw) })
	}
	var out []string
	relayAuth := false
	for _, l := range relay {
		kw, params, _ := strings.Cut(l, " ")
		kw = strings.ToUpper(kw)
		switch {
		case kw == "STARTTLS":
		case kw == "AUTH":
			if a := c.relayAuth(params); a != "" {
				out = append(out, a)
				relayAuth = true
			}
		case allowed(kw):
			out = append(out, l)
		}
	}
	if c.offerStartTLS() {
		out = append(out, "STARTTLS")
	}
	own := c.ownMechanisms()
	if relayAuth {
		// The relay's AUTH line already carries EXTERNAL (relayAuth).
		own = slices.DeleteFunc(own, func(m string) bool { return m == sasl.External && !c.directoryAuth })
	}
	if len(own) > 0 {
		out = append(out, "AUTH "+strings.Join(own, " "))
	}
	return out
}

// relayAuth is the AUTH keyword to pass on for the relay's mechanisms, ""
// for none.
func (c *conn) relayAuth(mechs string) string {
	if c.directoryAuth {
		return ""
	}
	var keep []string
	for _, m := range strings.Fields(mechs) {
		if c.s.PlainDisabled() && (strings.EqualFold(m, "PLAIN") || strings.EqualFold(m, "LOGIN")) ||
			strings.EqualFold(m, "EXTERNAL") {
			continue
		}
		keep = append(keep, m)
	}
	if c.externalOffered() {
		keep = append(keep, "EXTERNAL")
	}
	if len(keep) == 0 {
		return ""
	}
	return "AUTH " + strings.Join(keep, " ")
}
