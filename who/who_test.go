package who

import (
	"context"
	"errors"

	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The table keeps at most its size in users, forgetting the one seen
// least recently, and a user's services separately.
func TestLastAccessBounded(t *testing.T) {
	la := NewLastAccess(3)
	t0 := time.Unix(1000, 0)
	for i, u := range []string{"a", "b", "c"} {
		la.Login(u, "imap", t0.Add(time.Duration(i)*time.Second))
	}
	la.Logout("A", "imap", t0.Add(10*time.Second)) // a is seen again: b is now the oldest
	la.Login("d", "pop", t0.Add(11*time.Second))
	got := la.Get(nil)
	var names []string
	for _, a := range got {
		names = append(names, a.User+"/"+a.Service)
	}
	if want := "A/imap c/imap d/pop"; strings.Join(names, " ") != want {
		t.Fatalf("Get(nil) = %v, want %s", names, want)
	}
	if a := la.Get(Match([]string{"a"})); len(a) != 1 || !a[0].Login.Equal(t0) || !a[0].Logout.Equal(t0.Add(10*time.Second)) {
		t.Errorf("Get(a) = %+v, want the login at %v and the logout 10 s later", a, t0)
	}
	la.Login("c", "pop", t0)
	if a := la.Get(Match([]string{"C"})); len(a) != 2 {
		t.Errorf("Get(C) = %+v, want imap and pop", a)
	}
}

func TestMergeAccess(t *testing.T) {
	t1, t2 := time.Unix(1, 0), time.Unix(2, 0)
	got := MergeAccess([]Access{
		{User: "alice", Service: "imap", Login: t2},
		{User: "Alice", Service: "imap", Login: t1, Logout: t2},
		{User: "alice", Service: "pop", Login: t1},
	})
	if len(got) != 2 || !got[0].Login.Equal(t2) || !got[0].Logout.Equal(t2) || got[1].Service != "pop" {
		t.Errorf("MergeAccess = %+v", got)
	}
}

// The admin socket: mode 0600, one JSON line each way; a socket left by
// a process that is gone is ErrNotRunning; a request too long is not
// read to its end.
func TestSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "who") // short: a socket path has 108 octets at most
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := SocketPath(dir, 42)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	if got := Sockets(dir); len(got) != 1 || got[0] != path {
		t.Errorf("Sockets = %v, want [%s]", got, path)
	}
	go Serve(ln, func(r Request) Reply {
		return Reply{MMP: "m1", Sessions: []Session{{User: strings.Join(r.Users, ","), Service: r.Service}}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := Ask(ctx, path, Request{Op: OpList, Users: []string{"alice"}, Service: "pop"})
	if err != nil || rep.MMP != "m1" || len(rep.Sessions) != 1 || rep.Sessions[0].User != "alice" || rep.Sessions[0].Service != "pop" {
		t.Errorf("Ask = %+v, %v", rep, err)
	}
	// Too long a request: no answer, the connection is closed.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go c.Write([]byte(strings.Repeat("x", maxRequest+10)))
	if b, _ := readAll(c); len(b) != 0 {
		t.Errorf("answer to an endless request: %q", b)
	}
	c.Close()
	ln.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	// A socket file nobody listens on (a killed process).
	l2, _ := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	l2.SetUnlinkOnClose(false)
	l2.Close()
	if _, err := Ask(ctx, path, Request{Op: OpList}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Ask on a dead socket: %v, want ErrNotRunning", err)
	}
	if _, err := Ask(ctx, filepath.Join(dir, "none.sock"), Request{Op: OpList}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Ask on no socket: %v, want ErrNotRunning", err)
	}
}

func readAll(c net.Conn) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}
