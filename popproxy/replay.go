package popproxy

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/sasl"
)

// storeConn is the MMP's side of a store connection during the replay
// (docs/reference.md §4.3.4).
type storeConn struct {
	nc net.Conn
	r  *wire.Reader
	// sasl are the mechanisms of the store's CAPA "SASL" line, upper
	// case; nil until CAPA was asked (or found in caps).
	sasl map[string]bool
	// pipelining: the store's CAPA announced PIPELINING.
	pipelining bool
	caps       *storeCapas
}

// Greet reads a store's greeting (proxy.Replayer).
func (c *conn) Greet(nc net.Conn) (proxy.StoreLogin, error) {
	sc := &storeConn{nc: nc, r: wire.NewReader(nc, maxStoreLine), caps: &c.p.storeCapas}
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

// Replay logs the user in at the store (proxy.StoreLogin) and reads the
// verdict from the RFC 2449 response code of a refusal: none or [AUTH]
// is a wrong password, [SYS/TEMP] asks to try later, and any other code
// ([IN-USE], [LOGIN-DELAY] ...) is passed on to the client.
func (sc *storeConn) Replay(rp proxy.Replay) (proxy.Verdict, string, error) {
	if rp.Announce == "xclient" {
		// StoreAnnounce xclient: the client's address before the login,
		// as Dovecot's pop3-login takes it from a trusted proxy. A
		// store that does not trust the MMP refuses; the login goes on.
		ok, text, err := sc.command(fmt.Sprintf("XCLIENT ADDR=%s PORT=%d SESSION=mmp-%s",
			rp.Client.Addr().Unmap(), rp.Client.Port(), rp.Session))
		if err != nil {
			return proxy.Refused, "", err
		}
		if !ok && rp.Warn != nil {
			rp.Warn("store refused the client's address in XCLIENT: " + text)
		}
	}
	ok, text, err := sc.replay(rp)
	switch {
	case err != nil:
		return proxy.Refused, "", err
	case ok:
		return proxy.Accepted, text, nil
	}
	switch responseCode(text) {
	case "", "AUTH":
		return proxy.Rejected, text, nil
	case "SYS/TEMP":
		return proxy.Deferred, text, nil
	}
	return proxy.Refused, text, nil
}

// errUnreplayable: the credentials cannot go in USER and PASS (a space or
// line break would split the command) and the store offers no SASL PLAIN.
var errUnreplayable = fmt.Errorf("%w: USER/PASS cannot carry them and the store does not offer SASL PLAIN", proxy.ErrCannotReplay)

// greeting reads the store's greeting. Only "+OK" will do; "-ERR" (a
// store refusing connections) counts as the store being unusable, so that
// the next mail host is tried.
func (sc *storeConn) greeting() error {
	ok, text, err := sc.status()
	if err != nil {
		return fmt.Errorf("reading the greeting: %w", err)
	}
	if !ok {
		return fmt.Errorf("the store refused the connection: %s", text)
	}
	return nil
}

// status reads one status line: "+OK text" or "-ERR text".
func (sc *storeConn) status() (ok bool, text string, err error) {
	line, err := sc.readLine()
	if err != nil {
		return false, "", err
	}
	return parseStatus(line)
}

func parseStatus(line []byte) (ok bool, text string, err error) {
	for _, st := range []string{"+OK", "-ERR"} {
		if rest, found := bytes.CutPrefix(line, []byte(st)); found && (len(rest) == 0 || rest[0] == ' ') {
			return st == "+OK", strings.TrimPrefix(string(rest), " "), nil
		}
	}
	return false, "", fmt.Errorf("unexpected line %q", clip(line))
}

// send writes one command line.
func (sc *storeConn) send(line string) error {
	sc.nc.SetWriteDeadline(storeDeadline())
	_, err := sc.nc.Write([]byte(line + "\r\n"))
	return err
}

// command sends a command and reads its status line.
func (sc *storeConn) command(line string) (ok bool, text string, err error) {
	if err := sc.send(line); err != nil {
		return false, "", err
	}
	return sc.status()
}

// capa learns the store's capabilities (RFC 2449): its SASL mechanisms
// and whether it announces PIPELINING, from the cache when a store at
// the same address answered CAPA less than storeCapaTTL ago, else by
// asking. A store without CAPA ("-ERR") has none.
func (sc *storeConn) capa() error {
	if sc.sasl != nil {
		return nil
	}
	addr := sc.nc.RemoteAddr().String()
	if e, ok := sc.caps.get(addr, time.Now()); ok {
		sc.sasl, sc.pipelining = e.sasl, e.pipelining
		return nil
	}
	ok, _, err := sc.command("CAPA")
	if err != nil {
		return fmt.Errorf("CAPA: %w", err)
	}
	sc.sasl = map[string]bool{}
	if !ok {
		sc.caps.put(addr, storeCapa{sasl: sc.sasl, at: time.Now()})
		return nil
	}
	for range maxStoreCapa {
		line, err := sc.readLine()
		if err != nil {
			return fmt.Errorf("CAPA: %w", err)
		}
		if string(line) == "." {
			sc.caps.put(addr, storeCapa{pipelining: sc.pipelining, sasl: sc.sasl, at: time.Now()})
			return nil
		}
		words := strings.Fields(string(line))
		switch {
		case len(words) == 0:
		case strings.EqualFold(words[0], "SASL"):
			for _, m := range words[1:] {
				sc.sasl[strings.ToUpper(m)] = true
			}
		case strings.EqualFold(words[0], "PIPELINING"):
			sc.pipelining = true
		}
	}
	return fmt.Errorf("CAPA: more than %d lines", maxStoreCapa)
}

// clip shortens a line for a log message.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// userPassSafe says whether a name and password can go in USER and PASS:
// USER takes one argument, so the name has no space; neither may break
// the line; and "USER name" must fit in a POP command line (RFC 2449 §4).
// PASS takes the rest of its line, spaces included (RFC 1939 §7).
func userPassSafe(user, pass string) bool {
	return !strings.ContainsAny(user, " \t\r\n\x00") && !strings.ContainsAny(pass, "\r\n\x00") &&
		len("USER ")+len(user) <= wire.MaxPOPLine-2
}

// replay logs the user in to the store and reports whether the store
// accepted, with the text of its status line (response code included).
// err is for a store that broke the protocol or the connection, or
// errUnreplayable.
//
// A client that used AUTH is replayed with AUTH PLAIN when the store's
// CAPA offers SASL PLAIN, as are credentials that USER and PASS cannot
// carry; everything else goes as "USER name" and "PASS password", both
// in one write when the store announces PIPELINING (RFC 2449 §6.6), one
// round trip instead of two (with TCP_QUICKACK, see quickAck). The store's CAPA answer is cached
// (storeCapas), so it is asked once per store and storeCapaTTL. A proxy login (a client
// certificate) has no password of the user: it goes straight to AUTH
// PLAIN with authzid = the user, authcid = StoreAdmin
// (docs/reference.md §4.3.4).
func (sc *storeConn) replay(rp proxy.Replay) (ok bool, text string, err error) {
	user, pass := rp.User, string(rp.Password)
	if rp.AuthzID != "" {
		return sc.authPlain(rp.AuthzID, user, pass)
	}
	if err := sc.capa(); err != nil {
		return false, "", err
	}
	simple := userPassSafe(user, pass)
	viaAUTH := rp.SASL && (rp.Mechanism == sasl.Plain || rp.Mechanism == sasl.Login)
	if (viaAUTH || !simple) && sc.sasl["PLAIN"] {
		return sc.authPlain("", user, pass)
	}
	if !simple {
		return false, "", errUnreplayable
	}
	if _, tcp := sc.nc.(*net.TCPConn); !sc.pipelining || !tcp || !haveQuickAck {
		ok, text, err = sc.command("USER " + user)
		if err != nil || !ok {
			return ok, text, err
		}
		return sc.command("PASS " + pass)
	}
	if err := sc.send("USER " + user + "\r\nPASS " + pass); err != nil {
		return false, "", err
	}
	// After the write, which would otherwise put the socket back into
	// delayed acknowledgements.
	quickAck(sc.nc)
	ok, text, err = sc.status()
	if err != nil {
		return false, "", err
	}
	okPass, textPass, errPass := sc.status()
	if !ok {
		// USER refused: PASS was refused too (no user given), or the
		// store hung up; the refusal of USER is the answer.
		return false, text, nil
	}
	return okPass, textPass, errPass
}

// authPlain runs AUTH PLAIN (RFC 5034) with the authorization identity
// authz (empty but for a proxy login): with the initial response on the
// command line when the line stays within 255 octets, else in answer to
// the store's "+" (RFC 5034 §4 requires exactly that split).
func (sc *storeConn) authPlain(authz, user, pass string) (ok bool, text string, err error) {
	resp := wire.EncodePlain(authz, user, pass)
	if cmd := "AUTH PLAIN " + resp; len(cmd) <= wire.MaxPOPLine-2 {
		if err := sc.send(cmd); err != nil {
			return false, "", err
		}
	} else {
		if err := sc.send("AUTH PLAIN"); err != nil {
			return false, "", err
		}
		line, err := sc.readLine()
		if err != nil {
			return false, "", err
		}
		if !isContinuation(line) {
			return parseStatus(line)
		}
		if err := sc.send(resp); err != nil {
			return false, "", err
		}
	}
	line, err := sc.readLine()
	if err != nil {
		return false, "", err
	}
	if isContinuation(line) {
		// Another challenge after the whole response: cancel, and the
		// store answers -ERR.
		if err := sc.send("*"); err != nil {
			return false, "", err
		}
		return sc.status()
	}
	return parseStatus(line)
}

// readLine reads one line from the store within StoreTimeout.
func (sc *storeConn) readLine() ([]byte, error) {
	sc.nc.SetReadDeadline(storeDeadline())
	return sc.r.ReadLine()
}

// isContinuation recognises a SASL challenge line, "+ base64" or "+".
func isContinuation(line []byte) bool {
	return bytes.HasPrefix(line, []byte("+ ")) || string(line) == "+"
}
