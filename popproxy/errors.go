package popproxy

import "github.com/openmmp/mmp/authsvc"

// reply is a "-ERR" answer. Handlers return one as an error and the
// command loop writes it: that is the one place where errors become
// replies (style guide, example 5).
type reply struct {
	code string // RFC 3206 / RFC 2449 response code without brackets, or ""
	text string
	// bad marks a protocol error, charged to the error budget; refused
	// logins and unavailable services are not.
	bad bool
}

func (r *reply) Error() string {
	if r.code != "" {
		return "-ERR [" + r.code + "] " + r.text
	}
	return "-ERR " + r.text
}

// Canned replies. Unknown users and wrong passwords share errAuthFailed,
// so that a client cannot tell which it was (docs/reference.md §4.2.4, applied to POP).
var (
	errAuthFailed  = &reply{code: "AUTH", text: "Authentication failed"}
	errUnavailable = &reply{code: "SYS/TEMP", text: "Login is temporarily unavailable, try again later"}
	// errStoreDown is the text docs/reference.md §4.3.5 gives for a store that cannot
	// be reached when no spoofing is configured.
	errStoreDown = &reply{code: "SYS/TEMP", text: "Your POP server appears to be temporarily out of service."}
	// errPrivacy carries [AUTH], as Dovecot's answer to the same refusal
	// does: RFC 3206 has no code for "encryption required", and [AUTH]
	// ("a problem with the user's credentials") keeps clients from
	// retrying blindly as they would after [SYS/TEMP].
	errPrivacy        = &reply{code: "AUTH", text: "Plain-text passwords are not accepted on this connection"}
	errProxyLogin     = &reply{code: "AUTH", text: "Logging in as another user is not allowed"}
	errMechanism      = &reply{text: "Unsupported authentication mechanism"}
	errAPOP           = &reply{text: "APOP is not available, use USER and PASS or AUTH"}
	errCancelled      = &reply{text: "Authentication cancelled", bad: true}
	errBadResponse    = &reply{text: "Malformed authentication response", bad: true}
	errUnknownCommand = &reply{text: "Command unknown or not allowed before login", bad: true}
	errUnknownInMail  = &reply{text: "Command unknown or not allowed now", bad: true}
	errLineTooLong    = &reply{text: "Line too long", bad: true}
	errNoUser         = &reply{text: "No USER command given", bad: true}
	errNoSTLS         = &reply{text: "STLS is not available", bad: true}
	errInternal       = &reply{code: "SYS/TEMP", text: "Internal error, try again later"}
	errTooMany        = &reply{text: "Too many invalid commands, closing the connection"}

	// XQUERYAUTH: authsvc.Remote recognises NotAvailable, so that a
	// querier can tell "not allowed to ask" from "nobody logged in".
	errXQueryNotAvailable = &reply{text: authsvc.NotAvailable}
	errXQueryNone         = &reply{text: "no recent login"}

	// Spoofed maildrop.
	errNoSuchMessage = &reply{text: "No such message"}
	errDeleted       = &reply{text: "Message 1 already deleted"}
)

// badArgs is the reply to a known command with the wrong arguments.
func badArgs(text string) *reply { return &reply{text: text, bad: true} }

// errTooManySessions answers a login over MaxUserSessions (RFC 2449
// IN-USE: the maildrop's sessions are in use).
var errTooManySessions = &reply{code: "IN-USE", text: "Too many sessions for this user"}
