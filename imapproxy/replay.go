package imapproxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// storeConn is the MMP's side of a store connection during the replay
// (docs/reference.md §4.2.5).
type storeConn struct {
	c    *conn // the client's, to which untagged responses are forwarded
	nc   net.Conn
	r    *wire.Reader
	caps map[string]bool // from the greeting's [CAPABILITY ...], upper case; nil if it had none
}

// Greet reads a store's greeting (proxy.Replayer).
func (c *conn) Greet(nc net.Conn) (proxy.StoreLogin, error) {
	sc := &storeConn{c: c, nc: nc, r: wire.NewReader(nc, maxStoreLine)}
	if err := sc.greeting(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Rest returns what the store sent behind its reply (proxy.StoreLogin)
// and gives the reader's buffer back.
func (sc *storeConn) Rest() []byte {
	b := sc.r.Drain()
	sc.r.Release()
	return b
}

// Replay logs the user in at the store with the MMP's own tag
// (proxy.StoreLogin).
func (sc *storeConn) Replay(rp proxy.Replay) (proxy.Verdict, string, error) {
	if rp.Announce == "id" {
		if err := sc.announce(rp); err != nil {
			return proxy.Refused, "", err
		}
	}
	sc.c.seq++
	ok, text, err := sc.replay(fmt.Sprintf("MMP%d", sc.c.seq), rp)
	switch {
	case err != nil:
		return proxy.Refused, "", err
	case ok:
		return proxy.Accepted, text, nil
	}
	return verdict(text), text, nil
}

// announce tells the store who the client is with ID before the login
// (StoreAnnounce id), as Dovecot's own proxy does: x-originating-ip and
// -port the client's, x-connected-ip and -port the address it reached,
// x-session-ext-id the id of the MMP's log lines, then what the client
// sent in its own ID. The store's answer is not the client's business;
// a refusal (a store that does not trust the MMP's address) is logged
// and the login goes on.
func (sc *storeConn) announce(rp proxy.Replay) error {
	fields := []string{
		"x-originating-ip", rp.Client.Addr().Unmap().String(),
		"x-originating-port", strconv.Itoa(int(rp.Client.Port())),
		"x-connected-ip", rp.Server.Addr().Unmap().String(),
		"x-connected-port", strconv.Itoa(int(rp.Server.Port())),
		"x-session-ext-id", "mmp-" + rp.Session,
	}
	fields = append(fields, sc.c.clientID...)
	var b []byte
	b = append(b, "MMP0 ID ("...)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendQuoted(b, f)
	}
	b = append(b, ")\r\n"...)
	sc.nc.SetWriteDeadline(storeDeadline())
	if _, err := sc.nc.Write(b); err != nil {
		return err
	}
	for {
		sc.nc.SetReadDeadline(storeDeadline())
		line, err := sc.r.ReadLine()
		if err != nil {
			return fmt.Errorf("reading the store's reply to ID: %w", err)
		}
		if rest, ok := bytes.CutPrefix(line, []byte("MMP0 ")); ok {
			if !bytes.HasPrefix(bytes.ToUpper(rest), []byte("OK")) && rp.Warn != nil {
				rp.Warn(fmt.Sprintf("store refused the client's address in ID: %s", clip(rest)))
			}
			return nil
		}
		if n, ok := trailingLiteral(line); ok && n <= maxStoreLiteral {
			if _, err := sc.r.ReadFull(n); err != nil {
				return err
			}
		}
	}
}

// appendQuoted appends s as an IMAP quoted string, with any octet that
// cannot stand in one (CR, LF, NUL, 8-bit) replaced by "?": ID values are
// informational.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// verdict reads a store's refusal (docs/reference.md §4.2.5 step 5). An
// ordinary failed login, with or without [AUTHENTICATIONFAILED], is
// Rejected and gets the same canned reply as an unknown user, so that the
// store's own wording cannot tell a client that the name exists; a refusal
// with another response code ([UNAVAILABLE], [EXPIRED], [ALERT] ...) tells
// the user something they need, and is passed on with the store's text.
func verdict(storeText string) proxy.Verdict {
	code := ""
	if strings.HasPrefix(storeText, "[") {
		if end := strings.IndexByte(storeText, ']'); end > 0 {
			code, _, _ = strings.Cut(storeText[1:end], " ")
		}
	}
	switch strings.ToUpper(code) {
	case "", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED":
		return proxy.Rejected
	}
	return proxy.Refused
}

// greeting reads the store's greeting. Only "* OK" will do: PREAUTH means
// the store would not take our login, and BYE that it will not talk to us
// (docs/reference.md §4.2.5 step 1). Both count as the store being unusable, so that
// the next mail host is tried.
func (sc *storeConn) greeting() error {
	sc.nc.SetReadDeadline(storeDeadline())
	line, err := sc.r.ReadLine()
	if err != nil {
		return fmt.Errorf("reading the greeting: %w", err)
	}
	status, text, ok := untagged(line)
	switch {
	case ok && status == "OK":
		sc.caps = capabilityCode(text)
		return nil
	case ok && status == "PREAUTH":
		return errors.New("the store greeted with PREAUTH; it cannot take a login")
	case ok && status == "BYE":
		return fmt.Errorf("the store refused the connection: %s", text)
	}
	return fmt.Errorf("unexpected greeting %q", clip(line))
}

// untagged splits "* STATUS text".
func untagged(line []byte) (status, text string, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte("* "))
	if !found {
		return "", "", false
	}
	st, tx, _ := bytes.Cut(rest, []byte(" "))
	return strings.ToUpper(string(st)), string(tx), true
}

// capabilityCode reads a "[CAPABILITY ...]" response code at the start of
// a response text; nil if there is none. The map is shared and must not
// be changed.
func capabilityCode(text string) map[string]bool {
	inner, ok := strings.CutPrefix(text, "[")
	if !ok {
		return nil
	}
	inner, _, ok = strings.Cut(inner, "]")
	if !ok {
		return nil
	}
	return capsSeen.get(inner)
}

// capsCache keeps the capability codes already read: a store greets
// every connection with the same list, and splitting it into a map was a
// few per cent of the CPU time of a login. It holds at most maxCapsCache
// lists (a few stores each); past that, lists are parsed every time.
type capsCache struct {
	mu sync.Mutex
	m  map[string]map[string]bool
}

const maxCapsCache = 64

var capsSeen capsCache

func (c *capsCache) get(inner string) map[string]bool {
	c.mu.Lock()
	caps, ok := c.m[inner]
	c.mu.Unlock()
	if ok {
		return caps
	}
	caps = parseCapabilities(inner)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]map[string]bool{}
	}
	if len(c.m) < maxCapsCache {
		c.m[inner] = caps
	}
	c.mu.Unlock()
	return caps
}

// parseCapabilities reads "CAPABILITY cap ...", the inside of the response
// code; nil if it is another code.
func parseCapabilities(inner string) map[string]bool {
	words := strings.Fields(inner)
	if len(words) == 0 || !strings.EqualFold(words[0], "CAPABILITY") {
		return nil
	}
	caps := map[string]bool{}
	for _, w := range words[1:] {
		caps[strings.ToUpper(w)] = true
	}
	return caps
}

// clip shortens a line for a log message.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// replay logs the user in to the store with tag and reports whether the
// store accepted, with the text of its tagged reply (response code
// included). err is for a store that broke the protocol or the
// connection.
//
// The credentials are always sent as literals, never quoted, so that no
// character of a name or password needs escaping: "tag LOGIN {n}" user
// "{m}" password, waiting for the store's "+" before each literal, or
// all in one write when the store advertised LITERAL+ (RFC 7888). A client
// that used AUTHENTICATE PLAIN is replayed with PLAIN, as is any login to
// a store that has LOGINDISABLED but offers PLAIN. A proxy login (a
// client certificate) has no password of the user: it is replayed with
// PLAIN, authzid = the user, authcid = StoreAdmin (docs/reference.md
// §4.2.5).
func (sc *storeConn) replay(tag string, rp proxy.Replay) (ok bool, text string, err error) {
	known := sc.caps != nil
	proxyLogin := rp.AuthzID != ""
	usePlain := rp.Mechanism == sasl.Plain && (!known || sc.caps["AUTH=PLAIN"]) ||
		known && sc.caps["LOGINDISABLED"] && sc.caps["AUTH=PLAIN"] ||
		proxyLogin
	authz, authc, user := rp.AuthzID, rp.User, rp.User
	var b []byte
	send := func() error {
		sc.nc.SetWriteDeadline(storeDeadline())
		_, err := sc.nc.Write(b)
		b = b[:0]
		return err
	}
	// step sends what is in b and, unless it is the last part, waits for
	// the store's continuation request.
	step := func(last bool) (bool, error) {
		if err := send(); err != nil {
			return false, err
		}
		if last {
			return false, nil
		}
		var final bool
		final, ok, text, err = sc.readStore(tag, true)
		return final, err
	}
	if usePlain {
		resp := wire.EncodePlain(authz, authc, string(rp.Password))
		b = append(b, tag+" AUTHENTICATE PLAIN"...)
		if sc.caps["SASL-IR"] {
			b = append(b, ' ')
			b = append(b, resp...)
			b = append(b, "\r\n"...)
		} else {
			b = append(b, "\r\n"...)
			if final, err := step(false); final || err != nil {
				return ok, text, err
			}
			b = append(b, resp...)
			b = append(b, "\r\n"...)
		}
		if _, err := step(true); err != nil {
			return false, "", err
		}
	} else {
		plus := sc.caps["LITERAL+"]
		pass := string(rp.Password)
		b = append(b, tag+" LOGIN "+wire.LiteralHeader(len(user), plus)+"\r\n"...)
		if !plus {
			if final, err := step(false); final || err != nil {
				return ok, text, err
			}
		}
		b = append(b, user...)
		b = append(b, " "+wire.LiteralHeader(len(pass), plus)+"\r\n"...)
		if !plus {
			if final, err := step(false); final || err != nil {
				return ok, text, err
			}
		}
		b = append(b, pass...)
		b = append(b, "\r\n"...)
		if _, err := step(true); err != nil {
			return false, "", err
		}
	}
	_, ok, text, err = sc.readStore(tag, false)
	return ok, text, err
}

// readStore reads store responses until a continuation request (when
// cont is set) or the tagged reply to tag. Untagged responses on the way
// are forwarded to the client (docs/reference.md §4.2.5 step 4), literals included.
// final is true for the tagged reply, with ok for OK and text its text.
func (sc *storeConn) readStore(tag string, cont bool) (final, ok bool, text string, err error) {
	for {
		sc.nc.SetReadDeadline(storeDeadline())
		line, err := sc.r.ReadLine()
		if err != nil {
			return false, false, "", fmt.Errorf("reading the store's reply: %w", err)
		}
		switch {
		case bytes.HasPrefix(line, []byte("+")):
			if cont {
				return false, false, "", nil
			}
			// A challenge after the whole login was sent: cancel it, and
			// the store answers the exchange with a tagged BAD.
			sc.nc.SetWriteDeadline(storeDeadline())
			if _, err := sc.nc.Write([]byte("*\r\n")); err != nil {
				return false, false, "", err
			}
		case bytes.HasPrefix(line, []byte("* ")):
			if err := sc.forward(line); err != nil {
				return false, false, "", err
			}
		case bytes.HasPrefix(line, []byte(tag+" ")):
			status, rest, _ := strings.Cut(string(line[len(tag)+1:]), " ")
			switch strings.ToUpper(status) {
			case "OK":
				return true, true, rest, nil
			case "NO", "BAD":
				return true, false, rest, nil
			}
			return false, false, "", fmt.Errorf("unexpected reply %q", clip(line))
		default:
			return false, false, "", fmt.Errorf("unexpected line %q", clip(line))
		}
	}
}

// forward copies one untagged store response to the client, with the
// literals it may carry ("... {n}" CRLF n octets, and the line goes on).
func (sc *storeConn) forward(line []byte) error {
	c := sc.c
	for {
		c.w.Write(line)
		c.w.WriteString("\r\n")
		n, ok := trailingLiteral(line)
		if !ok {
			return nil
		}
		if n > maxStoreLiteral {
			return fmt.Errorf("literal of %d octets in an untagged response", n)
		}
		sc.nc.SetReadDeadline(storeDeadline())
		lit, err := sc.r.ReadFull(n)
		if err != nil {
			return err
		}
		c.w.Write(lit)
		if line, err = sc.r.ReadLine(); err != nil {
			return err
		}
	}
}

// trailingLiteral finds "{n}" at the end of a response line. The CRLF
// written after the line by forward is the one the literal header had.
func trailingLiteral(line []byte) (int, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(line[i+1 : len(line)-1]))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
