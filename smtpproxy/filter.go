package smtpproxy

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/openmmp/mmp/internal/wire"
)

// refusedCommand replaces a client command that must not reach the relay:
// the relay does not know it and answers 5xx in its turn, so that replies
// stay in the order of the commands (RFC 2920 pipelining).
const refusedCommand = "X-OPENMMP-REFUSED\r\n"

// filter stands between the pipe and the relay once the session is handed
// off (docs/reference.md §4.4.1 step 8). The relay trusts the MMP's
// address, so a client must not reach it with the commands the MMP
// speaks for it: XPEHLO (a guess at the proxy password), XCLIENT and
// XFORWARD (a forged client or login), AUTH that the MMP did not allow,
// EHLO and HELO (a new greeting would undo the introduction) and STARTTLS
// (which would hide the rest from this filter). It reads the client's
// commands line by line and the relay's replies only to learn when DATA
// was accepted (354); the message itself, after DATA or BDAT, passes
// untouched. SMTP submissions are short, so the per-line work is the
// price of an open relay that cannot be tricked.
type filter struct {
	net.Conn // the relay
	allowed  func(verb, arg string) bool
	refused  func(verb string)

	mu      sync.Mutex
	line    []byte   // the client's command line so far
	pending []string // commands sent and not yet answered, in order
	body    bool     // after a 354 to DATA: message text until CRLF.CRLF
	tail    []byte   // the last octets of the message text, to find its end
	chunk   int64    // BDAT octets still to pass
	reply   []byte   // the relay's reply line so far
}

// maxFilterLine bounds a client command line in the filter; a longer one
// is refused whole, whatever it starts with.
const maxFilterLine = maxLine

// Write takes what the client sent and passes it on to the relay. The
// message text goes as the slices of p it is, in one writev with the
// command lines around it; nothing is copied but command lines.
func (f *filter) Write(p []byte) (int, error) {
	f.mu.Lock()
	out := f.scan(p)
	f.mu.Unlock()
	if _, err := out.WriteTo(f.Conn); err != nil {
		return 0, err
	}
	return len(p), nil
}

// scan turns the client's octets into what the relay gets; f.mu is held.
func (f *filter) scan(p []byte) net.Buffers {
	var out net.Buffers
	for len(p) > 0 {
		switch {
		case f.chunk > 0:
			n := int64(len(p))
			if n > f.chunk {
				n = f.chunk
			}
			out = append(out, p[:n])
			p, f.chunk = p[n:], f.chunk-n
		case f.body:
			i := endOfData(f.tail, p)
			if i < 0 {
				out = append(out, p)
				f.tail = lastOctets(f.tail, p)
				return out
			}
			out = append(out, p[:i])
			p, f.body, f.tail = p[i:], false, nil
			f.pending = append(f.pending, ".")
		default:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				f.line = append(f.line, p...)
				if len(f.line) > maxFilterLine {
					// Refused whole; the rest of it is dropped below.
					f.line = append(f.line[:0], "X-OVERLONG "...)
				}
				return out
			}
			f.line = append(f.line, p[:i+1]...)
			p = p[i+1:]
			out = append(out, f.command(f.line))
			f.line = nil // the slice now belongs to out
		}
	}
	return out
}

// command judges one client command line (CRLF included).
func (f *filter) command(line []byte) []byte {
	verb, arg := wire.ParseSMTPCommand(bytes.TrimRight(line, "\r\n"))
	if !f.allowed(verb, arg) {
		f.refused(verb)
		f.pending = append(f.pending, "REFUSED")
		return []byte(refusedCommand)
	}
	f.pending = append(f.pending, verb)
	if verb == "BDAT" {
		size, _, _ := strings.Cut(arg, " ")
		if n, err := strconv.ParseInt(size, 10, 64); err == nil && n > 0 {
			f.chunk = n
		}
	}
	return line
}

// endOfData finds the end of a message's text (CRLF "." CRLF) in p, seen
// after tail (the last octets before p, at most four), and returns the
// index just past it, or -1. Only the few octets around the seam are
// looked at twice.
func endOfData(tail, p []byte) int {
	const end = "\r\n.\r\n"
	seam := append(append(make([]byte, 0, 8), tail...), p[:min(len(p), len(end)-1)]...)
	if i := bytes.Index(seam, []byte(end)); i >= 0 {
		return i + len(end) - len(tail)
	}
	if i := bytes.Index(p, []byte(end)); i >= 0 {
		return i + len(end)
	}
	return -1
}

// lastOctets keeps the last four octets of tail followed by p.
func lastOctets(tail, p []byte) []byte {
	if len(p) >= 4 {
		return append(tail[:0], p[len(p)-4:]...)
	}
	t := append(tail, p...)
	return append(t[:0:0], t[max(0, len(t)-4):]...)
}

// Read passes the relay's replies to the client, watching for the 354
// that starts a message's text.
func (f *filter) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	if n > 0 {
		f.mu.Lock()
		f.replies(p[:n])
		f.mu.Unlock()
	}
	return n, err
}

// replies notes the relay's replies; f.mu is held.
func (f *filter) replies(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(f.reply) < maxRelayLine {
				f.reply = append(f.reply, p...)
			}
			return
		}
		f.reply = append(f.reply, p[:i+1]...)
		p = p[i+1:]
		line := f.reply
		f.reply = f.reply[:0]
		if len(line) < 4 || line[3] == '-' || len(f.pending) == 0 {
			continue // a line of a multi-line reply, or nothing asked
		}
		verb := f.pending[0]
		f.pending = f.pending[1:]
		if verb == "DATA" && bytes.HasPrefix(line, []byte("354")) {
			f.body, f.tail = true, []byte("\r\n") // the text may end at once
		}
	}
}

// CloseWrite passes a half-close on to the relay.
func (f *filter) CloseWrite() error {
	if cw, ok := f.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
