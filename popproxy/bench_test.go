package popproxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// The benchmarks compare the MMP with a client talking to Dovecot
// directly, on loopback, with the directory replaced by an in-memory
// Router so that only the proxy's own cost is measured:
//
//	go test -run '^$' -bench . -benchtime 5s ./popproxy/
//
// BenchmarkLogin: connect, greeting, USER, PASS, QUIT with 16 concurrent
// clients (16 users: Dovecot limits connections per user and address).
// BenchmarkLoginFakeStore: the same against the in-process fake store,
// which answers at once, to show the proxy's own cost per login.

const benchUsers = 16

// benchConnLimits lifts the per-address connection limit (20 by default):
// every benchmark client comes from 127.0.0.1, and sessions whose client
// has just quit are still counted for a moment.
const benchConnLimits = "0.0.0.0|0.0.0.0:1000"

// benchLogin logs in with USER/PASS and quits.
func benchLogin(tb testing.TB, addr, user, pass string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	expect := func() {
		l, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "+OK") {
			tb.Fatalf("%q, %v", l, err)
		}
	}
	expect()
	io.WriteString(c, "USER "+user+"\r\n")
	expect()
	io.WriteString(c, "PASS "+pass+"\r\n")
	expect()
	io.WriteString(c, "QUIT\r\n")
	expect()
}

// runLogins runs benchLogin from 16 goroutines, one user each.
func runLogins(b *testing.B, addr string) {
	var next atomic.Int32
	b.SetParallelism((benchUsers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		user := fmt.Sprintf("user%d", int(next.Add(1)-1)%benchUsers)
		for pb.Next() {
			benchLogin(b, addr, user, "pw")
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

func BenchmarkLogin(b *testing.B) {
	var opts []dovecot.Option
	for i := range benchUsers {
		opts = append(opts, dovecot.WithUser(fmt.Sprintf("user%d", i), "pw"), dovecot.WithMessage(fmt.Sprintf("user%d", i), "Subject: hi\r\n\r\nhello\r\n"))
	}
	store := dovecot.Start(b, opts...)
	svc := popService(b, map[string]string{"BacksidePort": strconv.Itoa(store.POP3Port), "ConnLimits": benchConnLimits}, "")
	router := &proxytest.Directory{}
	for i := range benchUsers {
		router.SetUser(fmt.Sprintf("user%d", i), &account.User{DN: "uid=x", MailHosts: []string{store.Host}})
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: popproxy.New(popproxy.Options{}), Directory: router})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	for _, tg := range []struct{ name, addr string }{{"direct", store.POP3Addr()}, {"proxy", ln.Addr().String()}} {
		b.Run(tg.name, func(b *testing.B) { runLogins(b, tg.addr) })
	}
}

func BenchmarkLoginFakeStore(b *testing.B) {
	users := map[string]string{}
	for i := range benchUsers {
		users[fmt.Sprintf("user%d", i)] = "pw"
	}
	h := start(b, setup{users: users, settings: map[string]string{"LogLevel": "1", "ConnLimits": benchConnLimits}})
	for _, tg := range []struct{ name, addr string }{{"direct", h.store.addr()}, {"proxy", h.addr}} {
		b.Run(tg.name, func(b *testing.B) { runLogins(b, tg.addr) })
	}
}
