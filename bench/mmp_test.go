package bench

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	flagRecord    = flag.Bool("record", false, "write the results into docs/benchmarks.md")
	flagSessions  = flag.Int("sessions", 5000, "idle logged-in sessions for the memory row")
	flagClients   = flag.Int("clients", 16, "concurrent clients for the logins/s row")
	flagRounds    = flag.Int("rounds", 3, "alternating direct and MMP rounds of the logins/s and FETCH rows")
	flagLoginTime = flag.Duration("logintime", 4*time.Second, "duration of one logins/s round")
	flagFetchTime = flag.Duration("fetchtime", 3*time.Second, "duration of one FETCH round")
	flagNoops     = flag.Int("noops", 6000, "NOOP round trips per path")
	flagGCView    = flag.Bool("gcview", false, "run bench/imapproxy-gcview to add the Go runtime's view of the MMP's memory")
	flagSkipMem   = flag.Bool("skipmem", false, "leave out the memory row (quicker runs while working on throughput)")
)

// command is how the record was made; flags that were set are appended.
const command = "go test -run '^$' -bench . -timeout 15m ./bench/"

func cpuCount() int { return runtime.NumCPU() }

// results is everything the table and the details are made of.
type results struct {
	when    time.Time
	machine machine
	goVer   string
	slapd   string
	dovecot string
	mmpCmd  string
	noFile  uint64
	flags   string
	took    time.Duration
	nice    int
	idleCPU float64 // % of one core busy on the machine in the second before the run

	loginDirect, loginMMP, loginNginx []float64 // logins/s per round
	loginCPUd, loginCPUm, loginCPUn   cpuUse
	logins                            [3]int64  // direct, MMP, nginx
	fetched                           [3]int64  // octets, direct, MMP, nginx
	fetchDirect, fetchMMP, fetchNginx []float64 // MB/s per round
	fetchCPUd, fetchCPUm, fetchCPUn   cpuUse
	noopDirect, noopMMP, noopNginx    []time.Duration // sorted
	noopCPU                           cpuUse          // all three ways together

	nginxVer, nginxCmd, nginxConf, authCmd string
	nginxWorkers                           int

	mem memResult

	// The rows added to the same run: POP3, TLS, PreAuth. Index colDirect
	// is direct (for PreAuth: auth cache warm), colMMP through the MMP
	// (cold), colNginx through nginx.
	pop, tlsLogin, tlsFetch, preAuth pair
	behind                           pair   // logins/s: the main MMP, and one behind a PROXY header
	tlsDirect, tlsMMP, tlsNginx      string // protocol and cipher suite negotiated
	cmds                             []string

	tlsResumed pair     // TLS logins with a client session cache
	tlsX25519  pair     // TLS logins, direct and the MMP with SSLKeyExchangeGroups X25519
	tlsX       string   // what the MMP with X25519 negotiated
	resumed    [3]int64 // of tlsResumed's logins, those that resumed
}

// The columns of a row, and the order of a round: direct, nginx, MMP.
const (
	colDirect = 0
	colMMP    = 1
	colNginx  = 2
)

var runOrder = []int{colDirect, colNginx, colMMP}

// colNames are the columns' names in progress lines.
var colNames = [3]string{colDirect: "direct", colMMP: "MMP", colNginx: "nginx"}

// pair is one row measured two or three ways (direct, MMP, nginx) in
// alternating rounds.
type pair struct {
	rate [3][]float64 // per round
	cpu  [3]cpuUse
	n    [3]int64 // logins, or octets fetched
}

func (p *pair) median(i int) float64 { return median(p.rate[i]) }

// alternate runs rounds of the measurements (indexed by column),
// alternating in runOrder, each with its meter; a column without a
// function is left out.
func (p *pair) alternate(rounds int, meters []meter, fns []func() (float64, int64, error), check func(error)) {
	for range rounds {
		for _, i := range runOrder {
			if i >= len(fns) || fns[i] == nil {
				continue
			}
			c0 := meters[i].snap()
			rate, n, err := fns[i]()
			check(err)
			p.cpu[i].add(meters[i].since(c0))
			p.rate[i] = append(p.rate[i], rate)
			p.n[i] += n
		}
	}
}

type memResult struct {
	skipped  bool
	sessions int
	// Dovecot, direct: Pss of every process of the group.
	storeBefore, storeAfter int64 // KiB
	storeProcs              [2]int
	openDirect              time.Duration
	// The MMP: VmRSS and RssAnon of its process.
	rssBefore, rssAfter   int64 // KiB
	anonBefore, anonAfter int64 // KiB
	fdBefore, fdAfter     int
	threads               int64
	openMMP               time.Duration
	// nginx: VmRSS and descriptors of its workers together.
	ngxBefore, ngxAfter     int64 // KiB
	ngxFdBefore, ngxFdAfter int
	openNginx               time.Duration
	// With -gcview.
	goBefore, goAfter *goView
}

func (m memResult) storePer() float64 {
	return float64(m.storeAfter-m.storeBefore) / float64(m.sessions)
}
func (m memResult) mmpPer() float64 {
	return float64(m.rssAfter-m.rssBefore) / float64(m.sessions)
}
func (m memResult) nginxPer() float64 {
	return float64(m.ngxAfter-m.ngxBefore) / float64(m.sessions)
}

// BenchmarkMMP is the whole benchmark; it runs once whatever b.N is.
func BenchmarkMMP(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the benchmark reads /proc: Linux only")
	}
	t0 := time.Now()
	r := &results{when: t0, machine: readMachine(), goVer: runtime.Version(), flags: setFlags()}
	// Raise the priority first, so that the daemons inherit it.
	r.nice = niceUp(-10)
	c0, w0 := machineCPU(), time.Now()
	time.Sleep(time.Second)
	r.idleCPU = 100 * (machineCPU() - c0) / time.Since(w0).Seconds()
	if r.idleCPU > 20 {
		fmt.Fprintf(os.Stderr, "bench: warning: the machine is busy before the run (%.0f %% of one core); see the \"rest\" CPU in the details\n", r.idleCPU)
	}
	needNginx(b) // before the minutes of set-up
	e := startEnv(b, *flagGCView, false)
	r.slapd, r.dovecot, r.mmpCmd, r.noFile, r.cmds = e.slapdV, e.dovecV, e.mmpCmd, e.noFile, e.cmds
	pgid, err := e.storePgid()
	if err != nil {
		b.Fatalf("Dovecot's master pid: %v", err)
	}
	m := meter{mmpPid: e.mmp.pid(), storePgid: pgid}
	ngx := startNginx(b, e)
	e.nginx = ngx
	r.nginxVer, r.nginxCmd, r.nginxConf, r.authCmd, r.nginxWorkers = ngx.version, ngx.cmd, ngx.conf, ngx.authCmd, ngx.workers
	mn := ngx.meter(pgid)
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "bench: %5.1fs  %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
	}
	check := func(err error) {
		b.Helper()
		for _, p := range e.procs() {
			if err == nil {
				err = p.alive()
			}
		}
		if err == nil && e.nginx != nil {
			err = e.nginx.alive()
		}
		if err != nil {
			b.Fatal(err)
		}
	}

	// Warm up: every user logs in once each way, so that the LDAP caches
	// of the MMP and of nginx's auth service hold every user and Dovecot
	// has its processes running.
	progress("warming up: %d users, each way", numUsers)
	for i := range numUsers {
		for _, addr := range []string{e.direct, ngx.imap, e.proxy} {
			cl, err := login(addr, userName(i), password)
			if err == nil {
				err = cl.logout()
			}
			check(err)
		}
	}

	// Memory first, on an MMP that has done nothing but the warm-up.
	r.mem.skipped = *flagSkipMem
	if !r.mem.skipped {
		check(measureMemory(e, m, &r.mem, *flagSessions, progress))
	}

	// Logins per second, rounds alternating.
	type target struct {
		addr  string
		cl    *client
		out   *[]float64
		cpu   *cpuUse
		meter meter
	}
	for round := range *flagRounds {
		tgs := [3]target{
			colDirect: {addr: e.direct, out: &r.loginDirect, cpu: &r.loginCPUd, meter: m},
			colMMP:    {addr: e.proxy, out: &r.loginMMP, cpu: &r.loginCPUm, meter: m},
			colNginx:  {addr: ngx.imap, out: &r.loginNginx, cpu: &r.loginCPUn, meter: mn},
		}
		for _, i := range runOrder {
			tg := tgs[i]
			c0 := tg.meter.snap()
			rate, n, err := measureLogins(tg.addr, *flagClients, *flagLoginTime)
			check(err)
			tg.cpu.add(tg.meter.since(c0))
			*tg.out = append(*tg.out, rate)
			r.logins[i] += n
		}
		progress("logins/s round %d: direct %.0f, nginx %.0f, MMP %.0f", round+1, r.loginDirect[round], r.loginNginx[round], r.loginMMP[round])
	}

	// FETCH of the 10 MiB message, one connection each way.
	cd, err := login(e.direct, userName(0), password)
	check(err)
	cm, err := login(e.proxy, userName(0), password)
	check(err)
	cn, err := login(ngx.imap, userName(0), password)
	check(err)
	for _, cl := range []*client{cd, cn, cm} {
		_, err := cl.do("EXAMINE INBOX")
		check(err)
		_, err = cl.do("FETCH 1 BODY.PEEK[]") // the message into the page cache
		check(err)
	}
	for round := range *flagRounds {
		tgs := [3]target{
			colDirect: {cl: cd, out: &r.fetchDirect, cpu: &r.fetchCPUd, meter: m},
			colMMP:    {cl: cm, out: &r.fetchMMP, cpu: &r.fetchCPUm, meter: m},
			colNginx:  {cl: cn, out: &r.fetchNginx, cpu: &r.fetchCPUn, meter: mn},
		}
		for _, i := range runOrder {
			tg := tgs[i]
			c0 := tg.meter.snap()
			mbs, n, err := measureFetch(tg.cl, *flagFetchTime)
			check(err)
			tg.cpu.add(tg.meter.since(c0))
			*tg.out = append(*tg.out, mbs)
			r.fetched[i] += n
		}
		progress("FETCH round %d: direct %.0f MB/s, nginx %.0f MB/s, MMP %.0f MB/s", round+1, r.fetchDirect[round], r.fetchNginx[round], r.fetchMMP[round])
	}

	// NOOP round trips on the same connections, one each way in turn, so
	// that all three meet the same state of the machine: a round trip
	// takes about 40 µs while the CPUs are awake and about 140 µs when
	// each hop has to wake one, and batches of a way at a time caught
	// the machine in different states (p50 41 µs direct against 140 µs
	// through either proxy in one run, 136 against 155 and 160 in another).
	for _, cl := range []*client{cd, cn, cm} {
		_, err := measureNoop(cl, 200)
		check(err)
	}
	n0 := m.snap()
	for range *flagNoops {
		for _, t := range []struct {
			cl  *client
			out *[]time.Duration
		}{{cd, &r.noopDirect}, {cn, &r.noopNginx}, {cm, &r.noopMMP}} {
			lat, err := measureNoop(t.cl, 1)
			check(err)
			*t.out = append(*t.out, lat...)
		}
	}
	r.noopCPU = m.since(n0)
	slices.Sort(r.noopDirect)
	slices.Sort(r.noopMMP)
	slices.Sort(r.noopNginx)
	progress("NOOP p50/p99: direct %v/%v, nginx %v/%v, MMP %v/%v", percentile(r.noopDirect, .5), percentile(r.noopDirect, .99),
		percentile(r.noopNginx, .5), percentile(r.noopNginx, .99), percentile(r.noopMMP, .5), percentile(r.noopMMP, .99))
	check(cd.logout())
	check(cn.logout())
	check(cm.logout())

	extraRows(e, r, m, mn, progress, check)
	r.took = time.Since(t0)

	b.ReportMetric(median(r.loginDirect), "direct-logins/s")
	b.ReportMetric(median(r.loginMMP), "mmp-logins/s")
	b.ReportMetric(median(r.fetchDirect), "direct-fetch-MB/s")
	b.ReportMetric(median(r.fetchMMP), "mmp-fetch-MB/s")
	b.ReportMetric(float64(percentile(r.noopDirect, .5).Microseconds()), "direct-noop-p50-µs")
	b.ReportMetric(float64(percentile(r.noopMMP, .5).Microseconds()), "mmp-noop-p50-µs")
	b.ReportMetric(r.pop.median(0), "direct-pop-logins/s")
	b.ReportMetric(r.pop.median(1), "mmp-pop-logins/s")
	b.ReportMetric(r.tlsLogin.median(0), "direct-tls-logins/s")
	b.ReportMetric(r.tlsLogin.median(1), "mmp-tls-logins/s")
	b.ReportMetric(r.tlsResumed.median(0), "direct-tls-resumed-logins/s")
	b.ReportMetric(r.tlsResumed.median(1), "mmp-tls-resumed-logins/s")
	b.ReportMetric(r.tlsFetch.median(0), "direct-tls-fetch-MB/s")
	b.ReportMetric(r.tlsFetch.median(1), "mmp-tls-fetch-MB/s")
	b.ReportMetric(r.preAuth.median(0), "mmp-preauth-warm-logins/s")
	b.ReportMetric(r.preAuth.median(1), "mmp-preauth-cold-logins/s")
	b.ReportMetric(r.behind.median(1), "mmp-proxyheader-logins/s")
	b.ReportMetric(median(r.loginNginx), "nginx-logins/s")
	b.ReportMetric(median(r.fetchNginx), "nginx-fetch-MB/s")
	b.ReportMetric(float64(percentile(r.noopNginx, .5).Microseconds()), "nginx-noop-p50-µs")
	b.ReportMetric(r.pop.median(colNginx), "nginx-pop-logins/s")
	b.ReportMetric(r.tlsLogin.median(colNginx), "nginx-tls-logins/s")
	b.ReportMetric(r.tlsResumed.median(colNginx), "nginx-tls-resumed-logins/s")
	b.ReportMetric(r.tlsFetch.median(colNginx), "nginx-tls-fetch-MB/s")
	if !r.mem.skipped {
		b.ReportMetric(r.mem.nginxPer(), "nginx-KiB/session")
		b.ReportMetric(r.mem.mmpPer(), "mmp-KiB/session")
		b.ReportMetric(r.mem.storePer(), "dovecot-KiB/session")
	}

	report := r.markdown()
	fmt.Println()
	fmt.Println(report)
	if *flagRecord {
		path, err := record(b, report)
		if err != nil {
			b.Fatal(err)
		}
		progress("recorded in %s", path)
	}
}

// measureMemory opens the idle sessions directly, then through the MMP,
// and reads the memory of Dovecot and of the MMP before and after.
func measureMemory(e *env, m meter, r *memResult, n int, progress func(string, ...any)) error {
	r.sessions = n
	workers := 16

	// Dovecot alone.
	r.storeBefore, r.storeProcs[0] = groupPssKB(m.storePgid)
	conns, took, err := openIdle(e.direct, n, workers)
	if err != nil {
		return fmt.Errorf("opening %d sessions to Dovecot: %w", n, err)
	}
	r.openDirect = took
	r.storeAfter = settle(func() int64 { v, _ := groupPssKB(m.storePgid); return v })
	_, r.storeProcs[1] = groupPssKB(m.storePgid)
	progress("direct: %d sessions open in %v; Dovecot Pss %d → %d KiB (%.1f KiB/session)",
		n, took.Round(time.Millisecond), r.storeBefore, r.storeAfter, r.storePer())
	closeAll(conns)
	if !waitFor(30*time.Second, func() bool { return countEstablished(e.store.IMAPPort) < 10 }) {
		return fmt.Errorf("Dovecot still has %d sessions 30 s after the clients closed", countEstablished(e.store.IMAPPort))
	}

	// nginx.
	if err := measureNginxMemory(e, r, n, workers, progress); err != nil {
		return err
	}

	// The MMP.
	pid := m.mmpPid
	rss := func() int64 { v, _ := statusKB(pid, "VmRSS"); return v }
	r.rssBefore = settle(rss)
	r.anonBefore, _ = statusKB(pid, "RssAnon")
	r.fdBefore = fdCount(pid)
	if e.mmp.gcview != "" {
		v, err := readGoView(e.mmp.gcview)
		if err != nil {
			return err
		}
		r.goBefore = &v
		r.rssBefore = settle(rss) // after the forced collection
		r.anonBefore, _ = statusKB(pid, "RssAnon")
	}
	conns, took, err = openIdle(e.proxy, n, workers)
	if err != nil {
		return fmt.Errorf("opening %d sessions through the MMP: %w", n, err)
	}
	r.openMMP = took
	r.rssAfter = settle(rss)
	r.anonAfter, _ = statusKB(pid, "RssAnon")
	r.fdAfter = fdCount(pid)
	r.threads, _ = statusKB(pid, "Threads")
	if e.mmp.gcview != "" {
		v, err := readGoView(e.mmp.gcview)
		if err != nil {
			return err
		}
		r.goAfter = &v
	}
	progress("MMP: %d sessions open in %v; VmRSS %d → %d KiB (%.2f KiB/session), fds %d → %d",
		n, took.Round(time.Millisecond), r.rssBefore, r.rssAfter, r.mmpPer(), r.fdBefore, r.fdAfter)
	closeAll(conns)
	// Sockets only: pipes of the splice pool go at the MMP's next GC.
	sockets := func() int { return fdKinds(pid)["socket"] }
	if !waitFor(30*time.Second, func() bool { return sockets() <= r.fdBefore }) {
		return fmt.Errorf("the MMP still has descriptors %v 30 s after the clients closed (%d in all before); %d connections to Dovecot",
			fdKinds(pid), r.fdBefore, countEstablished(e.store.IMAPPort))
	}
	waitFor(30*time.Second, func() bool { return countEstablished(e.store.IMAPPort) < 10 })
	return nil
}

// setFlags lists the benchmark's flags that were set on the command line.
func setFlags() string {
	var s []string
	flag.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "test.") {
			return
		}
		if f.Value.String() == "true" {
			s = append(s, "-"+f.Name)
		} else {
			s = append(s, "-"+f.Name+" "+f.Value.String())
		}
	})
	return strings.Join(s, " ")
}

// extraRows measures POP3 logins, IMAP over implicit TLS (logins and
// FETCH) and PreAuth logins, after the main rows, each with its own
// warm-up.
func extraRows(e *env, r *results, m, mn meter, progress func(string, ...any), check func(error)) {
	mPop := meter{mmpPid: e.pop.pid(), storePgid: m.storePgid}
	mWarm := meter{mmpPid: e.preWarm.pid(), storePgid: m.storePgid}
	mCold := meter{mmpPid: e.preCold.pid(), storePgid: m.storePgid}
	mBehind := meter{mmpPid: e.behind.pid(), storePgid: m.storePgid}
	mX := meter{mmpPid: e.x25519.pid(), storePgid: m.storePgid}
	direct := meter{mmpPid: m.mmpPid, storePgid: m.storePgid}

	// Warm-up: every user once each new way.
	progress("warming up POP3, TLS and PreAuth: %d users, each way", numUsers)
	for i := range numUsers {
		u := userName(i)
		check(popLogin(e.directP, u, password))
		check(popLogin(e.pop.addr, u, password))
		check(popLogin(e.nginx.pop, u, password))
		for _, t := range []struct {
			addr string
			tc   *tls.Config
		}{{e.directS, e.tlsConf}, {e.proxyS, e.tlsConf}, {e.proxyX, e.tlsConf}, {e.nginx.imapS, e.tlsConf}, {e.preWarm.addr, nil}, {e.preCold.addr, nil}, {e.behind.addr, nil}} {
			cl, err := loginWith(t.addr, t.tc, u, password)
			if err == nil {
				err = cl.logout()
			}
			check(err)
		}
	}

	// POP3: USER, PASS, QUIT.
	popFn := func(addr string) func() (float64, int64, error) {
		return func() (float64, int64, error) {
			return measureRate(*flagClients, *flagLoginTime, func(u string) error { return popLogin(addr, u, password) })
		}
	}
	r.pop.alternate(*flagRounds, []meter{direct, mPop, mn}, []func() (float64, int64, error){popFn(e.directP), popFn(e.pop.addr), popFn(e.nginx.pop)}, check)
	progress("POP3 logins/s: direct %s, nginx %s, MMP %s", list(r.pop.rate[0], 0), list(r.pop.rate[2], 0), list(r.pop.rate[1], 0))

	// IMAP logins over implicit TLS: Dovecot's IMAPS, the MMP's SSL port.
	tlsFn := func(addr string) func() (float64, int64, error) {
		return func() (float64, int64, error) {
			return measureRate(*flagClients, *flagLoginTime, func(u string) error {
				cl, err := loginWith(addr, e.tlsConf, u, password)
				if err == nil {
					err = cl.logout()
				}
				return err
			})
		}
	}
	r.tlsLogin.alternate(*flagRounds, []meter{m, m, mn}, []func() (float64, int64, error){tlsFn(e.directS), tlsFn(e.proxyS), tlsFn(e.nginx.imapS)}, check)
	progress("TLS logins/s: direct %s, nginx %s, MMP %s", list(r.tlsLogin.rate[0], 0), list(r.tlsLogin.rate[2], 0), list(r.tlsLogin.rate[1], 0))

	// Like for like: the MMP with SSLKeyExchangeGroups X25519, against
	// Dovecot's IMAPS again in the same alternating rounds.
	r.tlsX25519.alternate(*flagRounds, []meter{m, mX}, []func() (float64, int64, error){tlsFn(e.directS), tlsFn(e.proxyX)}, check)
	progress("TLS logins/s, X25519 as Dovecot: direct %s, MMP %s", list(r.tlsX25519.rate[colDirect], 0), list(r.tlsX25519.rate[colMMP], 0))

	// The same with session resumption: each path's client keeps a session
	// cache, as mail clients do, warmed by one login per user.
	resumeFn := func(addr string, i int) func() (float64, int64, error) {
		tc := e.tlsConf.Clone()
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(4 * numUsers)
		for u := range numUsers {
			cl, err := loginWith(addr, tc, userName(u), password)
			if err == nil {
				err = cl.logout()
			}
			check(err)
		}
		return func() (float64, int64, error) {
			return measureRate(*flagClients, *flagLoginTime, func(u string) error {
				cl, err := loginWith(addr, tc, u, password)
				if err != nil {
					return err
				}
				if cl.c.(*tls.Conn).ConnectionState().DidResume {
					atomic.AddInt64(&r.resumed[i], 1)
				}
				return cl.logout()
			})
		}
	}
	r.tlsResumed.alternate(*flagRounds, []meter{m, m, mn}, []func() (float64, int64, error){
		resumeFn(e.directS, colDirect), resumeFn(e.proxyS, colMMP), resumeFn(e.nginx.imapS, colNginx)}, check)
	progress("TLS logins/s with resumption: direct %s, nginx %s, MMP %s", list(r.tlsResumed.rate[colDirect], 0),
		list(r.tlsResumed.rate[colNginx], 0), list(r.tlsResumed.rate[colMMP], 0))

	// FETCH over TLS, one connection each way.
	cd, err := loginWith(e.directS, e.tlsConf, userName(0), password)
	check(err)
	cm, err := loginWith(e.proxyS, e.tlsConf, userName(0), password)
	check(err)
	cn, err := loginWith(e.nginx.imapS, e.tlsConf, userName(0), password)
	check(err)
	r.tlsDirect, r.tlsMMP, r.tlsNginx = tlsState(cd.c), tlsState(cm.c), tlsState(cn.c)
	cx, err := loginWith(e.proxyX, e.tlsConf, userName(0), password)
	check(err)
	r.tlsX = tlsState(cx.c)
	check(cx.logout())
	for _, cl := range []*client{cd, cn, cm} {
		_, err := cl.do("EXAMINE INBOX")
		check(err)
		_, err = cl.do("FETCH 1 BODY.PEEK[]")
		check(err)
	}
	fetchFn := func(cl *client) func() (float64, int64, error) {
		return func() (float64, int64, error) { return measureFetch(cl, *flagFetchTime) }
	}
	r.tlsFetch.alternate(*flagRounds, []meter{m, m, mn}, []func() (float64, int64, error){fetchFn(cd), fetchFn(cm), fetchFn(cn)}, check)
	progress("TLS FETCH MB/s: direct %s, nginx %s, MMP %s", list(r.tlsFetch.rate[0], 0), list(r.tlsFetch.rate[2], 0), list(r.tlsFetch.rate[1], 0))
	check(cd.logout())
	check(cn.logout())
	check(cm.logout())

	// PreAuth: auth cache warm, then cold.
	r.preAuth.alternate(*flagRounds, []meter{mWarm, mCold}, []func() (float64, int64, error){
		func() (float64, int64, error) { return measureLogins(e.preWarm.addr, *flagClients, *flagLoginTime) },
		func() (float64, int64, error) { return measureLogins(e.preCold.addr, *flagClients, *flagLoginTime) },
	}, check)
	progress("PreAuth logins/s: cache warm %s, cold %s", list(r.preAuth.rate[0], 0), list(r.preAuth.rate[1], 0))

	// The cost of a load balancer's PROXY header before the login.
	r.behind.alternate(*flagRounds, []meter{direct, mBehind}, []func() (float64, int64, error){
		func() (float64, int64, error) { return measureLogins(e.proxy, *flagClients, *flagLoginTime) },
		func() (float64, int64, error) { return measureLogins(e.behind.addr, *flagClients, *flagLoginTime) },
	}, check)
	progress("logins/s without and with a PROXY header: %s, %s", list(r.behind.rate[0], 0), list(r.behind.rate[1], 0))
}

// tlsState names the protocol version, cipher suite and key exchange of
// a TLS connection.
func tlsState(c net.Conn) string {
	t, ok := c.(*tls.Conn)
	if !ok {
		return "clear text"
	}
	st := t.ConnectionState()
	return tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite) + " " + st.CurveID.String()
}
