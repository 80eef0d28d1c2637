package smtpproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
)

// conn is the MMP's side of one client connection before the pipe.
type conn struct {
	p    *Protocol
	s    *proxy.Session
	v    *config.Values
	log  *slog.Logger
	r    *wire.Reader
	w    *bufio.Writer
	errs int // 5xx replies so far, against maxErrors

	directoryAuth bool   // SmtpAuth directory: the MMP performs AUTH
	announce      string // SmtpRelayAnnounce

	// Set by EHLO or HELO. relay is nil until then, and again once the
	// relay connection belongs to the pipe.
	relay   *relayConn
	helo    string // the client's EHLO or HELO argument
	esmtp   bool   // EHLO rather than HELO
	ehlo    []string
	pending bool // the XCLIENT introduction waits for the login (see doc.go)

	login string // the user who authenticated with the MMP (SmtpAuth directory)
	canon string // and the canonical form of the name (who is connected)

	popUser, name string // POP-before-SMTP user and verified host name, once looked up
	popDone       bool
	nameDone      bool
	nameTemp      bool // the host name lookup failed temporarily
}

func newConn(p *Protocol, s *proxy.Session) *conn {
	c := &conn{p: p, s: s, v: s.Values, log: s.Log}
	c.r = wire.NewReader(s.Client, maxLine)
	c.w = bufio.NewWriterSize(s.Client, 4096)
	c.directoryAuth = config.Get(c.v, param.SmtpAuth) == "directory"
	c.announce = config.Get(c.v, param.SmtpRelayAnnounce)
	return c
}

// errDone ends the dialogue without a relay: QUIT, a failed STARTTLS.
var errDone = proxy.ErrEnd

// serve greets the client and answers its commands until the first one
// for the relay, which starts the pipe, or until the client is gone.
func (c *conn) serve(ctx context.Context) (*proxy.Store, error) {
	c.w.WriteString(c.greeting() + "\r\n")
	return c.s.Converse(ctx, c)
}

// Buffered and Flush serve proxy.Dialogue; replies to pipelined commands
// go out together (RFC 2920).
func (c *conn) Buffered() int { return c.r.Buffered() }
func (c *conn) Flush() error  { return c.w.Flush() }

// Step reads and runs one command (proxy.Dialogue).
func (c *conn) Step(ctx context.Context) (*proxy.Store, error) {
	line, err := c.r.ReadLine()
	if errors.Is(err, wire.ErrLineTooLong) {
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	verb, arg := wire.ParseSMTPCommand(line)
	if verb != "AUTH" && len(line) > maxCommandLine {
		return nil, errLineTooLong
	}
	st, err := c.dispatch(ctx, verb, arg, line)
	if err != nil && !errors.Is(err, errDone) {
		err = fmt.Errorf("%s command: %w", verb, err)
	}
	return st, err
}

// Reply answers the last command (proxy.Dialogue); a 421 ends the
// session.
func (c *conn) Reply(err error) bool {
	var r *reply
	if !errors.As(err, &r) {
		c.log.Error(fmt.Sprintf("%v", err))
		r = errInternal
	}
	return c.answer(r) && !r.closes()
}

// Gone ends the session of a client whose read failed (proxy.Dialogue).
func (c *conn) Gone(err error) error { return c.readFailed(err) }

// proxyCommands are the commands with which a proxy tells a relay who its
// client is (XPEHLO, XCLIENT, XFORWARD): the MMP's own, never a client's.
var proxyCommands = map[string]bool{"XPEHLO": true, "XCLIENT": true, "XFORWARD": true}

// readFailed turns a failed read from the client into the session's end:
// an idle client is told why (docs/reference.md §4.7), and one that went away is not
// an error.
func (c *conn) readFailed(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.w.WriteString(c.p.closing(errIdle).line())
		c.w.Flush()
		c.log.Info("client idle for too long before the relay took over")
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return nil
	}
	return err
}

// answer writes a reply of the MMP's own and charges 5xx replies to the
// error budget. It reports false when the budget is spent and the client
// has been sent 421.
func (c *conn) answer(r *reply) bool {
	if r.closes() {
		r = c.p.closing(r)
	}
	c.w.WriteString(r.line())
	if r.code < 500 {
		return true
	}
	c.errs++
	if c.errs < maxErrors {
		return true
	}
	c.w.WriteString(c.p.closing(errTooManyErrors).line())
	logging.Notice(c.log, fmt.Sprintf("client %s got %d error replies; closing", c.s.ClientAddr, c.errs))
	return false
}

// dispatch runs one command. It returns the store for the pipe, errDone
// when the session is over, a *reply to answer, or another error (logged
// and answered with errInternal, or ending the session if the client
// connection broke).
func (c *conn) dispatch(ctx context.Context, verb, arg string, line []byte) (*proxy.Store, error) {
	if c.log.Enabled(ctx, logging.LevelTrace) {
		logging.Trace(c.log, "client command "+verb) // never the arguments: AUTH carries passwords
	}
	switch {
	case proxyCommands[verb]:
		// The relay trusts the MMP's address for these; from a client
		// they are a forgery or a password guess.
		logging.Notice(c.log, fmt.Sprintf("client %s sent %s; refused", c.s.ClientAddr, verb))
		return nil, errProxyCommand
	case verb != "AUTH" && strings.HasPrefix(verb, "AUTH"):
		// AUTH in a spacing the MMP does not take: never the relay's.
		return nil, errAuthSyntax
	}
	switch verb {
	case "EHLO", "HELO":
		return nil, c.handleHello(ctx, verb, arg)
	case "NOOP":
		return nil, c.handleNoop()
	case "RSET":
		return nil, c.handleRset(arg)
	case "STARTTLS":
		return nil, c.handleStartTLS(ctx, arg)
	}
	if c.relay == nil {
		switch verb {
		case "QUIT":
			return nil, c.handleQuit()
		case "HELP":
			return nil, c.handleHelp()
		case "AUTH", "MAIL", "RCPT", "DATA", "BDAT", "VRFY", "EXPN", "ETRN":
			return nil, errEHLOFirst
		}
		return nil, errUnknownCommand
	}
	if verb == "AUTH" {
		return c.handleAuth(ctx, arg, line)
	}
	return c.handOff(ctx, line)
}

// readResponse reads one line of a SASL exchange from the client, after
// flushing the challenge. The line is only valid until the next read.
func (c *conn) readResponse() ([]byte, error) {
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	c.s.SetIdleDeadline()
	line, err := c.r.ReadLine()
	if errors.Is(err, wire.ErrLineTooLong) {
		return nil, errBadResponse
	}
	return line, err
}

// offerStartTLS says whether the MMP offers its own STARTTLS: SSLEnable,
// a certificate, and not yet encrypted (docs/reference.md §4.4.1 step 6);
// handleStartTLS does the upgrade.
func (c *conn) offerStartTLS() bool { return c.s.StartTLSOffered() }
