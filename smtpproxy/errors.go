package smtpproxy

import "strconv"

// reply is an SMTP reply of the MMP's own. Handlers return one as an
// error, and the command loop writes it: that is the one place where
// errors become replies (style guide, example 5).
type reply struct {
	code int
	enh  string // RFC 3463 enhanced status code, or ""
	text string
}

func (r *reply) Error() string {
	if r.enh == "" {
		return strconv.Itoa(r.code) + " " + r.text
	}
	return strconv.Itoa(r.code) + " " + r.enh + " " + r.text
}

// line is the reply as sent, with its CRLF.
func (r *reply) line() string { return r.Error() + "\r\n" }

// closes reports whether the MMP closes the connection after the reply:
// RFC 5321 §3.8 uses 421 for exactly that.
func (r *reply) closes() bool { return r.code == 421 }

// closing makes a 421 reply start with the MMP's host name, as RFC 5321
// §4.2 shows ("421 <domain> Service not available, closing transmission
// channel").
func (p *Protocol) closing(r *reply) *reply {
	return &reply{r.code, r.enh, p.id.Host + " " + r.text}
}

// Canned replies. Unknown users and wrong passwords share errAuthFailed,
// so that a client cannot tell which it was.
var (
	errEHLOFirst      = &reply{503, "5.5.1", "EHLO first"}
	errUnknownCommand = &reply{500, "5.5.2", "Command not recognized"}
	errLineTooLong    = &reply{500, "5.5.2", "Line too long"}
	errEHLOSyntax     = &reply{501, "5.5.4", "Syntax: EHLO hostname"}
	errHELOSyntax     = &reply{501, "5.5.4", "Syntax: HELO hostname"}
	errNoArguments    = &reply{501, "5.5.4", "Syntax error, no parameters allowed"}
	errNoStartTLS     = &reply{502, "5.5.1", "STARTTLS not available"}
	errAuthSyntax     = &reply{501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"}
	errProxyCommand   = &reply{502, "5.7.0", "Command not permitted"}
	errTooManyAuth    = &reply{421, "4.7.0", "Too many failed logins, closing transmission channel"}
	errMechanism      = &reply{504, "5.5.4", "Unrecognized authentication type"}
	errAlreadyAuth    = &reply{503, "5.5.1", "Already authenticated"}
	errEncryption     = &reply{538, "5.7.11", "Encryption required for requested authentication mechanism"}
	errAuthCancelled  = &reply{501, "5.7.0", "Authentication cancelled"}
	errBadResponse    = &reply{501, "5.5.2", "Cannot decode response"}
	errAuthFailed     = &reply{535, "5.7.8", "Authentication credentials invalid"}
	errAuthTemp       = &reply{454, "4.7.0", "Temporary authentication failure"}
	errInternal       = &reply{451, "4.3.0", "Internal error, try again later"}
	errNoRelay        = &reply{421, "4.3.0", "Service not available, closing transmission channel"}
	errInternalClose  = &reply{421, "4.3.0", "Internal error, closing transmission channel"}
	errIdle           = &reply{421, "4.4.2", "Idle timeout, closing transmission channel"}
	errTooManyErrors  = &reply{421, "4.7.0", "Too many errors, closing transmission channel"}
)

// errTooManySess answers an AUTH over MaxUserSessions: a temporary
// authentication failure (RFC 4954 454).
var errTooManySess = &reply{454, "4.7.0", "Too many sessions for this user, try again later"}
