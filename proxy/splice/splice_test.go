package splice_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/openmmp/mmp/proxy/proxytest"
	. "github.com/openmmp/mmp/proxy/splice"
)

// spliceSession starts a pipe between two loopback TCP connections and
// returns the test's ends: the client's and the store's.
func spliceSession(t *testing.T, idle time.Duration, fromClient, fromStore []byte) (client, store *net.TCPConn, done <-chan Result) {
	t.Helper()
	c, pc := proxytest.TCPPair(t)
	ps, s := proxytest.TCPPair(t)
	done = start(t, pc, ps, idle, fromClient, fromStore)
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s, done
}

// start runs Start and delivers its result on a channel.
func start(t *testing.T, client, store net.Conn, idle time.Duration, fromClient, fromStore []byte) <-chan Result {
	ch := make(chan Result, 1)
	pipe := Start(client, store, idle, fromClient, fromStore, func(r Result) { ch <- r })
	t.Cleanup(pipe.Stop)
	return ch
}

func wait(t *testing.T, done <-chan Result, within time.Duration) Result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(within):
		t.Fatalf("Splice did not return within %v", within)
	}
	return Result{}
}

// pump writes data to w and closes w's sending half, and reads r to the
// end, returning the digest of what it read.
func pump(t *testing.T, w *net.TCPConn, data []byte) chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		if err == nil {
			err = w.CloseWrite()
		}
		ch <- err
	}()
	return ch
}

func TestSpliceBothWays(t *testing.T) {
	up := make([]byte, 8<<20+17)
	down := make([]byte, 5<<20+3)
	rand.Read(up)
	rand.Read(down)
	c, s, done := spliceSession(t, time.Minute, []byte("A1 pending\r\n"), []byte("* pending\r\n"))
	e1 := pump(t, c, up)
	e2 := pump(t, s, down)
	gotUp, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	gotDown, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-e1; err != nil {
		t.Fatal(err)
	}
	if err := <-e2; err != nil {
		t.Fatal(err)
	}
	wantUp := append([]byte("A1 pending\r\n"), up...)
	wantDown := append([]byte("* pending\r\n"), down...)
	if sha256.Sum256(gotUp) != sha256.Sum256(wantUp) {
		t.Errorf("store received %d octets, want the %d sent (pending first)", len(gotUp), len(wantUp))
	}
	if sha256.Sum256(gotDown) != sha256.Sum256(wantDown) {
		t.Errorf("client received %d octets, want the %d sent (pending first)", len(gotDown), len(wantDown))
	}
	r := wait(t, done, 5*time.Second)
	if r.Err != nil || r.Idle {
		t.Errorf("Splice = %+v, want a clean close", r)
	}
	if r.FromClient != int64(len(wantUp)) || r.FromStore != int64(len(wantDown)) {
		t.Errorf("Splice counted %d/%d octets, want %d/%d", r.FromClient, r.FromStore, len(wantUp), len(wantDown))
	}
}

// A client that shuts down its sending half after LOGOUT must still get
// the store's reply: the pipe passes the half-close on and keeps the other
// direction open.
func TestSpliceHalfClose(t *testing.T) {
	c, s, done := spliceSession(t, time.Minute, nil, nil)
	io.WriteString(c, "a LOGOUT\r\n")
	c.CloseWrite()
	got, err := io.ReadAll(s) // ends at the passed-on half-close
	if err != nil || string(got) != "a LOGOUT\r\n" {
		t.Fatalf("store read %q, %v; want the command then end of stream", got, err)
	}
	select {
	case r := <-done:
		t.Fatalf("Splice returned %+v after one half-close; want the other direction kept", r)
	case <-time.After(50 * time.Millisecond):
	}
	io.WriteString(s, "* BYE\r\na OK\r\n")
	s.CloseWrite()
	got, err = io.ReadAll(c)
	if err != nil || string(got) != "* BYE\r\na OK\r\n" {
		t.Fatalf("client read %q, %v; want the reply then end of stream", got, err)
	}
	r := wait(t, done, 5*time.Second)
	if r.Err != nil || r.FromClient != 10 || r.FromStore != 13 {
		t.Errorf("Splice = %+v, want clean with 10/13 octets", r)
	}
}

func TestSpliceIdleTimeout(t *testing.T) {
	const idle = 600 * time.Millisecond
	c, s, done := spliceSession(t, idle, nil, nil)
	// Traffic in one direction only keeps the whole session alive.
	start := time.Now()
	var quiet time.Time
	for time.Since(start) < 2*idle {
		if _, err := io.WriteString(s, "* OK still here\r\n"); err != nil {
			t.Fatalf("write after %v: %v", time.Since(start), err)
		}
		buf := make([]byte, 64)
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("read after %v: %v (%+v)", time.Since(start), err, <-done)
		}
		quiet = time.Now()
		time.Sleep(idle / 10)
	}
	r := wait(t, done, 5*idle)
	if !r.Idle || r.Err != nil {
		t.Errorf("Splice = %+v, want an idle close", r)
	}
	if d := time.Since(quiet); d < idle*9/10 || d > 3*idle {
		t.Errorf("closed %v after the last data, want about %v", d, idle)
	}
	for _, conn := range []net.Conn{c, s} {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := conn.Read(make([]byte, 10)); err == nil {
			t.Errorf("read %d octets after the idle close, want end of stream", n)
		}
	}
}

// A reset from one side closes the session with an error.
func TestSpliceReset(t *testing.T) {
	c, s, done := spliceSession(t, time.Minute, nil, nil)
	s.SetLinger(0)
	s.Close()
	r := wait(t, done, 5*time.Second)
	if r.Err == nil {
		t.Errorf("Splice = %+v, want the reset reported", r)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("client still open after the store reset")
	}
}

// Connections that are not TCP (TLS later, net.Pipe here) are copied
// through pooled buffers; a TCP source feeding one waits on its socket.
func TestSpliceNotTCP(t *testing.T) {
	c, pc := net.Pipe()
	ps, s := proxytest.TCPPair(t)
	done := start(t, pc, ps, time.Minute, nil, nil)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	go func() {
		c.Write(data)
	}()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("store got %d octets (%v), want %d", len(got), err, len(data))
	}
	go s.Write(data)
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("client got %d octets (%v), want %d", len(got), err, len(data))
	}
	s.CloseWrite()
	c.Close()
	r := wait(t, done, 5*time.Second)
	if r.FromClient != int64(len(data)) || r.FromStore != int64(len(data)) {
		t.Errorf("Splice counted %d/%d, want %d both ways", r.FromClient, r.FromStore, len(data))
	}
}

// goroutineBaseline starts the poller, lets goroutines of earlier tests
// end, and returns how many are left: what a test's idle sessions add
// is measured against it.
func goroutineBaseline() int {
	StartPoller()
	proxytest.Settle(5*time.Second, func() bool { return true })
	return runtime.NumGoroutine()
}

// An idle session holds no goroutine, however many exchanges it had;
// the other side closing ends it, parked or not.
func TestSpliceIdleGoroutines(t *testing.T) {
	{
		const n = 20
		base := goroutineBaseline()
		type sess struct {
			c, s *net.TCPConn
			done <-chan Result
		}
		var ss []sess
		for range n {
			c, s, done := spliceSession(t, time.Minute, nil, nil)
			for _, m := range []string{"a NOOP\r\n", "a OK\r\n"} {
				src, dst := c, s
				if m[2] == 'O' && m[3] == 'K' {
					src, dst = s, c
				}
				io.WriteString(src, m)
				buf := make([]byte, len(m))
				if _, err := io.ReadFull(dst, buf); err != nil || string(buf) != m {
					t.Fatalf("echo %q: %q, %v", m, buf, err)
				}
			}
			ss = append(ss, sess{c, s, done})
		}
		want := 0
		var got int
		ok := proxytest.Settle(5*time.Second, func() bool {
			got = runtime.NumGoroutine() - base
			return got <= want
		})
		if !ok {
			t.Errorf("%d idle sessions hold %d goroutines, want at most %d", n, got, want)
		}
		// The other side closing ends the session, parked or not.
		for _, x := range ss {
			x.c.Close()
			x.s.Close()
			if r := wait(t, x.done, 5*time.Second); r.FromClient != 8 || r.FromStore != 6 {
				t.Errorf("Start = %+v, want 8/6 octets", r)
			}
		}
	}
}

// stop ends an idle session at once, as Server.Close must.
func TestSpliceStop(t *testing.T) {
	c, pc := proxytest.TCPPair(t)
	ps, s := proxytest.TCPPair(t)
	done := make(chan Result, 1)
	pipe := Start(pc, ps, time.Minute, []byte("A1 NOOP\r\n"), nil, func(r Result) { done <- r })
	time.Sleep(50 * time.Millisecond)
	if from, to := pipe.Counts(); from != 9 || to != 0 {
		t.Errorf("Counts = %d, %d, want the 9 pending octets and 0", from, to)
	}
	pipe.Stop()
	r := wait(t, done, 5*time.Second)
	if r.Idle || r.FromClient != 9 || r.FromStore != 0 {
		t.Errorf("Start after stop = %+v", r)
	}
	for conn, want := range map[net.Conn]string{c: "", s: "A1 NOOP\r\n"} {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		if got, err := io.ReadAll(conn); err != nil || string(got) != want {
			t.Errorf("read %q, %v after stop, want %q and end of stream", got, err, want)
		}
	}
}

// Small writes are relayed by read and write, large ones spliced; a
// direction switches between the two as the sizes change, and a small
// write that finds the destination full waits for it. Whatever the mix,
// the octets arrive in order.
func TestSpliceMixedSizes(t *testing.T) {
	c, s, done := spliceSession(t, time.Minute, nil, nil)
	sizes := []int{1, 14, 4095, 4096, 4097, 30, 100 << 10, 7, 64 << 10, 1, 3000, 1 << 20, 2}
	var data []byte
	for _, n := range sizes {
		b := make([]byte, n)
		rand.Read(b)
		data = append(data, b...)
	}
	for _, dir := range []struct {
		name     string
		src, dst *net.TCPConn
	}{{"client → store", c, s}, {"store → client", s, c}} {
		errc := make(chan error, 1)
		go func() {
			// Many small writes first, while the reader does not read, so
			// that the destination fills up under small reads.
			for range 2000 {
				if _, err := dir.src.Write([]byte("a NOOP\r\n")); err != nil {
					errc <- err
					return
				}
			}
			off := 0
			for i, n := range sizes {
				if _, err := dir.src.Write(data[off : off+n]); err != nil {
					errc <- err
					return
				}
				off += n
				if i%3 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			errc <- nil
		}()
		time.Sleep(100 * time.Millisecond)
		want := append(bytes.Repeat([]byte("a NOOP\r\n"), 2000), data...)
		got := make([]byte, len(want))
		dir.dst.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(dir.dst, got); err != nil {
			t.Fatalf("%s: %v", dir.name, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("%s: %v", dir.name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the octets arrived changed or out of order", dir.name)
		}
	}
	c.Close()
	s.Close()
	wait(t, done, 5*time.Second)
}

// A small write that finds the destination full waits for it without
// losing or reordering anything; so does the data queued behind it. The
// direction is parked when the lines start and they come 2 ms apart, so
// the poller relays them itself (wakeSmall) until the store is full.
func TestSpliceSmallWritesStalled(t *testing.T) {
	c, s, done := spliceSession(t, time.Minute, nil, nil)
	s.SetReadBuffer(1)                 // the kernel's minimum: the store fills up soon
	time.Sleep(300 * time.Millisecond) // both directions park
	var want []byte
	errc := make(chan error, 1)
	go func() {
		for i := range 400 {
			line := []byte(fmt.Sprintf("a%04d NOOP %090d\r\n", i, i))
			want = append(want, line...)
			if _, err := c.Write(line); err != nil {
				errc <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	s.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the octets arrived changed or out of order")
	}
	c.Close()
	s.Close()
	if r := wait(t, done, 5*time.Second); r.FromClient != int64(len(want)) {
		t.Errorf("Start counted %d octets from the client, want %d", r.FromClient, len(want))
	}
}

// End (a kick) stops both directions, writes the goodbye to the client
// and closes both sides: the client reads what the store had sent, then
// the goodbye, then end of stream; the store sees its connection end.
func TestSpliceEnd(t *testing.T) {
	c, pc := proxytest.TCPPair(t)
	ps, s := proxytest.TCPPair(t)
	done := make(chan Result, 1)
	pipe := Start(pc, ps, time.Minute, nil, []byte("* OK [CAPABILITY IMAP4rev1] Logged in\r\n"), func(r Result) { done <- r })
	t.Cleanup(pipe.Stop)
	io.WriteString(s, "* 3 EXISTS\r\n")
	io.WriteString(c, "a NOOP\r\n")
	buf := make([]byte, len("a NOOP\r\n"))
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(parkWait) // both directions park
	got, err := kick(t, pipe, done, c)
	want := "* OK [CAPABILITY IMAP4rev1] Logged in\r\n* 3 EXISTS\r\n* BYE Disconnected by the administrator\r\n"
	if err != nil || string(got) != want {
		t.Errorf("client read %q, %v; want %q and end of stream", got, err, want)
	}
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(s); len(rest) != 0 || err != nil && !isReset(err) {
		t.Errorf("store read %q, %v after End; want end of stream", rest, err)
	}
	pipe.End([]byte("again")) // a second End, or a Stop, does nothing
	pipe.Stop()
}

// kick ends the session with the administrator's goodbye (imsconnutil
// -k), checks that it closed cleanly and returns what the client read
// to the end of the stream.
func kick(t *testing.T, pipe Pipe, done <-chan Result, client net.Conn) ([]byte, error) {
	t.Helper()
	pipe.End([]byte("* BYE Disconnected by the administrator\r\n"))
	if r := wait(t, done, 5*time.Second); r.Err != nil || r.Idle {
		t.Errorf("Start after End = %+v, want a clean close", r)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	return io.ReadAll(client)
}

// parkWait is long enough for a quiet direction to park (parkAfter).
const parkWait = 400 * time.Millisecond

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// End while the store sends without pause: the client gets a prefix of
// the store's stream and then the goodbye, nothing after it.
func TestSpliceEndBusy(t *testing.T) {
	c, pc := proxytest.TCPPair(t)
	ps, s := proxytest.TCPPair(t)
	done := make(chan Result, 1)
	pipe := Start(pc, ps, time.Minute, nil, nil, func(r Result) { done <- r })
	t.Cleanup(pipe.Stop)
	line := []byte("* 1 FETCH (FLAGS (\\Seen))\r\n")
	go func() {
		for {
			if _, err := s.Write(line); err != nil {
				return
			}
		}
	}()
	read := make(chan []byte, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		read <- b
	}()
	time.Sleep(100 * time.Millisecond)
	bye := []byte("* BYE Disconnected by the administrator\r\n")
	pipe.End(bye)
	wait(t, done, 5*time.Second)
	got := <-read
	body, ok := bytes.CutSuffix(got, bye)
	if !ok {
		t.Fatalf("client read %d octets ending %q; want the goodbye last", len(got), got[max(0, len(got)-60):])
	}
	// The pipe cuts the store's stream where it stands (it reads no
	// lines), but nothing comes after the goodbye or inside what came.
	if !bytes.Equal(body, bytes.Repeat(line, len(body)/len(line)+1)[:len(body)]) {
		t.Errorf("client read %d octets before the goodbye, not the store's stream", len(body))
	}
}

// End on a client that reads nothing (its buffers full) still ends the
// session promptly: the goodbye is given up, the connections closed.
func TestSpliceEndStalled(t *testing.T) {
	c, pc := proxytest.TCPPair(t)
	ps, s := proxytest.TCPPair(t)
	done := make(chan Result, 1)
	pipe := Start(pc, ps, time.Minute, nil, nil, func(r Result) { done <- r })
	t.Cleanup(pipe.Stop)
	go func() {
		big := make([]byte, 1<<20)
		for {
			if _, err := s.Write(big); err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // the client's buffers fill
	pipe.End([]byte("* BYE Disconnected by the administrator\r\n"))
	wait(t, done, 5*time.Second)
	c.Close()
}

// A TLS client gets the goodbye inside TLS.
func TestSpliceEndTLS(t *testing.T) {
	cliTLS, s, pipe, done := tlsSession(t, []byte("+OK Logged in.\r\n"))
	io.WriteString(cliTLS, "STAT\r\n")
	buf := make([]byte, 6)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	got, _ := kick(t, pipe, done, cliTLS)
	if want := "+OK Logged in.\r\n* BYE Disconnected by the administrator\r\n"; string(got) != want {
		t.Errorf("TLS client read %q, want %q", got, want)
	}
}
