// Package imapproxy is the IMAP side of the Messaging Multiplexor (docs/reference.md
// §4.2; RFC 3501 and RFC 9051 for the grammar, RFC 7888 LITERAL+, RFC 4959
// SASL-IR, RFC 4616 PLAIN, draft-murchison-sasl-login LOGIN, RFC 5530
// response codes, RFC 2971 ID).
//
// Before login it speaks IMAP itself: the greeting with the configured
// capability list, CAPABILITY, NOOP, LOGOUT, ID, LOGIN and AUTHENTICATE
// (PLAIN, LOGIN). Once it has credentials it asks the proxy.Router where
// the user's store is, connects to it, and replays the login there with
// literals (never by quoting), so that any user name or password reaches
// the store exactly as the client sent it. The store's answer is
// authoritative: a refusal is passed on and the client may try again on
// the same connection; a success hands the store connection to the proxy's
// byte pipe. Each command has its own file; replay.go is the store side.
//
// TLS (RFC 2595, RFC 3501 §6.2.1): with SSLEnable and a certificate
// (tlsconf), STARTTLS is offered until the link is encrypted; octets the
// client pipelined behind it are dropped, never executed. An SSLPorts port
// is encrypted before the greeting (proxy.Session). RestrictPlainPasswords
// replaces AUTH=PLAIN and AUTH=LOGIN by LOGINDISABLED and answers LOGIN and
// AUTHENTICATE with NO [PRIVACYREQUIRED] until TLS is in effect.
//
// Typical usage:
//
//	srv := proxy.NewServer(proxy.Options{
//		Service:  svc,
//		Protocol: imapproxy.New(imapproxy.Options{}),
//		Directory:   dir,
//	})
package imapproxy
