package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// echoStore is a store that sends back what it receives.
func echoStore(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Not io.Copy(c, c): that splices and keeps a pipe while
				// it waits, which would hide the proxy's own descriptors.
				io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096))
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// linkProto is a minimal Protocol: it reads one line naming nothing in
// particular, connects to a fixed store and hands over.
type linkProto struct {
	store    string
	panicky  bool
	internal atomic.Int32
	values   chan *config.Values
}

func (p *linkProto) Login(ctx context.Context, s *proxy.Session) (*proxy.Store, error) {
	if p.values != nil {
		p.values <- s.Values
	}
	if p.panicky {
		panic("boom")
	}
	s.SetIdleDeadline()
	r := bufio.NewReader(s.Client)
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, nil
	}
	if strings.TrimSpace(line) == "QUIT" {
		return nil, nil
	}
	c, err := s.DialStore(ctx, p.store)
	if err != nil {
		return nil, err
	}
	s.Client.SetReadDeadline(time.Time{})
	rest, _ := r.Peek(r.Buffered())
	return &proxy.Store{Conn: c, Addr: p.store, Login: "test", FromClient: []byte(line + string(rest))}, nil
}

func (p *linkProto) Refuse(s *proxy.Session, msg string) {
	io.WriteString(s.Client, "REFUSED "+msg+"\r\n")
}

func (p *linkProto) InternalError(s *proxy.Session) {
	p.internal.Add(1)
	io.WriteString(s.Client, "* BYE internal error\r\n")
}

func startServer(t *testing.T, p proxy.Protocol, settings map[string]string) (*proxy.Server, string) {
	t.Helper()
	svc := proxytest.Service(t, settings, "")
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: p})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-served:
			if !errors.Is(err, proxy.ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return srv, ln.Addr().String()
}

// roundTrip logs in through the link protocol and checks an echo.
func roundTrip(t testing.TB, addr, msg string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg)+1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg+"\n" {
		t.Fatalf("echo of %q = %q, %v", msg, buf, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

// After a thousand sessions, goroutines and descriptors are back where
// they started: nothing outlives its session.
func TestNoLeakAfterThousandSessions(t *testing.T) {
	store := echoStore(t)
	srv, addr := startServer(t, &linkProto{store: store}, manyClients)
	roundTrip(t, addr, "warm-up").Close() // pools and the runtime's own goroutines
	proxytest.Settle(5*time.Second, func() bool { return srv.Sessions() == 0 })
	baseG := runtime.NumGoroutine()
	baseFD := proxytest.FDs(t)

	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := roundTrip(t, addr, fmt.Sprintf("session %d %s", i, strings.Repeat("x", i)))
			if i%2 == 0 {
				c.(*net.TCPConn).CloseWrite() // half-close first, then read the end
				io.Copy(io.Discard, c)
			}
			c.Close()
		}()
	}
	wg.Wait()
	ok := proxytest.Settle(10*time.Second, func() bool {
		return srv.Sessions() == 0 && runtime.NumGoroutine() <= baseG && proxytest.Total(proxytest.FDs(t)) <= proxytest.Total(baseFD)
	})
	if !ok {
		t.Errorf("after 1000 sessions: %d sessions, %d goroutines (baseline %d), descriptors %v (baseline %v)",
			srv.Sessions(), runtime.NumGoroutine(), baseG, proxytest.FDs(t), baseFD)
	}
}

// An idle logged-in session holds its two sockets and nothing else: no
// splice pipe, no copy buffer, two goroutines.
func TestIdleSessionHoldsTwoSockets(t *testing.T) {
	store := echoStore(t)
	srv, addr := startServer(t, &linkProto{store: store}, manyClients)
	// Standard output and error are pipes under go test: count pipes
	// from a baseline taken before any splice.
	base := proxytest.FDs(t)
	roundTrip(t, addr, "warm-up").Close()
	proxytest.Settle(5*time.Second, func() bool {
		return srv.Sessions() == 0 && proxytest.FDs(t)["pipe"] <= base["pipe"]
	})
	base = proxytest.FDs(t)
	baseG := runtime.NumGoroutine()

	const n = 50
	var conns []net.Conn
	for i := range n {
		// Enough data both ways that every direction has spliced.
		c := roundTrip(t, addr, fmt.Sprintf("%d %s", i, strings.Repeat("y", 100<<10)))
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Right after the traffic, only the few pipes of Go's pool exist, not
	// one per direction (4 descriptors per session) as a plainly spliced
	// session would hold.
	if p := proxytest.FDs(t)["pipe"] - base["pipe"]; p >= n {
		t.Errorf("%d pipe descriptors with %d idle sessions; want only the pool's few", p, n)
	}
	var now map[string]int
	proxytest.Settle(5*time.Second, func() bool {
		now = proxytest.FDs(t)
		return now["pipe"] <= base["pipe"]
	})
	// Per session: the test's client end, the proxy's two sockets, and the
	// echo store's end.
	if got, want := now["socket"]-base["socket"], 4*n; got != want {
		t.Errorf("%d idle sessions added %d sockets, want %d (2 of them the proxy's per session)", n, got, want)
	}
	if d := now["pipe"] - base["pipe"]; d > 0 {
		t.Errorf("%d pipe descriptors held by idle sessions, want 0", d)
	}
	for k, v := range now {
		if k != "socket" && k != "pipe" && v > base[k] {
			t.Errorf("idle sessions added %d %s descriptors", v-base[k], k)
		}
	}
	// Per session: the proxy's two directions and the echo store's copier.
	if got := runtime.NumGoroutine() - baseG; got > 3*n {
		t.Errorf("%d idle sessions added %d goroutines, want at most %d", n, got, 3*n)
	}
}

func TestShutdownWaitsThenCloses(t *testing.T) {
	store := echoStore(t)
	srv, addr := startServer(t, &linkProto{store: store}, nil)
	c := roundTrip(t, addr, "busy")
	defer c.Close()

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a busy session = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before the grace period", d)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("session still open after the grace period")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

func TestShutdownLetsSessionsFinish(t *testing.T) {
	store := echoStore(t)
	srv, addr := startServer(t, &linkProto{store: store}, nil)
	c := roundTrip(t, addr, "short")
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v, want nil when the session ends by itself", err)
	}
}

func TestCloseEndsEverySession(t *testing.T) {
	store := echoStore(t)
	srv, addr := startServer(t, &linkProto{store: store}, nil)
	piped := roundTrip(t, addr, "piped")
	waiting, err := net.Dial("tcp", addr) // still in the protocol's dialogue
	if err != nil {
		t.Fatal(err)
	}
	proxytest.Settle(5*time.Second, func() bool { return srv.Sessions() == 2 })
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, c := range []net.Conn{piped, waiting} {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a session survived Close")
		}
	}
}

func TestPanicCostsOneConnection(t *testing.T) {
	p := &linkProto{panicky: true}
	srv, addr := startServer(t, p, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if string(got) != "* BYE internal error\r\n" {
		t.Errorf("after a panic the client read %q, want the internal-error reply", got)
	}
	if p.internal.Load() != 1 {
		t.Errorf("InternalError called %d times, want 1", p.internal.Load())
	}
	proxytest.Settle(5*time.Second, func() bool { return srv.Sessions() == 0 })
	if srv.Sessions() != 0 {
		t.Error("the panicked session is still registered")
	}
}

// A refresh changes the values of new sessions only.
func TestUpdateKeepsRunningSessionsValues(t *testing.T) {
	store := echoStore(t)
	p := &linkProto{store: store, values: make(chan *config.Values, 2)}
	srv, addr := startServer(t, p, map[string]string{"Timeout": "1800"})
	c1 := roundTrip(t, addr, "first")
	defer c1.Close()
	v1 := <-p.values
	srv.Update(proxytest.Service(t, map[string]string{"Timeout": "600"}, ""))
	c2 := roundTrip(t, addr, "second")
	defer c2.Close()
	v2 := <-p.values
	if v1 == v2 {
		t.Fatal("the session after Update got the old values")
	}
	if got := v1.Raw(paramTimeout()); got != "1800" {
		t.Errorf("first session's Timeout = %s, want 1800", got)
	}
	if got := v2.Raw(paramTimeout()); got != "600" {
		t.Errorf("second session's Timeout = %s, want 600", got)
	}
}

// A client that says nothing for Timeout before login is dropped.
func TestTimeoutBeforeLogin(t *testing.T) {
	srv, addr := startServer(t, &linkProto{store: "127.0.0.1:1"}, map[string]string{"Timeout": "1"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from a silent session")
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("silent client dropped after %v, want about 1s", d)
	}
	proxytest.Settle(5*time.Second, func() bool { return srv.Sessions() == 0 })
}

func paramTimeout() *param.Param { return param.Timeout.Param }

// manyClients lifts the per-address connection limit (default 20) for
// tests that open many sessions from 127.0.0.1 at once.
var manyClients = map[string]string{"ConnLimits": "0.0.0.0|0.0.0.0:100000"}

// cleanupProto is linkProto that tells, through gone, when the Session
// it logged in is garbage.
type cleanupProto struct {
	linkProto
	gone chan uint64
}

func (p *cleanupProto) Login(ctx context.Context, s *proxy.Session) (*proxy.Store, error) {
	runtime.AddCleanup(s, func(id uint64) { p.gone <- id }, s.ID)
	return p.linkProto.Login(ctx, s)
}

// An idle logged-in session keeps only what the pipe needs: the Session
// of the login, its logger, values and pre-login state are garbage once
// the pipe owns the connections (docs/benchmarks.md, "The login's state
// left behind at the hand-off"), while the session still relays, is
// counted and ends as before.
func TestLoggedInSessionDropsLoginState(t *testing.T) {
	store := echoStore(t)
	p := &cleanupProto{linkProto: linkProto{store: store}, gone: make(chan uint64, 16)}
	srv, addr := startServer(t, p, manyClients)
	c := roundTrip(t, addr, "first")
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-p.gone:
			done = true
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("the Session of a logged-in idle session is still reachable 10 s after its login")
			}
		}
	}
	// Still a session: it relays, is counted, and ends when the client leaves.
	io.WriteString(c, "again\n")
	buf := make([]byte, 6)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "again\n" {
		t.Fatalf("echo after the login state was dropped: %q, %v", buf, err)
	}
	if n := srv.Sessions(); n != 1 {
		t.Errorf("Sessions() = %d with one logged-in session", n)
	}
	c.Close()
	if !proxytest.Settle(5*time.Second, func() bool { return srv.Sessions() == 0 }) {
		t.Errorf("Sessions() = %d after the client closed", srv.Sessions())
	}
}
