package bench

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

var flagFocus = flag.String("focus", "", "BenchmarkFocus: noop, fetch, idle or logins")

// BenchmarkFocus measures one row of BenchmarkMMP alone, for trying a
// change: with -focus noop the NOOP round trip (p50, p90, p99) and with
// -focus fetch the 10 MiB FETCH, each on one logged-in connection direct,
// through nginx and through the MMP: -noops round trips each way, one
// each way in turn, or -rounds alternating FETCH rounds of -fetchtime.
// With -focus idle, the resident memory per idle logged-in session of
// the MMP and of nginx's worker, in clear text and over implicit TLS
// (-sessions each). With -focus logins, IMAP and POP3 logins per second
// with -clients clients, -rounds alternating rounds of -logintime, and
// what a login costs each process: the proxy, the store, the client.
// Without -focus it does nothing, so that -bench . runs only
// BenchmarkMMP.
//
//	go test -run '^$' -bench Focus ./bench/ -focus noop -noops 3000
func BenchmarkFocus(b *testing.B) {
	if !slices.Contains([]string{"noop", "fetch", "idle", "logins"}, *flagFocus) {
		b.Skip("needs -focus noop, fetch, idle or logins")
	}
	niceUp(-10)
	e := startEnv(b, *flagGCView, false)
	ngx := startNginx(b, e)
	e.nginx = ngx
	switch *flagFocus {
	case "idle":
		focusIdle(b, e, ngx)
		return
	case "logins":
		focusLogins(b, e, ngx)
		return
	}
	names := []string{"direct", "nginx", "MMP"}
	var cls []*client
	for _, addr := range []string{e.direct, ngx.imap, e.proxy} {
		cl, err := login(addr, userName(0), password)
		if err == nil {
			_, err = cl.do("EXAMINE INBOX")
		}
		if err == nil && *flagFocus == "fetch" {
			_, err = cl.do("FETCH 1 BODY.PEEK[]") // into the page cache
		}
		if err == nil {
			_, err = measureNoop(cl, 200)
		}
		if err != nil {
			b.Fatal(err)
		}
		defer cl.logout()
		cls = append(cls, cl)
	}
	c0, w0 := machineCPU(), time.Now()
	if *flagFocus == "noop" {
		lat := make([][]time.Duration, len(cls))
		for range *flagNoops {
			for i, cl := range cls { // one each way in turn, as BenchmarkMMP
				l, err := measureNoop(cl, 1)
				if err != nil {
					b.Fatal(err)
				}
				lat[i] = append(lat[i], l...)
			}
		}
		for i := range lat {
			slices.Sort(lat[i])
			fmt.Fprintf(os.Stderr, "bench: NOOP %-6s p50 %s p90 %s p99 %s; ÷ direct p50 %.2f p99 %.2f\n", names[i],
				us(percentile(lat[i], .5)), us(percentile(lat[i], .9)), us(percentile(lat[i], .99)),
				float64(percentile(lat[i], .5))/float64(percentile(lat[0], .5)), float64(percentile(lat[i], .99))/float64(percentile(lat[0], .99)))
		}
	} else {
		rates := make([][]float64, len(cls))
		for range *flagRounds {
			for i, cl := range cls {
				mbs, _, err := measureFetch(cl, *flagFetchTime)
				if err != nil {
					b.Fatal(err)
				}
				rates[i] = append(rates[i], mbs)
			}
		}
		for i := range rates {
			fmt.Fprintf(os.Stderr, "bench: FETCH %-6s median %.0f MB/s (rounds %.0f); ÷ direct %.2f\n", names[i], median(rates[i]), rates[i], median(rates[i])/median(rates[0]))
		}
	}
	fmt.Fprintf(os.Stderr, "bench: the whole machine meanwhile: %.0f %% of one core\n", 100*(machineCPU()-c0)/time.Since(w0).Seconds())
}

// focusIdle opens -sessions idle logged-in sessions through each proxy,
// in clear text and over implicit TLS, and prints the growth of the
// proxy's resident memory per session.
func focusIdle(b *testing.B, e *env, ngx *nginxCol) {
	mmpRSS := func() int64 { v, _ := statusKB(e.mmp.pid(), "VmRSS"); return v }
	ngxRSS := func() int64 { v, _ := ngx.workersMem(); return v }
	for _, w := range []struct {
		name string
		addr string
		tls  *tls.Config
		rss  func() int64
	}{
		{"MMP, clear text", e.proxy, nil, mmpRSS},
		{"MMP, implicit TLS", e.proxyS, e.tlsConf, mmpRSS},
		{"nginx, clear text", ngx.imap, nil, ngxRSS},
		{"nginx, implicit TLS", ngx.imapS, e.tlsConf, ngxRSS},
	} {
		time.Sleep(time.Second) // the previous sessions' ends settle
		before := w.rss()
		conns := make([]net.Conn, 0, *flagSessions)
		for i := range *flagSessions {
			cl, err := loginWith(w.addr, w.tls, userName(i%numUsers), password)
			if err != nil {
				closeAll(conns)
				b.Fatalf("%s: session %d: %v", w.name, i, err)
			}
			cl.c.SetDeadline(time.Time{})
			conns = append(conns, cl.c)
		}
		time.Sleep(time.Second)
		after := w.rss()
		closeAll(conns)
		fmt.Fprintf(os.Stderr, "bench: idle %-20s %5.2f KiB per session (VmRSS %d → %d KiB, %d sessions)\n",
			w.name, float64(after-before)/float64(len(conns)), before, after, len(conns))
	}
}

// focusLogins measures IMAP and POP3 logins per second direct, through
// nginx and through the MMP in alternating rounds, and prints per login
// the CPU time of the proxy (nginx with its auth service), of the store
// (Dovecot's whole process group) and of the client.
func focusLogins(b *testing.B, e *env, ngx *nginxCol) {
	pgid, err := e.storePgid()
	if err != nil {
		b.Fatal(err)
	}
	m := meter{mmpPid: e.mmp.pid(), storePgid: pgid}
	mPop := meter{mmpPid: e.pop.pid(), storePgid: pgid}
	mn := ngx.meter(pgid)
	check := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	imapFn := func(addr string) func() (float64, int64, error) {
		return func() (float64, int64, error) { return measureLogins(addr, *flagClients, *flagLoginTime) }
	}
	popFn := func(addr string) func() (float64, int64, error) {
		return func() (float64, int64, error) {
			return measureRate(*flagClients, *flagLoginTime, func(u string) error { return popLogin(addr, u, password) })
		}
	}
	for i := range numUsers { // warm the caches and Dovecot's processes
		u := userName(i)
		for _, addr := range []string{e.direct, ngx.imap, e.proxy} {
			cl, err := login(addr, u, password)
			if err == nil {
				err = cl.logout()
			}
			check(err)
		}
		for _, addr := range []string{e.directP, ngx.pop, e.pop.addr} {
			check(popLogin(addr, u, password))
		}
	}
	for _, row := range []struct {
		name string
		fns  []func() (float64, int64, error)
		ms   []meter
	}{
		{"IMAP", []func() (float64, int64, error){imapFn(e.direct), imapFn(e.proxy), imapFn(ngx.imap)}, []meter{m, m, mn}},
		{"POP3", []func() (float64, int64, error){popFn(e.directP), popFn(e.pop.addr), popFn(ngx.pop)}, []meter{m, mPop, mn}},
	} {
		var p pair
		p.alternate(*flagRounds, row.ms, row.fns, check)
		for _, i := range []int{colDirect, colNginx, colMMP} {
			c, n := p.cpu[i], float64(p.n[i])
			proxy := fmt.Sprintf("proxy %3.0f µs (kernel %3.0f)", 1e6*c.mmp/n, 1e6*c.mmpSys/n)
			if i == colDirect {
				proxy = fmt.Sprintf("%-28s", "")
			}
			fmt.Fprintf(os.Stderr, "bench: %s logins %-6s %6.0f/s (rounds %.0f) ÷ direct %.2f; per login: %s store %3.0f µs client %3.0f µs rest %3.0f µs\n",
				row.name, colNames[i], p.median(i), p.rate[i], p.median(i)/p.median(colDirect), proxy,
				1e6*c.store/n, 1e6*c.client/n, 1e6*c.rest()/n)
		}
	}
}
