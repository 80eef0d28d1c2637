package wire

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SASL errors.
var (
	// ErrCancelled is returned for a client response of "*", which cancels
	// the exchange (RFC 4422 §3.5; RFC 3501 AUTHENTICATE, RFC 4954, RFC 5034).
	// Answer "BAD" (IMAP), "501" (SMTP) or "-ERR" (POP3).
	ErrCancelled = errors.New("wire: authentication cancelled")

	// ErrBadBase64 means a client response is not valid RFC 4648 §4 base64.
	ErrBadBase64 = errors.New("wire: invalid base64")

	// ErrBadPlain means a decoded PLAIN message breaks RFC 4616 §2.
	ErrBadPlain = errors.New("wire: malformed PLAIN message")
)

var strictBase64 = base64.StdEncoding.Strict()

// DecodeBase64Line decodes one client response line of a SASL exchange: the
// reply to a "+ " challenge, an IMAP SASL-IR or POP3/SMTP initial response,
// or an AUTH LOGIN step.
//
// "*" gives ErrCancelled. "=" gives an empty response: RFC 4959, RFC 4954
// and RFC 5034 use it for a zero-length initial response, since an absent
// argument means "no initial response"; it is accepted for every step, as is
// an empty line. Anything else must be padded standard base64 with nothing
// around it: Go's decoder would skip CR and LF, and a response with them in
// it was not written by a well-behaved client.
func DecodeBase64Line(line []byte) ([]byte, error) {
	if len(line) == 1 {
		switch line[0] {
		case '*':
			return nil, ErrCancelled
		case '=':
			return []byte{}, nil
		}
	}
	for _, c := range line {
		if c == '\r' || c == '\n' {
			return nil, ErrBadBase64
		}
	}
	out := make([]byte, strictBase64.DecodedLen(len(line)))
	n, err := strictBase64.Decode(out, line)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBase64, err)
	}
	return out[:n], nil
}

// DecodePlain decodes a base64 PLAIN response (RFC 4616 §2):
// [authzid] NUL authcid NUL passwd. It enforces exactly two NULs and a
// non-empty authcid and passwd; authzid empty means "act as authcid". "*"
// gives ErrCancelled. An empty response ("=" or an empty line) is not a
// PLAIN message and gives ErrBadPlain.
//
// The identities and password are not checked for UTF-8 or SASLprep: the
// directory and the store are the judges of what a name or password may
// hold, and legacy clients send 8-bit passwords that stores accept.
func DecodePlain(b64 []byte) (authzid, authcid, passwd string, err error) {
	msg, err := DecodeBase64Line(b64)
	if err != nil {
		return "", "", "", err
	}
	defer clear(msg) // leave no copy of the password in the heap
	return ParsePlain(msg)
}

// ParsePlain reads a decoded PLAIN message, with the rules of DecodePlain.
func ParsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	if len(msg) == 0 {
		return "", "", "", fmt.Errorf("%w: empty", ErrBadPlain)
	}
	i := bytes.IndexByte(msg, 0)
	if i < 0 {
		return "", "", "", fmt.Errorf("%w: no NUL", ErrBadPlain)
	}
	j := bytes.IndexByte(msg[i+1:], 0)
	if j < 0 {
		return "", "", "", fmt.Errorf("%w: one NUL", ErrBadPlain)
	}
	j += i + 1
	if bytes.IndexByte(msg[j+1:], 0) >= 0 {
		return "", "", "", fmt.Errorf("%w: more than two NULs", ErrBadPlain)
	}
	if j == i+1 {
		return "", "", "", fmt.Errorf("%w: empty authentication identity", ErrBadPlain)
	}
	if j+1 == len(msg) {
		return "", "", "", fmt.Errorf("%w: empty password", ErrBadPlain)
	}
	return string(msg[:i]), string(msg[i+1 : j]), string(msg[j+1:]), nil
}

// EncodePlain returns the base64 PLAIN response for the three parts, for
// replaying to a store: with an empty authzid for a user's own login, or with
// authzid = user and authcid = StoreAdmin for a proxy login (docs/reference.md §4.2.5).
// None of the parts may contain NUL; DecodePlain never returns one that does.
func EncodePlain(authzid, authcid, passwd string) string {
	b := make([]byte, 0, len(authzid)+len(authcid)+len(passwd)+2)
	b = append(b, authzid...)
	b = append(b, 0)
	b = append(b, authcid...)
	b = append(b, 0)
	b = append(b, passwd...)
	s := base64.StdEncoding.EncodeToString(b)
	clear(b)
	return s
}

// CRAMChallenge returns a fresh CRAM-MD5 challenge "<random.timestamp@host>"
// in RFC 822 msg-id form (RFC 2195 §2), not yet base64-encoded. The random
// part comes from crypto/rand, so challenges do not repeat and cannot be
// predicted; replaying an old response is then useless. The same form serves
// as the RFC 1939 APOP timestamp in a POP3 greeting.
func CRAMChallenge(host string) string {
	var b [8]byte
	rand.Read(b[:])
	if host == "" {
		host = "localhost"
	}
	return "<" + strconv.FormatUint(binary.BigEndian.Uint64(b[:]), 10) + "." +
		strconv.FormatInt(time.Now().Unix(), 10) + "@" + host + ">"
}

// CRAMUser returns the user name of a decoded CRAM-MD5 response
// "user SP digest", so that the caller can fetch the user's password before
// calling CheckCRAMMD5. The name is everything before the last space.
func CRAMUser(response string) (string, error) {
	user, _, err := splitCRAM(response)
	return user, err
}

func splitCRAM(response string) (user string, digest []byte, err error) {
	i := strings.LastIndexByte(response, ' ')
	if i <= 0 || len(response)-i-1 != 2*md5.Size {
		return "", nil, fmt.Errorf("%w: CRAM-MD5 response is not \"user digest\"", ErrBadSyntax)
	}
	user = response[:i]
	if strings.ContainsAny(user, "\x00\r\n") {
		return "", nil, fmt.Errorf("%w: CRAM-MD5 user name has control characters", ErrBadSyntax)
	}
	digest, err = hex.DecodeString(response[i+1:])
	if err != nil {
		return "", nil, fmt.Errorf("%w: CRAM-MD5 digest is not hexadecimal", ErrBadSyntax)
	}
	return user, digest, nil
}

// CheckCRAMMD5 checks a decoded CRAM-MD5 response "user SP digest" against
// the challenge that was sent and the user's plaintext password (RFC 2195:
// digest = hex(HMAC-MD5(password, challenge))). It returns the user name the
// client claimed (empty if the response is malformed) and whether the digest
// is right. The comparison takes constant time, so timing does not tell an
// attacker how much of a forged digest was correct.
func CheckCRAMMD5(challenge, response, password string) (user string, ok bool) {
	user, got, err := splitCRAM(response)
	if err != nil {
		return "", false
	}
	mac := hmac.New(md5.New, []byte(password))
	mac.Write([]byte(challenge))
	return user, hmac.Equal(mac.Sum(nil), got)
}

// CheckAPOP checks an RFC 1939 APOP digest, the hex MD5 of the greeting's
// timestamp followed by the password, in constant time.
func CheckAPOP(timestamp, digest, password string) bool {
	got, err := hex.DecodeString(digest)
	if err != nil || len(got) != md5.Size {
		return false
	}
	h := md5.New()
	h.Write([]byte(timestamp))
	h.Write([]byte(password))
	return hmac.Equal(h.Sum(nil), got)
}
