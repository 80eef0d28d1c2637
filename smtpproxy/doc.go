// Package smtpproxy is the SMTP submission side of the Messaging
// Multiplexor (docs/reference.md §4.4; RFC 5321, RFC 4954 SMTP AUTH, RFC 4616 PLAIN,
// RFC 3461 xtext, RFC 2034 and RFC 3463 enhanced status codes; Postfix's
// XCLIENT_README; the HAProxy PROXY protocol, version 1). It is a
// submission proxy, never an MX: it accepts no mail itself, it hands every
// session to one of the relays of SmtpRelays and tells that relay who the
// real client is, so that the relay's own relaying rules decide.
//
// A session goes like this. The MMP greets with "220 <Banner>" (%p is
// ESMTP, and the line starts with the MMP's host name). On EHLO or HELO it
// picks a relay round robin (the turn is shared by every session of the
// service), connects within FailoverTimeout seconds, reads its 220 and
// introduces the client as SmtpRelayAnnounce says: Sun's XPEHLO (below),
// Postfix's XCLIENT, a HAProxy PROXY v1 line, or nothing. A relay that
// cannot be reached, does not greet in time or refuses the introduction is
// avoided for FailoverTimeout minutes and the next one is tried. The
// relay's EHLO keywords are filtered down to 8BITMIME PIPELINING
// ENHANCEDSTATUSCODES EXPN HELP XLOOP ETRN SIZE STARTTLS AUTH and the
// EhloKeywords, the relay's STARTTLS is removed (TLS is the MMP's business,
// docs/reference.md §4.4.1 step 6), and the result is the MMP's EHLO reply. The MMP goes
// on answering EHLO, HELO, NOOP, RSET and, depending on SmtpAuth, AUTH
// itself; the first other command starts the byte pipe to the relay, and
// from then on the relay answers everything.
//
// SmtpAuth relay (the Sun behaviour, the default) leaves SMTP AUTH to the
// relay; the MMP only refuses AUTH PLAIN and LOGIN on an unencrypted link
// when RestrictPlainPasswords is on (538), so that no clear-text password
// crosses the network in vain. SmtpAuth directory makes the MMP perform
// AUTH PLAIN and LOGIN itself: the login pipeline (proxy.Session.Login,
// without a store) finds the user with the directory and checks the
// password there, and the MMP then tells the relay who logged in, with
// "LOGIN=<user>" in XPEHLO or XCLIENT. AUTH EXTERNAL, a client
// certificate mapped through certmap.conf, is always the MMP's, since TLS
// ends here: it is offered with SmtpAuth directory, and with relay when
// the announcement is XPEHLO (which can be sent again with LOGIN=).
// POP-before-SMTP (docs/reference.md §4.3.3) asks
// an authsvc.Querier whether the client's address logged in with POP
// recently; if so XPEHLO carries CHANNEL=<PopBeforeSmtpKludgeChannel> and
// XCLIENT carries LOGIN=<that POP user>. A client with neither is
// introduced as exactly what it is, and the relay refuses to relay for it:
// the proxy never becomes an open relay.
//
// # XPEHLO
//
// The wire syntax of Sun's XPEHLO was never published; this is the Go
// implementation's own (docs/reference.md §4.4.2, §7.17), sent instead of EHLO, on one
// line, each value xtext-encoded (RFC 3461 §4):
//
//	XPEHLO <client-helo-arg> PASSWORD=<SmtpProxyPassword> ADDR=<client-ip> PORT=<client-port>
//	       [NAME=<client-ptr-name>] [CHANNEL=<PopBeforeSmtpKludgeChannel>]
//	       [TLS=<protocol>:<cipher>:<bits>] [SERVERADDR=<local-ip>] [LOGIN=<user>]
//
// NAME is sent when ClientLookup found a verified host name; CHANNEL when
// the client has a recent POP login and PopBeforeSmtpKludgeChannel is set;
// TLS when the client link is encrypted; SERVERADDR always on TCP; LOGIN
// (an extension of the reference's syntax) with SmtpAuth directory, after a
// successful AUTH, when the MMP introduces the session again. The relay
// answers like EHLO. A 5xx answer means it does not speak XPEHLO or refused
// the password: the relay is marked bad and the next one is tried.
//
// # XCLIENT
//
// With SmtpRelayAnnounce xclient the MMP sends
//
//	XCLIENT ADDR=<client-ip> PORT=<client-port> NAME=<ptr-name|[UNAVAILABLE]|[TEMPUNAVAIL]> HELO=<helo-arg> PROTO=<ESMTP|SMTP> [LOGIN=<user>]
//
// reads the relay's new 220 greeting and sends EHLO (or HELO) again.
// Postfix re-evaluates smtpd_authorized_xclient_hosts against the address
// it was just given, so a second XCLIENT on the same connection is refused
// (measured with Postfix 3.7; TestPostfixSecondXCLIENTRefused). That is
// what keeps a client from forging its own XCLIENT through the pipe, and it
// is why, with SmtpAuth directory, the MMP first greets the relay with a
// plain EHLO in its own name and sends the one XCLIENT only once it knows
// the login: after AUTH, or before the first piped command. The relay must
// list the MMP's address in smtpd_authorized_xclient_hosts and must have
// smtpd_sasl_auth_enable = yes, without which permit_sasl_authenticated
// ignores XCLIENT LOGIN (see internal/testenv/postfix).
//
// Typical usage:
//
//	srv := proxy.NewServer(proxy.Options{
//		Service: svc, // an SmtpProxyAService service
//		Protocol: smtpproxy.New(smtpproxy.Options{
//			PopBeforeSMTP: authCache, // *authsvc.Cache or authsvc.Remote
//		}),
//		Directory: dir,
//	})
//
// Each command has its own file; relay.go is the relay side and
// announce.go the introductions.
package smtpproxy
