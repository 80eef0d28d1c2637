// Package popproxy is the POP3 side of the Messaging Multiplexor (docs/reference.md
// §4.3; RFC 1939 POP3, RFC 2449 CAPA, RFC 3206 response codes, RFC 5034
// AUTH, RFC 4616 PLAIN, draft-murchison-sasl-login LOGIN).
//
// Before login it speaks POP3 itself: the greeting, CAPA, USER and PASS,
// AUTH (PLAIN, LOGIN, and EXTERNAL with a client certificate), QUIT, and the MMP's own XQUERYAUTH, which tells an
// SMTP proxy in another process who last logged in from an address
// (POP-before-SMTP, docs/reference.md §4.3.3). Once it has credentials it asks the
// proxy.Router where the user's store is, connects to it, and replays the
// login there: USER and PASS, or AUTH PLAIN when the client used AUTH (or
// the credentials cannot travel in USER and PASS) and the store offers it.
// The store's answer is authoritative: a refusal is passed on, under one
// canned reply when it is about the credentials so that nobody learns
// whether a name exists, and the client may try again on the same
// connection; a success hands the store connection to the proxy's byte
// pipe.
//
// When no store can be reached, or on a temporary failure with
// SpoofTempFail, the MMP can pretend to be the store (docs/reference.md §4.3.5, §3.9):
// it accepts the login and serves an empty maildrop (SpoofEmptyMailbox) or
// one holding the SpoofMessageFile message, so that clients that poll show
// a notice instead of an error; nothing is ever deleted. Successful logins
// are remembered by client address in an authsvc.Cache when AuthService is
// on (docs/reference.md §4.3.3).
//
// Each command has its own file; replay.go is the store side, spoof.go the
// spoof message and maildrop.go the spoofed transaction state.
//
// Typical usage:
//
//	cache := authsvc.New(authsvc.Options{TTL: 15 * time.Minute})
//	srv := proxy.NewServer(proxy.Options{
//		Service:  svc,
//		Protocol: popproxy.New(popproxy.Options{AuthCache: cache, Dir: inst.Dir}),
//		Directory:   dir,
//	})
package popproxy
