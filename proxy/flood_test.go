package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// The attack: idle connections that never log in, from many addresses,
// each under ConnLimits, until the process has no descriptor left; then
// accept fails with EMFILE, and new logins time out. These tests flood a
// real ImapProxy in front of a real Dovecot while a client logs in again
// and again, and a user logged in before the flood keeps working.

// floodConn is one connection of the flood: it sends nothing and reads
// what it is told until the server closes it.
type floodConn struct {
	c      net.Conn
	closed chan struct{} // the server closed it
	bye    atomic.Bool   // and said why
}

// flood opens n idle connections to addr, rate per second, spread over the
// loopback addresses 127.0.0.2 and up, perAddr from each so that ConnLimits
// does not stop them. Cleanup closes them.
func flood(t *testing.T, addr string, n, rate, perAddr int) []*floodConn {
	t.Helper()
	testenv.NeedLoopback(t, "127.0.0.2", fmt.Sprintf("127.0.0.%d", 2+(n-1)/perAddr))
	conns := make([]*floodConn, 0, n)
	t.Cleanup(func() {
		for _, f := range conns {
			if f.c != nil {
				f.c.Close()
			}
		}
	})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	batch := max(rate/100, 1)
	for len(conns) < n {
		<-tick.C
		for range min(batch, n-len(conns)) {
			i := len(conns)
			f := &floodConn{closed: make(chan struct{})}
			conns = append(conns, f)
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i/perAddr))}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				close(f.closed) // refused outright counts as closed
				continue
			}
			f.c = c
			go func() {
				defer close(f.closed)
				b, _ := io.ReadAll(c)
				f.bye.Store(strings.Contains(string(b), "* BYE"))
			}()
		}
	}
	return conns
}

// loginLoop logs alice in and out on new connections from 127.0.0.1 until
// stop is closed, and returns how many logins succeeded and the failures.
func loginLoop(addr string, stop <-chan struct{}) (ok int, failures []string) {
	for {
		select {
		case <-stop:
			return ok, failures
		default:
		}
		if err := loginOnce(addr); err != nil {
			failures = append(failures, err.Error())
		} else {
			ok++
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loginOnce(addr string) error {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			return fmt.Sprintf("(%v after %v)", err, time.Since(start).Round(time.Millisecond))
		}
		return strings.TrimSpace(l)
	}
	if g := line(); !strings.HasPrefix(g, "* OK") {
		return fmt.Errorf("greeting %q", g)
	}
	io.WriteString(c, "a LOGIN alice alicepw\r\n")
	for {
		l := line()
		if strings.HasPrefix(l, "a OK") {
			break
		}
		if !strings.HasPrefix(l, "* ") {
			return fmt.Errorf("LOGIN: %q", l)
		}
	}
	io.WriteString(c, "b LOGOUT\r\n")
	return nil
}

// noop checks that a logged-in session still answers.
func noop(c net.Conn, r *bufio.Reader) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "n NOOP\r\n")
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(l, "n OK") {
			return nil
		}
	}
}

// imapStoreServer serves IMAP in front of store for alice (alicepw).
func imapStoreServer(t *testing.T, store string, limits *proxy.Limits) (*proxy.Server, string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(store)
	dir := &proxytest.Directory{}
	dir.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{"127.0.0.1"}})
	svc := proxytest.Service(t, map[string]string{"BacksidePort": port, "BGExcluded": "127.0.0.0/8"}, "")
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: imapproxy.New(imapproxy.Options{Host: "mmp"}),
		Directory: dir, Limits: limits})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

// loggedIn logs alice in on a connection kept for the whole test.
func loggedIn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r.ReadString('\n')
	io.WriteString(c, "a LOGIN alice alicepw\r\n")
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("login before the flood: %v", err)
		}
		if strings.HasPrefix(l, "a ") {
			if !strings.HasPrefix(l, "a OK") {
				t.Fatalf("login before the flood: %q", l)
			}
			return c, r
		}
	}
}

// floodAndLogin runs the flood and the login loop together and checks
// what the users saw: every login succeeded, the session logged in before
// the flood still answers, and the flood's oldest connections were closed
// (with a goodbye) while its newest are still open.
func floodAndLogin(t *testing.T, addr string, n, rate int) []*floodConn {
	t.Helper()
	before, beforeR := loggedIn(t, addr)
	stop := make(chan struct{})
	type result struct {
		ok       int
		failures []string
	}
	done := make(chan result)
	go func() {
		ok, failures := loginLoop(addr, stop)
		done <- result{ok, failures}
	}()
	conns := flood(t, addr, n, rate, 20)
	time.Sleep(time.Second) // logins go on against the full cap
	close(stop)
	res := <-done
	t.Logf("%d logins during the flood of %d connections, %d failed", res.ok, n, len(res.failures))
	if len(res.failures) > 0 || res.ok < 10 {
		t.Errorf("during the flood %d logins succeeded and %d failed: %q", res.ok, len(res.failures), res.failures[:min(len(res.failures), 5)])
	}
	if err := noop(before, beforeR); err != nil {
		t.Errorf("the session logged in before the flood: %v", err)
	}
	return conns
}

// checkOldestClosed checks that the first connections of the flood were
// closed and told, and that the last ones are still open.
func checkOldestClosed(t *testing.T, conns []*floodConn, oldest, newest int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for i, f := range conns[:oldest] {
		select {
		case <-f.closed:
		case <-deadline:
			t.Fatalf("flood connection %d of the %d oldest is still open", i, oldest)
		}
		if f.c != nil && !f.bye.Load() {
			t.Errorf("flood connection %d was closed without * BYE", i)
		}
	}
	for i, f := range conns[len(conns)-newest:] {
		select {
		case <-f.closed:
			t.Errorf("flood connection %d of the %d newest was closed", len(conns)-newest+i, newest)
		default:
		}
	}
}

// With caps of 400 connections and 200 not logged in, a flood of 3,000
// idle connections cycles through the 200 while logins go on.
func TestPreLoginFlood(t *testing.T) {
	store := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"))
	limits := proxy.NewLimits(400, 200)
	srv, addr := imapStoreServer(t, store.IMAPAddr(), limits)
	var peak atomic.Int32
	watch := make(chan struct{})
	go func() {
		for {
			select {
			case <-watch:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if _, pre := limits.Counts(); int32(pre) > peak.Load() {
				peak.Store(int32(pre))
			}
		}
	}()
	conns := floodAndLogin(t, addr, 3000, 1000)
	close(watch)
	if p := peak.Load(); p > 200 {
		t.Errorf("%d connections not logged in at once, over MaxPreLoginConnections 200", p)
	}
	if n := srv.Sessions(); n > 200+2 {
		t.Errorf("%d sessions open after the flood, want at most the cap and the logged-in one", n)
	}
	checkOldestClosed(t, conns, 2000, 100)
	if idle, _ := limits.Closed(); idle < 2700 {
		t.Errorf("%d idle connections closed for new ones, want the flood less the cap", idle)
	}
}

// floodChild is the environment variable that makes
// TestPreLoginFloodAtDescriptorLimit the MMP process: its value is the
// store's address.
const floodChild = "OPENMMP_FLOOD_CHILD"

// childNOFILE is the child's descriptor limit: small, so that a few
// hundred connections exhaust it.
const childNOFILE = 500

// The attack itself, at a real descriptor limit and with the default
// caps, derived from it: the MMP runs in a process of its own whose
// RLIMIT_NOFILE is 500, and 1,500 idle connections arrive. Without caps,
// accept fails with EMFILE once the table is full and logins hang.
func TestPreLoginFloodAtDescriptorLimit(t *testing.T) {
	if store := os.Getenv(floodChild); store != "" {
		floodChildMain(t, store)
		return
	}
	store := dovecot.Start(t, dovecot.WithUser("alice", "alicepw"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestPreLoginFloodAtDescriptorLimit$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), floodChild+"="+store.IMAPAddr())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the child exits when its standard input ends
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Error("the MMP process did not exit")
		}
	})
	out := bufio.NewReader(stdout)
	var addr string
	for addr == "" {
		l, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("the MMP process did not say where it listens: %v", err)
		}
		addr, _ = strings.CutPrefix(strings.TrimSpace(l), "LISTENING ")
	}
	go io.Copy(io.Discard, out)
	conns := floodAndLogin(t, addr, 1500, 500)
	_, pre := proxy.DerivedCaps(childNOFILE)
	checkOldestClosed(t, conns, 1500-pre-50, 20)
}

// floodChildMain is the MMP process of TestPreLoginFloodAtDescriptorLimit:
// it lowers its descriptor limit, serves with the default (derived) caps,
// prints its address and runs until its standard input ends.
func floodChildMain(t *testing.T, store string) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	r.Cur = childNOFILE
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	_, addr := imapStoreServer(t, store, nil)
	fmt.Println("LISTENING " + addr)
	io.Copy(io.Discard, os.Stdin)
}

// heldDirectory holds every lookup until release is closed.
type heldDirectory struct {
	*proxytest.Directory
	release chan struct{}
	waiting atomic.Int32
}

func (d *heldDirectory) Lookup(ctx context.Context, q account.Query) (*account.User, error) {
	d.waiting.Add(1)
	select {
	case <-d.release:
	case <-ctx.Done():
	}
	return d.Directory.Lookup(ctx, q)
}

// At the cap, the connection waiting longest for its client goes: not
// the oldest if it has spoken since, and never one whose login is being
// decided. When every connection is deciding a login, the new one is
// turned away.
func TestPreLoginCapChoosesIdleLongest(t *testing.T) {
	dir := &heldDirectory{Directory: &proxytest.Directory{}, release: make(chan struct{})}
	svc := proxytest.Service(t, map[string]string{"BGExcluded": "127.0.0.0/8"}, "")
	limits := proxy.NewLimits(10, 3)
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: imapproxy.New(imapproxy.Options{Host: "mmp"}),
		Directory: dir, Limits: limits})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	released := false
	release := func() {
		if !released {
			released = true
			close(dir.release)
		}
	}
	t.Cleanup(release)

	dial := func() *proxytest.Client {
		cl := proxytest.Dial(t, addr, "")
		cl.ExpectPrefix("* OK")
		time.Sleep(20 * time.Millisecond) // distinct idle times
		return cl
	}
	gone := func(cl *proxytest.Client) bool {
		cl.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		l, err := cl.R.ReadString('\n')
		return err == nil && strings.HasPrefix(l, "* BYE Too many connections")
	}
	stays := func(cl *proxytest.Client) bool {
		cl.Conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := cl.R.ReadByte()
		return err != nil && os.IsTimeout(err)
	}
	a := dial()
	f := dial()
	b := dial()
	b.Send("b LOGIN alice alicepw\r\n")
	for dir.waiting.Load() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	a.Do("a NOOP", "a OK NOOP completed") // a has spoken since f was accepted
	c := dial()                           // the cap of 3: f, idle longest, goes
	if !gone(f) {
		t.Error("f, idle longest, was not closed")
	}
	d := dial() // then a
	if !gone(a) {
		t.Error("a was not closed next")
	}
	if !stays(b) || !stays(c) || !stays(d) {
		t.Error("a connection other than the idle longest was closed")
	}
	// b is deciding its login; c and d send theirs: nobody is idle.
	c.Send("c LOGIN alice alicepw\r\n")
	d.Send("d LOGIN alice alicepw\r\n")
	for dir.waiting.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	e := proxytest.Dial(t, addr, "")
	if l := e.Line(); l != "* BYE Too many connections; try again later" {
		t.Errorf("with every login being decided, a new connection read %q", l)
	}
	e.Closed()
	release()
	b.ExpectPrefix("b NO")
	if _, refused := limits.Closed(); refused != 1 {
		t.Errorf("%d connections refused, want 1", refused)
	}
}
