package bench

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// nginx's mail module as the third column: the same client, the same
// Dovecot, the same directory, through nginx (Debian's nginx with
// libnginx-mod-mail) and a small auth_http service, bench/nginx-auth,
// that makes the MMP's LDAP lookup with the MMP's code and cache.

var (
	flagNginxWorkers = flag.Int("nginxworkers", 1, "worker processes of nginx (the MMP is one process)")
	flagNginxBuffer  = flag.String("nginxbuffer", "", "nginx's proxy_buffer (default: nginx's own, one memory page)")
)

// nginxModule is where Debian's libnginx-mod-mail puts the mail module.
const nginxModule = "/usr/lib/nginx/modules/ngx_mail_module.so"

// nginxCol is nginx with its auth_http service, as the benchmark runs
// them.
type nginxCol struct {
	master  *mmpProc // nginx, daemon off: the master process, group leader of its workers
	auth    *mmpProc // bench/nginx-auth
	imap    string   // the clear-text IMAP listener
	imapS   string   // the implicit TLS IMAP listener (clear text to the store)
	pop     string   // the POP3 listener
	version string
	conf    string // the configuration file's text, for the record
	errLog  string
	cmd     string // nginx's command line
	authCmd string // nginx-auth's
	workers int
}

// needNginx finds nginx and its mail module, or stops the benchmark
// saying what to install.
func needNginx(b *testing.B) string {
	b.Helper()
	bin, err := testenv.LookPath("nginx")
	if err == nil {
		_, err = os.Stat(nginxModule)
	}
	if err != nil {
		b.Fatalf("bench: the nginx column needs nginx and its mail module (%s): apt-get install nginx libnginx-mod-mail, or run scripts/deps (%v)", nginxModule, err)
	}
	return bin
}

// startNginx starts the auth_http service, then nginx in front of the
// store, and waits until both answer.
func startNginx(b *testing.B, e *env) *nginxCol {
	b.Helper()
	bin := needNginx(b)
	n := &nginxCol{imap: freeAddr(b), imapS: freeAddr(b), pop: freeAddr(b), workers: *flagNginxWorkers}
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	n.version = strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")

	// The auth_http service: the MMP's directory settings, as on the
	// MMP's command line.
	authBin := buildPkg(b, "./bench/nginx-auth", "nginx-auth")
	authAddr := freeAddr(b)
	authArgs := []string{"-listen", authAddr, "-imap", strconv.Itoa(e.store.IMAPPort), "-pop3", strconv.Itoa(e.store.POP3Port), "--",
		"-h", net.JoinHostPort(e.ldap.Host, strconv.Itoa(e.ldap.Port)), "-b", e.ldap.BaseDN, "-D", e.ldap.ProxyDN, "-w", e.ldap.ProxyPass,
		"--HostedDomains", "no"}
	n.authCmd = "nginx-auth " + strings.Join(authArgs, " ")
	n.auth = startProc(b, "nginx-auth", authBin, authArgs, authAddr, authReady)

	buffer := ""
	if *flagNginxBuffer != "" {
		buffer = "\n    proxy_buffer " + *flagNginxBuffer + ";"
	}
	dir := b.TempDir()
	n.errLog = filepath.Join(dir, "error.log")
	n.conf = fmt.Sprintf(`load_module %[1]s;
daemon off;
master_process on;
worker_processes %[2]d;
worker_rlimit_nofile 65536;
pid %[3]s/nginx.pid;
error_log %[3]s/error.log warn;
events {
    worker_connections 30000;
}
mail {
    auth_http %[4]s/auth;
    proxy on;
    proxy_pass_error_message on;%[10]s
    server {
        listen %[5]s;
        protocol imap;
    }
    server {
        listen %[6]s ssl;
        protocol imap;
        ssl_certificate %[7]s;
        ssl_certificate_key %[8]s;
        # nginx 1.22's mail module offers TLS 1.2 at most unless told;
        # Dovecot and the MMP negotiate TLS 1.3.
        ssl_protocols TLSv1.2 TLSv1.3;
    }
    server {
        listen %[9]s;
        protocol pop3;
    }
}
`, nginxModule, n.workers, dir, authAddr, n.imap, n.imapS, e.cert.CertFile, e.cert.KeyFile, n.pop, buffer)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(n.conf), 0o644); err != nil {
		b.Fatal(err)
	}
	// -e: the compiled-in error log (/var/log/nginx) is opened before the
	// configuration is read.
	args := []string{"-p", dir, "-c", conf, "-e", n.errLog}
	n.cmd = "nginx " + strings.Join(args, " ")
	n.master = startProc(b, "nginx", bin, args, n.imap, imapReady)
	// Every worker must be up, not only the one that answered.
	if !waitFor(10*time.Second, func() bool { return len(n.workerPids()) == n.workers }) {
		b.Fatalf("nginx: %d workers, want %d", len(n.workerPids()), n.workers)
	}
	return n
}

// authReady asks the auth_http service as nginx would.
func authReady(addr string) error {
	req, _ := http.NewRequest("GET", "http://"+addr+"/auth", nil)
	req.Header.Set("Auth-Method", "plain")
	req.Header.Set("Auth-User", userName(0))
	req.Header.Set("Auth-Pass", password)
	req.Header.Set("Auth-Protocol", "imap")
	req.Header.Set("Auth-Login-Attempt", "1")
	req.Header.Set("Client-IP", "127.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if st := resp.Header.Get("Auth-Status"); st != "OK" {
		return fmt.Errorf("auth_http answers Auth-Status %q", st)
	}
	return nil
}

// startProc starts a helper process (nginx, nginx-auth) as its own
// process group, stopped at the end of the benchmark, and waits until
// ready succeeds on addr.
func startProc(b *testing.B, name, bin string, args []string, addr string, ready func(string) error) *mmpProc {
	b.Helper()
	dir := b.TempDir()
	p := &mmpProc{name: name, addr: addr, out: filepath.Join(dir, name+".out"), exited: make(chan struct{})}
	f, err := os.Create(p.out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	b.Cleanup(p.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ready(addr)
		if err == nil {
			return p
		}
		select {
		case <-p.exited:
			b.Fatalf("%s exited at start-up:\n%s", name, testenv.Tail(p.out, 4000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s does not answer on %s: %v\n%s", name, addr, err, testenv.Tail(p.out, 4000))
		}
	}
}

// workerPids are nginx's worker processes: the master's group, less the
// master.
func (n *nginxCol) workerPids() []int {
	var w []int
	for _, pid := range groupPids(n.master.pid()) {
		if pid != n.master.pid() {
			w = append(w, pid)
		}
	}
	return w
}

// alive reports nginx or its auth service dead during the run.
func (n *nginxCol) alive() error {
	for _, p := range []*mmpProc{n.master, n.auth} {
		if err := p.alive(); err != nil {
			return err
		}
	}
	if len(n.workerPids()) != n.workers {
		return errors.New("nginx lost a worker:\n" + testenv.Tail(n.errLog, 4000))
	}
	return nil
}

// meter of the nginx column: nginx's group (master and workers) and the
// auth service count as the proxy.
func (n *nginxCol) meter(storePgid int) meter {
	return meter{storePgid: storePgid, nginxPgid: n.master.pid(), authPid: n.auth.pid()}
}

// nginxCPU is the CPU time of nginx's process group and of the auth
// service, the part in the kernel, and the auth service's alone.
func nginxCPU(pgid, authPid int) (total, sys, auth float64) {
	var t, s int64
	for _, pid := range groupPids(pgid) {
		if st, err := readStat(pid); err == nil {
			t += st.ticks + st.child
			s += st.sys
		}
	}
	at, as := procCPU(authPid)
	return float64(t)/clockTick + at, float64(s)/clockTick + as, at
}

// workersMem is the resident memory (VmRSS, KiB) and the descriptors of
// nginx's workers together.
func (n *nginxCol) workersMem() (rss int64, fds int) {
	for _, pid := range n.workerPids() {
		v, _ := statusKB(pid, "VmRSS")
		rss += v
		fds += fdCount(pid)
	}
	return rss, fds
}

// measureNginxMemory opens n idle logged-in sessions through nginx and
// reads the resident memory and descriptors of its workers before and
// after (the master and the auth service hold no session).
func measureNginxMemory(e *env, r *memResult, n, workers int, progress func(string, ...any)) error {
	ngx := e.nginx
	rss := func() int64 { v, _ := ngx.workersMem(); return v }
	r.ngxBefore = settle(rss)
	_, r.ngxFdBefore = ngx.workersMem()
	conns, took, err := openIdle(ngx.imap, n, workers)
	if err != nil {
		return fmt.Errorf("opening %d sessions through nginx: %w", n, err)
	}
	r.openNginx = took
	r.ngxAfter = settle(rss)
	_, r.ngxFdAfter = ngx.workersMem()
	progress("nginx: %d sessions open in %v; workers' VmRSS %d → %d KiB (%.2f KiB/session), fds %d → %d",
		n, took.Round(time.Millisecond), r.ngxBefore, r.ngxAfter, r.nginxPer(), r.ngxFdBefore, r.ngxFdAfter)
	closeAll(conns)
	if !waitFor(30*time.Second, func() bool { _, fds := ngx.workersMem(); return fds <= r.ngxFdBefore }) {
		_, fds := ngx.workersMem()
		return fmt.Errorf("nginx's workers still have %d descriptors 30 s after the clients closed (%d before)", fds, r.ngxFdBefore)
	}
	if !waitFor(30*time.Second, func() bool { return countEstablished(e.store.IMAPPort) < 10 }) {
		return fmt.Errorf("Dovecot still has %d sessions 30 s after nginx's clients closed", countEstablished(e.store.IMAPPort))
	}
	return nil
}
