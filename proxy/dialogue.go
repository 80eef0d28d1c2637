package proxy

import (
	"context"
	"errors"
)

// ErrEnd, from Dialogue.Step, ends the dialogue without a store: LOGOUT,
// QUIT, a spent error budget, a client that lost sync. What the protocol
// buffered is flushed first.
var ErrEnd = errors.New("proxy: dialogue over")

// Dialogue is a protocol's conversation with a client before login, one
// command at a time; Session.Converse drives it, the same loop for every
// protocol.
type Dialogue interface {
	// Buffered is how much the client has sent that is not read yet:
	// replies to pipelined commands are flushed together, when it is 0.
	Buffered() int
	// Flush writes the buffered replies.
	Flush() error
	// Step reads one command and runs it. It returns the store once the
	// client is logged in; nil, nil for the next command; ErrEnd when the
	// session is over; a reply the protocol's Reply recognises; an error
	// of the client connection; or any other error, which Reply answers
	// with the protocol's internal-error reply.
	Step(ctx context.Context) (*Store, error)
	// Reply writes the reply err carries (or, for an error that carries
	// none, logs it and writes the internal-error reply), and reports
	// whether the dialogue goes on: false when the error budget is spent
	// or the reply closes the connection.
	Reply(err error) bool
	// Gone ends the session of a client whose connection failed or went
	// idle: an idle client is told why; one that left is not an error.
	Gone(err error) error
}

// Converse runs a protocol's dialogue until the client is logged in
// (the store for the pipe) or gone (nil, with an error only for what
// deserves a log line).
func (s *Session) Converse(ctx context.Context, d Dialogue) (*Store, error) {
	for {
		// Waiting for the client from before the reply goes out: a
		// client that has read it finds the session already counted as
		// waiting since then (Limits' idle order), not since its
		// previous command.
		s.SetIdleDeadline()
		if d.Buffered() == 0 {
			if err := d.Flush(); err != nil {
				return nil, err
			}
		}
		st, err := d.Step(ctx)
		switch {
		case st != nil:
			return st, nil
		case err == nil:
			continue
		case errors.Is(err, ErrEnd):
			return nil, d.Flush()
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case IsConnError(err):
			return nil, d.Gone(err)
		}
		if !d.Reply(err) {
			return nil, d.Flush()
		}
	}
}
