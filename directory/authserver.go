package directory

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// The AuthenticationServer protocol.
//
// Sun's MMP asked a third-party authentication service (AuthenticationServer,
// host:port) instead of binding as the user; its protocol was described in
// authserver.txt of the SDK (examples/tpauthsdk), which is lost (docs/reference.md §2.3;
// the tpauth SDK README of Sun patches 117758/118207). This is the Go MMP's own protocol, deliberately simple enough to
// implement in a few lines of any language.
//
// The MMP opens one TCP connection per pre-authentication, sends one
// request line and reads one reply line, then closes the connection:
//
//	request = "AUTH" SP login SP password64 SP client SP server *(SP attr "=" value) CRLF
//	reply   = ("OK" / "NO" / "TEMP") [SP text] CRLF
//
//   - login is the login name with its domain (account.Name.Canon: user,
//     CanonicalVirtualDomainDelim, domain, after DefaultDomain), and value
//     is a value of a user attribute; both are written with every byte
//     that is a control character, a blank, "%" or not ASCII as %XX
//     (upper-case hexadecimal), so that neither contains a blank.
//   - password64 is the password in standard base64 (RFC 4648 §4), which
//     the MMP never writes anywhere else.
//   - client and server are the client's address and the address it
//     reached (IPv4 dotted quad, IPv6 RFC 5952), or "-" when unknown.
//   - The attributes are "dn", the user's entry, then each value of each
//     attribute of AuthenticationLdapAttributes the entry has, in that
//     order, the name in lower case; an attribute with several values is
//     repeated.
//   - OK accepts the password; NO refuses it (the client is told its login
//     failed, and BadGuys counts it); TEMP means no verdict now (the client
//     is told to try later). text is for the log only. Any other reply, a
//     reply line longer than maxAuthReply bytes, a connection that cannot
//     be made, or no reply within the directory's OpTimeout is treated as
//     TEMP.
//
// Example, for joe@siroe.com with AuthenticationLdapAttributes "mail":
//
//	C: AUTH joe@siroe.com c2VjcmV0 203.0.113.9 192.168.10.5 dn=uid=joe,ou=People,o=siroe.com mail=joe@siroe.com
//	S: OK

// maxAuthReply bounds the reply line of an AuthenticationServer.
const maxAuthReply = 1024

// askAuthServer asks the AuthenticationServer at addr about u's password.
// Results are not cached: a service that accepts one-time passwords must
// see each of them, and its own lockout policy every attempt.
func (d *Directory) askAuthServer(ctx context.Context, addr string, q account.Query, u *account.User, password string) error {
	line := authRequest(q, u, config.Get(q.Values, param.AuthenticationLdapAttributes), password)
	verdict, text, err := d.authExchange(ctx, addr, line)
	if err != nil {
		d.authServerDown(addr, err)
		return fmt.Errorf("directory: AuthenticationServer %s: %w: %w", addr, err, account.ErrUnavailable)
	}
	d.authServerUp(addr)
	switch verdict {
	case "OK":
		return nil
	case "NO":
		d.debugf(ctx, "directory: AuthenticationServer %s refused %q: %s", addr, u.DN, text)
		return fmt.Errorf("directory: AuthenticationServer %s refused %q (%s): %w", addr, u.DN, text, account.ErrNoUser)
	default: // TEMP
		return fmt.Errorf("directory: AuthenticationServer %s: no verdict for %q (%s): %w", addr, u.DN, text, account.ErrUnavailable)
	}
}

// authRequest builds the request line, CRLF included.
func authRequest(q account.Query, u *account.User, attrs []string, password string) string {
	var b strings.Builder
	b.WriteString("AUTH ")
	b.WriteString(authEscape(q.Name.Canon))
	b.WriteByte(' ')
	b.WriteString(base64.StdEncoding.EncodeToString([]byte(password)))
	b.WriteByte(' ')
	b.WriteString(addrText(q.Client))
	b.WriteByte(' ')
	b.WriteString(addrText(q.Server))
	b.WriteString(" dn=")
	b.WriteString(authEscape(u.DN))
	var done []string
	for _, a := range attrs {
		a = strings.ToLower(a)
		if a == "dn" || slices.Contains(done, a) {
			continue
		}
		done = append(done, a)
		for _, v := range u.Attrs[a] {
			b.WriteByte(' ')
			b.WriteString(a)
			b.WriteByte('=')
			b.WriteString(authEscape(v))
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// authEscape writes control characters, blanks, "%" and non-ASCII bytes as
// %XX.
func authEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// authExchange sends line to addr and returns the verdict (OK, NO or
// TEMP) and the text of the reply, within DialTimeout for the connect and
// OpTimeout for the whole exchange, and within ctx.
func (d *Directory) authExchange(ctx context.Context, addr, line string) (verdict, text string, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.opTimeout)
	defer cancel()
	nd := net.Dialer{Timeout: d.dialTimeout}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(c, line); err != nil {
		return "", "", cmpCtxErr(ctx, err)
	}
	r := bufio.NewReaderSize(io.LimitReader(c, maxAuthReply+2), maxAuthReply+2)
	reply, err := r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(reply) >= maxAuthReply {
			return "", "", fmt.Errorf("reply longer than %d bytes", maxAuthReply)
		}
		return "", "", cmpCtxErr(ctx, err)
	}
	reply = strings.TrimRight(reply, "\r\n")
	verdict, text, _ = strings.Cut(reply, " ")
	switch v := strings.ToUpper(verdict); v {
	case "OK", "NO", "TEMP":
		return v, text, nil
	}
	if len(reply) > 80 {
		reply = reply[:80] + "..."
	}
	return "", "", fmt.Errorf("unexpected reply %q", reply)
}

// cmpCtxErr names the context's error when it caused err.
func cmpCtxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// authServerDown logs the first failure of an AuthenticationServer, not
// every login's; authServerUp logs its recovery.
func (d *Directory) authServerDown(addr string, err error) {
	d.warnMu.Lock()
	was := d.asDown[addr]
	d.asDown[addr] = true
	d.warnMu.Unlock()
	if !was {
		d.log.Warn(fmt.Sprintf("directory: AuthenticationServer %s is not answering; pre-authentications fail as temporary until it does: %v", addr, err))
	}
}

func (d *Directory) authServerUp(addr string) {
	d.warnMu.Lock()
	was := d.asDown[addr]
	delete(d.asDown, addr)
	d.warnMu.Unlock()
	if was {
		d.log.Info(fmt.Sprintf("directory: AuthenticationServer %s is answering again", addr))
	}
}

// ExtraSASLMechanisms are performed by the AuthenticationServer too, on
// one connection per exchange, with the login's addresses:
//
//	request   = "SASL" SP mechanism SP client SP server [SP initial] CRLF
//	challenge = "+" [SP data] CRLF
//	response  = data CRLF
//	verdict   = ("OK" SP login / "NO" [SP text] / "TEMP" [SP text]) CRLF
//
// data is base64 (RFC 4648 §4), "=" for empty; initial is the client's
// initial response, absent when it sent none. The service answers each
// request or response with a challenge or a verdict; OK names the user
// it authenticated (escaped as in AUTH), whom the MMP then looks up and
// logs in to the store as StoreAdmin on the user's behalf. A client that
// cancels ("*") ends the exchange: the MMP closes the connection.
//
//	C: SASL X-TOKEN 203.0.113.9 192.168.10.5
//	S: + bm9uY2UtMQ==
//	C: YWxpY2U6dG9rZW4=
//	S: OK alice

// RelaySASL starts an exchange of mechanism with the AuthenticationServer
// of values (account.Directory).
func (d *Directory) RelaySASL(ctx context.Context, values *config.Values, mechanism string, client, server netip.Addr) (account.SASLRelay, error) {
	addr := config.Get(values, param.AuthenticationServer)
	if addr == "" {
		return nil, fmt.Errorf("directory: %s needs AuthenticationServer: %w", mechanism, account.ErrUnavailable)
	}
	nd := net.Dialer{Timeout: d.dialTimeout}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		d.authServerDown(addr, err)
		return nil, fmt.Errorf("directory: AuthenticationServer %s: %w: %w", addr, err, account.ErrUnavailable)
	}
	return &saslRelay{d: d, addr: addr, c: c, r: bufio.NewReaderSize(io.LimitReader(c, 1<<20), maxAuthReply+2),
		first: "SASL " + authEscape(mechanism) + " " + addrText(client) + " " + addrText(server)}, nil
}

// saslRelay is one exchange with an AuthenticationServer.
type saslRelay struct {
	d     *Directory
	addr  string
	c     net.Conn
	r     *bufio.Reader
	first string // the request line, until it is sent
}

func (s *saslRelay) Next(resp []byte) (challenge []byte, done bool, login string, err error) {
	data := "="
	if len(resp) > 0 {
		data = base64.StdEncoding.EncodeToString(resp)
	}
	line := data
	if s.first != "" {
		line = s.first
		if resp != nil {
			line += " " + data
		}
		s.first = ""
	}
	s.c.SetDeadline(time.Now().Add(s.d.opTimeout))
	if _, err := io.WriteString(s.c, line+"\r\n"); err != nil {
		return s.down(err)
	}
	reply, err := s.r.ReadString('\n')
	if err != nil {
		return s.down(err)
	}
	s.d.authServerUp(s.addr)
	reply = strings.TrimRight(reply, "\r\n")
	verdict, text, _ := strings.Cut(reply, " ")
	switch strings.ToUpper(verdict) {
	case "+":
		if text == "" || text == "=" {
			return []byte{}, false, "", nil
		}
		b, err := base64.StdEncoding.Strict().DecodeString(text)
		if err != nil {
			return nil, false, "", fmt.Errorf("directory: AuthenticationServer %s: bad challenge: %w", s.addr, account.ErrUnavailable)
		}
		return b, false, "", nil
	case "OK":
		login, err := url.PathUnescape(text)
		if err != nil || login == "" {
			return nil, false, "", fmt.Errorf("directory: AuthenticationServer %s: OK without a login: %w", s.addr, account.ErrUnavailable)
		}
		return nil, true, login, nil
	case "NO":
		return nil, false, "", fmt.Errorf("directory: AuthenticationServer %s refused the exchange (%s): %w", s.addr, text, account.ErrNoUser)
	}
	return nil, false, "", fmt.Errorf("directory: AuthenticationServer %s: no verdict (%s): %w", s.addr, clipText(reply), account.ErrUnavailable)
}

func (s *saslRelay) down(err error) ([]byte, bool, string, error) {
	s.d.authServerDown(s.addr, err)
	return nil, false, "", fmt.Errorf("directory: AuthenticationServer %s: %w: %w", s.addr, err, account.ErrUnavailable)
}

func (s *saslRelay) Close() error { return s.c.Close() }

// clipText shortens a reply for an error message.
func clipText(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
