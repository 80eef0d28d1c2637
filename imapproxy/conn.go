package imapproxy

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

// conn is the MMP's side of one client connection before login.
type conn struct {
	p    *Protocol
	s    *proxy.Session
	v    *config.Values
	log  *slog.Logger
	r    *wire.Reader
	cr   *wire.CommandReader
	w    *bufio.Writer
	errs int    // BAD replies so far, against maxErrors
	seq  int    // replays so far, for the MMP's store tags
	tag  string // of the command being answered
	// clientID are the client's ID parameters (name, value, ...) for
	// StoreAnnounce id.
	clientID []string
}

func newConn(p *Protocol, s *proxy.Session) *conn {
	c := &conn{p: p, s: s, v: s.Values, log: s.Log}
	c.r = wire.NewReader(s.Client, maxLine)
	c.w = wire.NewWriter(s.Client)
	c.cr = wire.NewCommandReader(c.r, func(n int) error {
		c.w.WriteString("+ Ready for literal data\r\n")
		return c.w.Flush()
	})
	return c
}

// errDone ends the dialogue without a store: LOGOUT, a failed STARTTLS.
var errDone = proxy.ErrEnd

// serve greets the client and answers its commands until it is logged in
// to a store or gone.
func (c *conn) serve(ctx context.Context) (*proxy.Store, error) {
	c.w.WriteString(c.greeting() + "\r\n")
	return c.s.Converse(ctx, c)
}

// Buffered and Flush serve proxy.Dialogue.
func (c *conn) Buffered() int { return c.r.Buffered() }
func (c *conn) Flush() error  { return c.w.Flush() }

// Step reads and runs one command (proxy.Dialogue). A command the reader
// cannot parse is answered BAD with its tag, or "*" without one.
func (c *conn) Step(ctx context.Context) (*proxy.Store, error) {
	cmd, err := c.cr.Next()
	if err != nil {
		var ce *wire.CommandError
		switch {
		case errors.As(err, &ce):
			c.tag = ce.Tag
			if c.tag == "" {
				c.tag = "*"
			}
			return nil, &response{"BAD", ce.Code, ce.Text}
		case errors.Is(err, wire.ErrLostSync):
			c.w.WriteString("* BYE Cannot follow the command stream\r\n")
			return nil, errDone
		}
		return nil, err
	}
	c.tag = cmd.Tag
	st, err := c.dispatch(ctx, cmd)
	if err != nil && !errors.Is(err, errDone) {
		err = fmt.Errorf("%s command: %w", cmd.Name, err)
	}
	return st, err
}

// Reply answers the last command (proxy.Dialogue).
func (c *conn) Reply(err error) bool {
	var resp *response
	if !errors.As(err, &resp) {
		c.log.Error(fmt.Sprintf("%v", err))
		resp = errInternal
	}
	return c.answer(c.tag, resp)
}

// Gone ends the session of a client whose read failed (proxy.Dialogue).
func (c *conn) Gone(err error) error { return c.readFailed(err) }

// readFailed turns a failed read from the client into the session's end:
// an idle client is told why (docs/reference.md §4.7), and one that
// went away is not an error.
func (c *conn) readFailed(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.w.WriteString("* BYE Autologout; idle for too long\r\n")
		c.w.Flush()
		c.log.Info("client idle for too long before login")
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return nil
	}
	return err
}

// answer writes a tagged reply and charges BAD ones to the error budget.
// It reports false when the budget is spent and the client has been told
// "* BYE".
func (c *conn) answer(tag string, r *response) bool {
	c.reply(tag, r)
	if r.status != "BAD" {
		return true
	}
	c.errs++
	if c.errs < maxErrors {
		return true
	}
	c.w.WriteString("* BYE Too many invalid commands\r\n")
	logging.Notice(c.log, fmt.Sprintf("client %s sent %d invalid commands; closing", c.s.ClientAddr, c.errs))
	return false
}

// reply writes "tag STATUS [CODE] text".
func (c *conn) reply(tag string, r *response) {
	c.w.WriteString(tag)
	c.w.WriteByte(' ')
	c.w.WriteString(r.Error())
	c.w.WriteString("\r\n")
}

// ok writes a tagged OK.
func (c *conn) ok(tag, text string) { c.reply(tag, &response{"OK", "", text}) }

// untagged writes "* text".
func (c *conn) untagged(text string) {
	c.w.WriteString("* ")
	c.w.WriteString(text)
	c.w.WriteString("\r\n")
}

// dispatch runs one command. It returns a store when the client is logged
// in, errDone when the session is over, a *response to answer, or another
// error (logged and answered with errInternal, or ending the session if
// it is an I/O failure).
func (c *conn) dispatch(ctx context.Context, cmd *wire.Command) (*proxy.Store, error) {
	if c.log.Enabled(ctx, logging.LevelTrace) {
		logging.Trace(c.log, fmt.Sprintf("client command %s %s", cmd.Tag, cmd.Name))
	}
	switch cmd.Name {
	case "CAPABILITY":
		return nil, c.handleCapability(cmd)
	case "NOOP":
		return nil, c.handleNoop(cmd)
	case "LOGOUT":
		return nil, c.handleLogout(cmd)
	case "ID":
		if c.hasCapability("ID") {
			return nil, c.handleID(cmd)
		}
	case "STARTTLS":
		return nil, c.handleStartTLS(ctx, cmd)
	case "LOGIN":
		return c.handleLogin(ctx, cmd)
	case "AUTHENTICATE":
		return c.handleAuthenticate(ctx, cmd)
	}
	return nil, errUnknownCommand
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
		return nil, badArgs("Authentication response too long")
	}
	return line, err
}

// storeDeadline gives a store a bounded time for its next reply.
func storeDeadline() time.Time { return time.Now().Add(proxy.StoreTimeout) }
