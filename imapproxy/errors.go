package imapproxy

// response is a tagged status reply. Handlers return one as an error, and
// the command loop writes it with the command's tag: that is the one place
// where errors become replies (style guide, example 5).
type response struct {
	status string // OK, NO or BAD
	code   string // RFC 5530 response code without brackets, or ""
	text   string
}

func (r *response) Error() string {
	if r.code != "" {
		return r.status + " [" + r.code + "] " + r.text
	}
	return r.status + " " + r.text
}

// Canned replies. Unknown users and wrong passwords share errAuthFailed,
// so that a client cannot tell which it was (docs/reference.md §4.2.4).
var (
	errAuthFailed     = &response{"NO", "AUTHENTICATIONFAILED", "Authentication failed"}
	errUnavailable    = &response{"NO", "UNAVAILABLE", "Login is temporarily unavailable, try again later"}
	errPrivacy        = &response{"NO", "PRIVACYREQUIRED", "Plain-text passwords are not accepted on this connection"}
	errProxyLogin     = &response{"NO", "AUTHORIZATIONFAILED", "Logging in as another user is not allowed"}
	errMechanism      = &response{"NO", "CANNOT", "Unsupported authentication mechanism"}
	errCancelled      = &response{"BAD", "", "Authentication cancelled"}
	errBadResponse    = &response{"BAD", "", "Malformed authentication response"}
	errUnknownCommand = &response{"BAD", "", "Command unknown or not allowed before login"}
	errNoStartTLS     = &response{"BAD", "", "STARTTLS is not available"}
	errInternal       = &response{"NO", "SERVERBUG", "Internal error, try again later"}
)

// badArgs is the reply to a known command with the wrong arguments.
func badArgs(text string) *response { return &response{"BAD", "", text} }

// errTooManySessions answers a login over MaxUserSessions (RFC 5530 LIMIT).
var errTooManySessions = &response{"NO", "LIMIT", "Too many sessions for this user"}
