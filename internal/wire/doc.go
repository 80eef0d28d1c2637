// Package wire lexes what a mail client sends the Messaging Multiplexor
// before login: bounded CRLF lines, IMAP commands with their literals, POP3
// and SMTP command lines, and the SASL exchanges PLAIN, LOGIN and CRAM-MD5.
// After login the MMP is a byte pipe, so nothing here is used once a session
// is spliced to its store.
//
// The grammars come from:
//
//   - IMAP: RFC 3501 and RFC 9051 §9 (tag, atom, astring, quoted, literal),
//     RFC 7888 (LITERAL+ non-synchronising literals), RFC 3516 (literal8,
//     refused here), RFC 2971 (ID parameter lists), RFC 5530 (TOOBIG).
//   - SASL: RFC 4422, RFC 4616 (PLAIN), RFC 4959 (IMAP SASL-IR), RFC 4954
//     and RFC 5034 (SMTP and POP3 AUTH, "*" cancels, "=" is an empty initial
//     response), RFC 2195 (CRAM-MD5), draft-murchison-sasl-login (LOGIN),
//     RFC 4648 §4 (base64).
//   - POP3: RFC 1939 and RFC 2449 §3–4 (command grammar and lengths).
//   - SMTP: RFC 5321 §4.1.
//   - STARTTLS: RFC 2595 §3.1 and RFC 3207 §4.2 (what was learnt before TLS
//     is forgotten); plaintext pipelined behind STARTTLS is dropped, never
//     run, because of command injection (CVE-2011-0411).
//
// Every reader here is bounded, because the peer is not yet authenticated:
// a line longer than its limit is skipped, not buffered; a literal larger than
// its limit is refused before the client sends it, or skipped without being
// stored when the client did not wait (LITERAL+); and a command whose lines
// and literals together exceed a limit is rejected. Errors that the client
// caused and that leave the stream in step are *CommandError values, answered
// with "tag BAD" and survivable; every other error means the connection must
// be closed.
//
// Typical usage in an IMAP pre-login loop:
//
//	r := wire.NewReader(conn, wire.DefaultMaxLine)
//	cr := wire.NewCommandReader(r, func(n int) error {
//		_, err := io.WriteString(conn, "+ Ready for literal data\r\n")
//		return err
//	})
//	for {
//		cmd, err := cr.Next()
//		var ce *wire.CommandError
//		switch {
//		case errors.As(err, &ce):
//			reply(ce.Tag, "BAD", ce.Text) // ce.Tag is "" when the line had no tag: use "*"
//			continue
//		case err != nil:
//			return err // I/O error or the stream can no longer be followed: close
//		}
//		switch cmd.Name {
//		case "STARTTLS":
//			if r.Buffered() > 0 {
//				r.Discard() // pipelined plaintext must never run after TLS starts
//			}
//			// ... handshake, then r.Reset(tlsConn)
//		case "LOGIN":
//			if len(cmd.Args) != 2 { /* BAD */ }
//			user, ok1 := cmd.Args[0].Astring() // valid until the next Next: copy
//			pass, ok2 := cmd.Args[1].Astring()
//			// ...
//		}
//	}
//
// The client's answers inside AUTHENTICATE are lines, not commands: read
// them with Reader.ReadLine and decode them with DecodePlain or
// DecodeBase64Line. POP3 and SMTP front ends read lines the same way and
// split them with ParsePOPCommand and ParseSMTPCommand.
package wire
