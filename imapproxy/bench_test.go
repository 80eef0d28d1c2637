package imapproxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// The benchmarks compare the MMP with a client talking to Dovecot
// directly, on loopback, with the directory replaced by an in-memory
// Router so that only the proxy's own cost is measured:
//
//	go test -run '^$' -bench . -benchtime 5s ./imapproxy/
//
// The benchmark the project records (docs/benchmarks.md) is bench/: the
// real ImapProxy as a separate process, slapd as the directory, memory
// per idle session; these are the quicker in-process ones.
//
// BenchmarkLogin: connect, greeting, LOGIN, LOGOUT with 16 concurrent
// clients (16 users: Dovecot limits connections per user and address).
// BenchmarkFetch10MB / BenchmarkAppend10MB: one 10 MB message each way.
// BenchmarkNoop: NOOP round trips of one logged-in session, p50 and p99.

const (
	benchUsers = 16
	bigSize    = 10 << 20
)

type benchEnv struct {
	store *dovecot.Server
	proxy string
}

// bigMessage is an RFC 822 message of bigSize octets.
func bigMessage() string {
	head := "From: bench@example.com\r\nSubject: big\r\n\r\n"
	line := strings.Repeat("x", 998) + "\r\n"
	var b strings.Builder
	b.WriteString(head)
	for b.Len()+len(line) <= bigSize {
		b.WriteString(line)
	}
	b.WriteString(strings.Repeat("y", bigSize-b.Len()))
	return b.String()
}

// startBench starts Dovecot with the benchmark users and a proxy in front
// of it, for one top-level benchmark.
func startBench(b *testing.B) *benchEnv {
	b.Helper()
	var opts []dovecot.Option
	for i := range benchUsers {
		opts = append(opts, dovecot.WithUser(fmt.Sprintf("user%d", i), "pw"))
	}
	opts = append(opts, dovecot.WithMessage("user0", bigMessage()))
	store := dovecot.Start(b, opts...)
	svc := proxytest.Service(b, map[string]string{"BacksidePort": strconv.Itoa(store.IMAPPort)}, "")
	router := &proxytest.Directory{}
	for i := range benchUsers {
		router.SetUser(fmt.Sprintf("user%d", i), &account.User{DN: "uid=x", MailHosts: []string{store.Host}})
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: imapproxy.New(imapproxy.Options{}), Directory: router})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return &benchEnv{store: store, proxy: ln.Addr().String()}
}

func (e *benchEnv) targets() []struct{ name, addr string } {
	return []struct{ name, addr string }{{"direct", e.store.IMAPAddr()}, {"proxy", e.proxy}}
}

// benchConn is a minimal IMAP client.
type benchConn struct {
	c   net.Conn
	r   *bufio.Reader
	seq int
}

func benchDial(tb testing.TB, addr string) *benchConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	bc := &benchConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	if _, err := bc.r.ReadString('\n'); err != nil {
		tb.Fatal(err)
	}
	return bc
}

// do sends a command and reads to its tagged reply, skipping literals.
func (bc *benchConn) do(tb testing.TB, cmd string) string {
	bc.seq++
	tag := "b" + strconv.Itoa(bc.seq)
	if _, err := io.WriteString(bc.c, tag+" "+cmd+"\r\n"); err != nil {
		tb.Fatal(err)
	}
	return bc.tagged(tb, tag)
}

func (bc *benchConn) tagged(tb testing.TB, tag string) string {
	for {
		l, err := bc.r.ReadString('\n')
		if err != nil {
			tb.Fatalf("%s: %v", tag, err)
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l[len(tag)+1:], "OK") {
				tb.Fatalf("%s", l)
			}
			return l
		}
		if n, _, ok := literalAtEnd(strings.TrimRight(l, "\r\n")); ok && n >= 0 {
			if _, err := io.CopyN(io.Discard, bc.r, int64(n)); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func BenchmarkLogin(b *testing.B) {
	for _, tg := range startBench(b).targets() {
		b.Run(tg.name, func(b *testing.B) {
			var next atomic.Int32
			b.SetParallelism((benchUsers + 1) / max(1, runtimeProcs()))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				user := fmt.Sprintf("user%d", int(next.Add(1)-1)%benchUsers)
				for pb.Next() {
					bc := benchDial(b, tg.addr)
					bc.do(b, "LOGIN "+user+" pw")
					bc.do(b, "LOGOUT")
					bc.c.Close()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
		})
	}
}

func BenchmarkFetch10MB(b *testing.B) {
	for _, tg := range startBench(b).targets() {
		b.Run(tg.name, func(b *testing.B) {
			bc := benchDial(b, tg.addr)
			defer bc.c.Close()
			bc.do(b, "LOGIN user0 pw")
			bc.do(b, "EXAMINE INBOX")
			b.SetBytes(bigSize)
			b.ResetTimer()
			for range b.N {
				bc.do(b, "FETCH 1 BODY.PEEK[]")
			}
		})
	}
}

func BenchmarkAppend10MB(b *testing.B) {
	msg := []byte(bigMessage())
	for _, tg := range startBench(b).targets() {
		b.Run(tg.name, func(b *testing.B) {
			bc := benchDial(b, tg.addr)
			defer bc.c.Close()
			bc.do(b, "LOGIN user1 pw")
			b.SetBytes(bigSize)
			b.ResetTimer()
			for range b.N {
				bc.seq++
				tag := "b" + strconv.Itoa(bc.seq)
				fmt.Fprintf(bc.c, "%s APPEND INBOX {%d+}\r\n", tag, len(msg))
				if _, err := bc.c.Write(msg); err != nil {
					b.Fatal(err)
				}
				io.WriteString(bc.c, "\r\n")
				bc.tagged(b, tag)
			}
			b.StopTimer()
			bc.do(b, "SELECT INBOX")
			bc.do(b, "STORE 1:* +FLAGS (\\Deleted)")
			bc.do(b, "EXPUNGE")
		})
	}
}

func BenchmarkNoop(b *testing.B) {
	for _, tg := range startBench(b).targets() {
		b.Run(tg.name, func(b *testing.B) {
			bc := benchDial(b, tg.addr)
			defer bc.c.Close()
			bc.do(b, "LOGIN user2 pw")
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				bc.do(b, "NOOP")
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkLoginFakeStore is BenchmarkLogin against the in-process fake
// store, which answers at once: it shows the proxy's own cost per login
// (greeting, lookup, connect, replay, handing over to the pipe), which
// Dovecot's forking login processes hide in BenchmarkLogin.
func BenchmarkLoginFakeStore(b *testing.B) {
	users := map[string]string{}
	for i := range benchUsers {
		users[fmt.Sprintf("user%d", i)] = "pw"
	}
	h := start(b, setup{users: users})
	for _, tg := range []struct{ name, addr string }{{"direct", h.store.addr()}, {"proxy", h.addr}} {
		b.Run(tg.name, func(b *testing.B) {
			var next atomic.Int32
			b.SetParallelism((benchUsers + 1) / max(1, runtimeProcs()))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				user := fmt.Sprintf("user%d", int(next.Add(1)-1)%benchUsers)
				for pb.Next() {
					bc := benchDial(b, tg.addr)
					bc.do(b, "LOGIN "+user+" pw")
					bc.do(b, "LOGOUT")
					bc.c.Close()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
		})
	}
}
