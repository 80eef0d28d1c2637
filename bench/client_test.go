package bench

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// client is a minimal IMAP client, lean enough not to be the bottleneck:
// literals are read straight from the socket into a large buffer.
type client struct {
	c   net.Conn
	r   *bufio.Reader
	seq int
	buf []byte // for literals, allocated on first use
}

// ioTimeout bounds every wait of the client, so that a stuck peer fails the
// benchmark instead of hanging it.
const ioTimeout = 30 * time.Second

// dial connects and reads the greeting (skipping Dovecot's "Waiting for
// authentication process" placeholder).
func dial(addr string) (*client, error) { return dialWith(addr, nil) }

// dialWith is dial, with implicit TLS (a full handshake, no resumption)
// when tc is not nil.
func dialWith(addr string, tc *tls.Config) (*client, error) {
	c, err := dialConn(addr, tc)
	if err != nil {
		return nil, err
	}
	cl := &client{c: c, r: bufio.NewReaderSize(c, 4096)}
	c.SetDeadline(time.Now().Add(ioTimeout))
	for {
		l, err := cl.r.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("greeting from %s: %w", addr, err)
		}
		if !strings.HasPrefix(l, "* OK") {
			c.Close()
			return nil, fmt.Errorf("greeting from %s: %q", addr, l)
		}
		if !strings.Contains(l, "Waiting for authentication") {
			return cl, nil
		}
	}
}

// dialConn connects, with a TLS handshake when tc is not nil.
func dialConn(addr string, tc *tls.Config) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err == nil && proxied[addr] {
		// A load balancer's PROXY header naming this very client.
		l, r := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
		_, err = fmt.Fprintf(c, "PROXY TCP4 %s %s %d %d\r\n", l.IP, r.IP, l.Port, r.Port)
	}
	if err != nil || tc == nil {
		return c, err
	}
	t := tls.Client(c, tc)
	t.SetDeadline(time.Now().Add(ioTimeout))
	if err := t.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return t, nil
}

// proxied are the addresses (ProxyProtocolPorts) where every connection
// starts with a PROXY header; set before the measurements.
var proxied = map[string]bool{}

// login dials and logs in.
func login(addr, user, pass string) (*client, error) { return loginWith(addr, nil, user, pass) }

// loginWith is login, over implicit TLS when tc is not nil.
func loginWith(addr string, tc *tls.Config, user, pass string) (*client, error) {
	cl, err := dialWith(addr, tc)
	if err != nil {
		return nil, err
	}
	if _, err := cl.do("LOGIN " + user + " " + pass); err != nil {
		cl.c.Close()
		return nil, fmt.Errorf("LOGIN %s at %s: %w", user, addr, err)
	}
	return cl, nil
}

// do sends a command and reads to its tagged reply, discarding literals. It
// returns the octets of literals read and fails on anything but OK.
func (cl *client) do(cmd string) (int64, error) {
	cl.seq++
	tag := "b" + strconv.Itoa(cl.seq)
	cl.c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(cl.c, tag+" "+cmd+"\r\n"); err != nil {
		return 0, err
	}
	var lits int64
	for {
		l, err := cl.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long untagged line (CAPABILITY); read on to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = cl.r.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return lits, fmt.Errorf("%s %s: %w", tag, cmd, err)
		}
		line := strings.TrimRight(string(l), "\r\n")
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				return lits, fmt.Errorf("%s %s: %s", tag, cmd, line)
			}
			return lits, nil
		}
		if n, ok := literalAtEnd(line); ok {
			if err := cl.skip(n); err != nil {
				return lits, fmt.Errorf("%s %s: literal of %d: %w", tag, cmd, n, err)
			}
			lits += n
		}
	}
}

// skip reads and discards n octets: what bufio already holds, then straight
// from the socket in 256 KiB reads.
func (cl *client) skip(n int64) error {
	if b := int64(cl.r.Buffered()); b > 0 {
		d, _ := cl.r.Discard(int(min(b, n)))
		n -= int64(d)
	}
	if n == 0 {
		return nil
	}
	if cl.buf == nil {
		cl.buf = make([]byte, 256<<10)
	}
	for n > 0 {
		cl.c.SetReadDeadline(time.Now().Add(ioTimeout))
		m, err := cl.c.Read(cl.buf[:min(int64(len(cl.buf)), n)])
		n -= int64(m)
		if err != nil {
			return err
		}
	}
	return nil
}

// logout says LOGOUT, reads the reply and closes.
func (cl *client) logout() error {
	_, err := cl.do("LOGOUT")
	cl.c.Close()
	return err
}

// literalAtEnd finds "{n}" or "{n+}" at the end of a line.
func literalAtEnd(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// popClient is a minimal POP3 client.
type popClient struct {
	c net.Conn
	r *bufio.Reader
}

// dialPOP connects and reads the +OK greeting.
func dialPOP(addr string) (*popClient, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	cl := &popClient{c: c, r: bufio.NewReaderSize(c, 1024)}
	c.SetDeadline(time.Now().Add(ioTimeout))
	if err := cl.ok(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting from %s: %w", addr, err)
	}
	return cl, nil
}

// ok reads one reply line and fails on anything but +OK.
func (cl *popClient) ok() error {
	l, err := cl.r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(l, "+OK") {
		return fmt.Errorf("%q", strings.TrimRight(l, "\r\n"))
	}
	return nil
}

func (cl *popClient) do(cmd string) error {
	cl.c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(cl.c, cmd+"\r\n"); err != nil {
		return err
	}
	if err := cl.ok(); err != nil {
		verb, _, _ := strings.Cut(cmd, " ")
		return fmt.Errorf("%s: %w", verb, err)
	}
	return nil
}

// popLogin connects, says USER and PASS, and QUIT.
func popLogin(addr, user, pass string) error {
	cl, err := dialPOP(addr)
	if err != nil {
		return err
	}
	err = cl.do("USER " + user)
	if err == nil {
		err = cl.do("PASS " + pass)
	}
	if err != nil {
		cl.c.Close()
		return fmt.Errorf("POP3 login %s at %s: %w", user, addr, err)
	}
	return cl.quit()
}

func (cl *popClient) quit() error {
	err := cl.do("QUIT")
	cl.c.Close()
	return err
}
