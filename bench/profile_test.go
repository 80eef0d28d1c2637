package bench

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	flagProfile = flag.String("profile", "", "BenchmarkLoginProfile: write CPU profiles and syscall counts of the logins into this directory")
	flagStrace  = flag.Bool("strace", false, "BenchmarkLoginProfile: also count the MMP's system calls per login with strace -c -f")
	flagLoads   = flag.String("loads", "", "BenchmarkLoginProfile: only these loads, comma-separated (imap,pop,direct-imaps,imaps,imaps-resumed,imaps-x25519,imaps-groups-x25519); all when empty")
)

// BenchmarkLoginProfile explains the MMP's CPU time per login: with
// -profile DIR it runs the login loads of BenchmarkMMP (IMAP, POP3, IMAP
// over implicit TLS, with and without session resumption, with the
// client offering the X25519 key exchange alone, and with Go's client
// against an ImapProxy with SSLKeyExchangeGroups X25519, as Dovecot's
// OpenSSL negotiates) against
// bench/imapproxy-gcview processes and, for each, writes the CPU profile
// of the proxy process taken during the load (DIR/KIND.pprof; read it with
// go tool pprof -top) and prints the proxy's CPU time per login; with
// -strace also the system calls per login (DIR/KIND.strace, from
// strace -c -f, in a separate round since strace slows the process down).
// The load direct-imaps is Dovecot's own IMAPS, for a ratio taken in the
// same run: no profile, the CPU of Dovecot's processes per login.
// Without -profile it does nothing, so that -bench . runs only
// BenchmarkMMP.
//
//	go test -run '^$' -bench LoginProfile -timeout 15m ./bench/ -profile /tmp/prof -strace
func BenchmarkLoginProfile(b *testing.B) {
	if *flagProfile == "" {
		b.Skip("needs -profile DIR")
	}
	dir := *flagProfile
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	niceUp(-10)
	e := startEnv(b, true, true)
	resumeConf := e.tlsConf.Clone()
	resumeConf.ClientSessionCache = tls.NewLRUClientSessionCache(4 * numUsers)
	// What Dovecot's OpenSSL negotiates: X25519 alone, without Go's
	// default hybrid X25519MLKEM768 key exchange.
	x25519Conf := e.tlsConf.Clone()
	x25519Conf.CurvePreferences = []tls.CurveID{tls.X25519}
	imap := func(addr string, tc *tls.Config) func(string) error {
		return func(u string) error {
			cl, err := loginWith(addr, tc, u, password)
			if err == nil {
				err = cl.logout()
			}
			return err
		}
	}
	type kind struct {
		name string
		p    *mmpProc
		once func(string) error
	}
	kinds := []kind{
		{"direct-imaps", nil, imap(e.directS, e.tlsConf)},
		{"imap", e.mmp, imap(e.proxy, nil)},
		{"pop", e.pop, func(u string) error { return popLogin(e.pop.addr, u, password) }},
		{"imaps", e.mmp, imap(e.proxyS, e.tlsConf)},
		{"imaps-resumed", e.mmp, imap(e.proxyS, resumeConf)},
		{"imaps-x25519", e.mmp, imap(e.proxyS, x25519Conf)},
		{"imaps-groups-x25519", e.x25519, imap(e.proxyX, e.tlsConf)},
	}
	if *flagLoads != "" {
		want := strings.Split(*flagLoads, ",")
		kinds = slices.DeleteFunc(kinds, func(k kind) bool { return !slices.Contains(want, k.name) })
	}
	for _, k := range kinds {
		for i := range numUsers {
			if err := k.once(userName(i)); err != nil {
				b.Fatalf("%s warm-up: %v", k.name, err)
			}
		}
	}
	d := *flagLoginTime
	pgid, err := e.storePgid()
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range kinds {
		if k.p == nil {
			s0 := groupCPU(pgid)
			rate, n, err := measureRate(*flagClients, d, k.once)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(os.Stderr, "bench: %-19s %6.0f logins/s; Dovecot CPU %.0f µs per login\n", k.name, rate, 1e6*(groupCPU(pgid)-s0)/float64(n))
			continue
		}
		// The profile covers the middle of the load.
		prof := make(chan error, 1)
		go func() {
			time.Sleep(d / 8)
			prof <- fetchProfile(k.p.gcview, d*3/4, filepath.Join(dir, k.name+".pprof"))
		}()
		c0, s0 := procCPU(k.p.pid())
		rate, n, err := measureRate(*flagClients, d, k.once)
		if err != nil {
			b.Fatal(err)
		}
		c1, s1 := procCPU(k.p.pid())
		if err := <-prof; err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "bench: %-19s %6.0f logins/s; %s CPU %.0f µs per login (%.0f %% in the kernel)\n",
			k.name, rate, k.p.name, 1e6*(c1-c0)/float64(n), 100*(s1-s0)/max(c1-c0, 1e-9))
		if !*flagStrace {
			continue
		}
		calls, logins, err := straceRound(k.p.pid(), filepath.Join(dir, k.name+".strace"), func() (int64, error) {
			_, n, err := measureRate(*flagClients, d/2, k.once)
			return n, err
		})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "bench: %-19s %.1f system calls per login (%d logins under strace)\n", k.name, float64(calls)/float64(logins), logins)
	}
}

// fetchProfile writes a CPU profile of d from a gcview endpoint to path.
func fetchProfile(addr string, d time.Duration, path string) error {
	cl := http.Client{Timeout: d + 30*time.Second}
	resp, err := cl.Get("http://" + addr + "/debug/pprof/profile?seconds=" + strconv.Itoa(max(1, int(d.Seconds()))))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// straceRound runs load with strace -c -f attached to pid and returns the
// system calls strace counted and the logins load made.
func straceRound(pid int, out string, load func() (int64, error)) (int64, int64, error) {
	cmd := exec.Command("strace", "-c", "-f", "-p", strconv.Itoa(pid), "-o", out)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	time.Sleep(500 * time.Millisecond) // attached to every thread
	n, err := load()
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(out)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	// The summary's last line: "100.00 secs usecs/call CALLS [ERRORS] total".
	var calls int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 5 && fs[len(fs)-1] == "total" {
			calls, _ = strconv.ParseInt(fs[3], 10, 64)
		}
	}
	return calls, n, nil
}
