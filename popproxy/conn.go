package popproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/proxy"
)

// conn is the MMP's side of one client connection before login, and
// during a spoofed session.
type conn struct {
	p   *Protocol
	s   *proxy.Session
	v   *config.Values
	log *slog.Logger
	r   *wire.Reader
	w   *bufio.Writer

	errs      int    // protocol errors so far, against maxErrors
	user      string // name given by USER, waiting for PASS
	timestamp string // APOP timestamp of the greeting; "" without CRAMs
	md        *maildrop
}

func newConn(p *Protocol, s *proxy.Session) *conn {
	return &conn{
		p: p, s: s, v: s.Values, log: s.Log,
		r: wire.NewReader(s.Client, maxLine),
		w: wire.NewWriter(s.Client),
	}
}

// errDone ends the dialogue without a store: QUIT, a failed STLS.
var errDone = proxy.ErrEnd

// serve greets the client and answers its commands until it is logged in
// to a store or gone.
func (c *conn) serve(ctx context.Context) (*proxy.Store, error) {
	c.w.WriteString(c.greeting() + "\r\n")
	return c.s.Converse(ctx, c)
}

// Buffered and Flush serve proxy.Dialogue.
func (c *conn) Buffered() int { return c.r.Buffered() }
func (c *conn) Flush() error  { return c.flush() }

// Step reads and runs one command (proxy.Dialogue).
func (c *conn) Step(ctx context.Context) (*proxy.Store, error) {
	line, err := c.r.ReadLine()
	if errors.Is(err, wire.ErrLineTooLong) {
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	name, args, err := wire.ParsePOPCommand(line)
	if err != nil {
		switch {
		case errors.Is(err, wire.ErrLineTooLong):
			return nil, errLineTooLong
		case name != "":
			return nil, badArgs("Syntax error in " + name)
		}
		return nil, badArgs("Syntax error")
	}
	st, err := c.dispatch(ctx, name, args)
	if err != nil && !errors.Is(err, errDone) {
		err = fmt.Errorf("%s command: %w", name, err)
	}
	return st, err
}

// Reply answers the last command (proxy.Dialogue).
func (c *conn) Reply(err error) bool {
	var r *reply
	if !errors.As(err, &r) {
		c.log.Error(fmt.Sprintf("%v", err))
		r = errInternal
	}
	return c.answer(r)
}

// Gone ends the session of a client whose read failed (proxy.Dialogue).
func (c *conn) Gone(err error) error { return c.readFailed(err) }

// readFailed turns a failed read from the client into the session's end:
// an idle client is told why (docs/reference.md §4.7; Dovecot does the same, though
// RFC 1939 only asks that the connection be closed), and one that went
// away is not an error.
func (c *conn) readFailed(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.w.WriteString("-ERR Autologout; idle for too long\r\n")
		c.flush()
		c.log.Info("client idle for too long")
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return nil
	}
	return err
}

// flush writes what is buffered, giving a client that does not read the
// idle Timeout to take it.
func (c *conn) flush() error {
	if c.w.Buffered() == 0 {
		return nil
	}
	if t := c.s.Timeout(); t > 0 {
		c.s.Client.SetWriteDeadline(time.Now().Add(t))
	}
	return c.w.Flush()
}

// answer writes an error reply and charges protocol errors to the budget.
// It reports false when the budget is spent: the last reply then says so
// in place of its own text, since POP3 has no untagged line to add, and
// the connection is to be closed.
func (c *conn) answer(r *reply) bool {
	if r.bad {
		c.errs++
		if c.errs >= maxErrors {
			c.line(errTooMany.Error())
			logging.Notice(c.log, fmt.Sprintf("client %s sent %d invalid commands; closing", c.s.ClientAddr, c.errs))
			return false
		}
	}
	c.line(r.Error())
	return true
}

// line writes one line and its CRLF.
func (c *conn) line(s string) {
	c.w.WriteString(s)
	c.w.WriteString("\r\n")
}

// ok writes "+OK text".
func (c *conn) ok(text string) {
	if text == "" {
		c.line("+OK")
		return
	}
	c.line("+OK " + text)
}

// dispatch runs one command. It returns a store when the client is logged
// in, errDone when the session is over, a *reply to answer, or another
// error (logged and answered with errInternal, or ending the session if
// it is an I/O failure).
func (c *conn) dispatch(ctx context.Context, name string, args []string) (*proxy.Store, error) {
	if c.log.Enabled(ctx, logging.LevelTrace) {
		// The name only: the arguments of PASS and AUTH are credentials.
		logging.Trace(c.log, "client command "+name)
	}
	if c.md != nil {
		return nil, c.md.dispatch(c, name, args)
	}
	switch name {
	case "CAPA":
		return nil, c.handleCapa(args)
	case "USER":
		return nil, c.handleUser(args)
	case "PASS":
		return c.handlePass(ctx, args)
	case "AUTH":
		return c.handleAuth(ctx, args)
	case "APOP":
		return c.handleAPOP(ctx, args)
	case "STLS":
		return nil, c.handleSTLS(ctx, args)
	case "QUIT":
		return nil, c.handleQuit(args)
	case "XQUERYAUTH":
		return nil, c.handleXQueryAuth(ctx, args)
	}
	return nil, errUnknownCommand
}

// readResponse reads one line of a SASL exchange from the client, after
// flushing the challenge. The line is only valid until the next read.
func (c *conn) readResponse() ([]byte, error) {
	if err := c.flush(); err != nil {
		return nil, err
	}
	c.s.SetIdleDeadline()
	line, err := c.r.ReadLine()
	if errors.Is(err, wire.ErrLineTooLong) {
		return nil, errBadResponse
	}
	return line, err
}

// storeDeadline gives a store a bounded time for its next reply.
func storeDeadline() time.Time { return time.Now().Add(proxy.StoreTimeout) }
