package who

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The admin socket. Each AService listens on a unix socket in its
// instance directory, DIR/run/AService-PID.sock (SocketPath), mode 0600
// and owned by the MMP's user, so that only that user and root can
// connect; the server also refuses any other peer by its credentials
// where the system tells them (SO_PEERCRED). The protocol is one JSON
// line each way per connection: a Request, then its Reply.

// Operations of a Request.
const (
	OpList = "list" // the logged-in sessions (imsconnutil -c)
	OpKick = "kick" // end the sessions of Users (imsconnutil -k)
	OpLast = "last" // the last logins and logouts (imsconnutil -a)
)

// Request is what imsconnutil asks an AService.
type Request struct {
	Op      string   `json:"op"`
	Users   []string `json:"users,omitempty"`   // the users concerned; none: everybody (not for kick)
	Service string   `json:"service,omitempty"` // list: only this service ("" all)
}

// Reply is an AService's answer.
type Reply struct {
	MMP      string    `json:"mmp"`
	Sessions []Session `json:"sessions,omitempty"` // list; kick: the sessions ended
	Access   []Access  `json:"access,omitempty"`   // last
	Error    string    `json:"error,omitempty"`
}

// SocketPath is the admin socket of the AService with pid in the
// instance directory dir.
func SocketPath(dir string, pid int) string {
	return filepath.Join(dir, "run", "AService-"+strconv.Itoa(pid)+".sock")
}

// Sockets lists the admin sockets of an instance directory, whatever
// process they belong to (some may be left by a process that was killed).
func Sockets(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "run", "AService-*.sock"))
	return m
}

// maxRequest bounds a request line.
const maxRequest = 1 << 20

// ioTimeout bounds one exchange on the socket.
const ioTimeout = 10 * time.Second

// Listen opens the admin socket at path, mode 0600, replacing a socket
// left there by a process that no longer runs.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("who: admin socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path) // our own pid's: a process of the past
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("who: admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("who: admin socket: %w", err)
	}
	// Close removes the file (net.UnixListener unlinks on Close).
	return ln, nil
}

// Serve answers requests on ln until it is closed, one goroutine per
// connection; handle runs the request.
func Serve(ln *net.UnixListener, handle func(Request) Reply) error {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serveConn(c, handle)
	}
}

func serveConn(c *net.UnixConn, handle func(Request) Reply) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	// The request is read before the peer is judged, even from one that
	// is refused: a refusal written and closed before the peer's request
	// came (or with it unread) failed the peer's write with a broken
	// pipe, and the peer never read why (TestPeerRefused).
	r := bufio.NewReaderSize(&limited{c, maxRequest}, 4096)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return
	}
	var rep Reply
	var req Request
	if err := peerAllowed(c); err != nil {
		rep.Error = err.Error()
	} else if json.Unmarshal(line, &req) != nil {
		rep.Error = "who: malformed request"
	} else {
		rep = handle(req)
	}
	b, _ := json.Marshal(rep)
	c.Write(append(b, '\n'))
}

// limited reads at most n octets.
type limited struct {
	c *net.UnixConn
	n int
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("who: request too long")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}

// ErrNotRunning is Ask's error for a socket nobody listens on: a process
// that was killed left it.
var ErrNotRunning = errors.New("no AService listens on it")

// Ask sends req to the admin socket at path and returns the reply.
func Ask(ctx context.Context, path string, req Request) (Reply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "connection refused") {
			return Reply{}, fmt.Errorf("%s: %w", path, ErrNotRunning)
		}
		return Reply{}, err
	}
	defer c.Close()
	dl := time.Now().Add(ioTimeout)
	if t, ok := ctx.Deadline(); ok && t.Before(dl) {
		dl = t
	}
	c.SetDeadline(dl)
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Reply{}, fmt.Errorf("%s: %w", path, err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return Reply{}, fmt.Errorf("%s: no answer: %w", path, err)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return Reply{}, fmt.Errorf("%s: malformed answer: %w", path, err)
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("%s: %s", path, rep.Error)
	}
	return rep, nil
}
