package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/slapd"
	"github.com/openmmp/mmp/internal/testenv/testcert"
)

// The users of the benchmark: u000 … u063, all with the password pw, all
// on the one Dovecot. u000 has the big message.
const (
	numUsers = 64
	password = "pw"
	bigSize  = 10 << 20
)

func userName(i int) string { return fmt.Sprintf("u%03d", i%numUsers) }

// bigMessage is an RFC 822 message of exactly bigSize octets, in lines of
// 1000 octets as a real large message would be.
func bigMessage() string {
	head := "From: bench@example.com\r\nTo: u000@example.com\r\nSubject: 10 MiB\r\n" +
		"Date: Mon, 1 Jan 2001 00:00:00 +0000\r\nMessage-ID: <big@example.com>\r\n\r\n"
	line := strings.Repeat("x", 998) + "\r\n"
	var b strings.Builder
	b.Grow(bigSize)
	b.WriteString(head)
	for b.Len()+len(line) <= bigSize {
		b.WriteString(line)
	}
	b.WriteString(strings.Repeat("y", bigSize-b.Len()))
	return b.String()
}

// ldif is the directory: one entry per user, mailHost the store.
func ldif(mailHost string) string {
	var b strings.Builder
	b.WriteString("dn: ou=People,o=internet\nobjectClass: top\nobjectClass: organizationalUnit\nou: People\n")
	for i := range numUsers {
		u := userName(i)
		fmt.Fprintf(&b, `
dn: uid=%[1]s,ou=People,o=internet
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: inetOrgPerson
objectClass: inetUser
objectClass: inetMailUser
objectClass: inetLocalMailRecipient
uid: %[1]s
cn: Bench %[1]s
sn: %[1]s
mail: %[1]s@example.com
userPassword: %[2]s
mailHost: %[3]s
mailUserStatus: active
inetUserStatus: active
`, u, password, mailHost)
	}
	return b.String()
}

// dovecotTuning lets one Dovecot hold thousands of idle sessions, as a
// large site configures it: the login processes in high-performance mode
// (each serves many connections instead of one process per connection)
// and each imap process serving up to 1000 logged-in users, instead of one
// process per user. Both paths, direct and through the MMP, log in to this
// same configuration.
const dovecotTuning = `# internal bench/: thousands of sessions
service imap-login {
  service_count = 0
  client_limit = 1000
  process_min_avail = 2
  vsz_limit = 1G
}
service imap {
  service_count = 0
  client_limit = 1000
  process_limit = 64
  vsz_limit = 2G
}
service pop3-login {
  service_count = 0
  client_limit = 1000
  process_min_avail = 2
  vsz_limit = 1G
}
service pop3 {
  service_count = 0
  client_limit = 1000
  process_limit = 64
  vsz_limit = 2G
}
service anvil {
  client_limit = 2000
}
service log {
  client_limit = 2000
}
service auth {
  client_limit = 2000
}
service config {
  client_limit = 2000
}
service stats {
  client_limit = 2000
}
`

// env is the directory, the store and the MMPs in front of it.
type env struct {
	ldap    *slapd.Server
	store   *dovecot.Server
	cert    *testcert.Set
	tlsConf *tls.Config // the client's: trusts the test CA
	mmp     *mmpProc    // ImapProxy: clear text on proxy, implicit TLS on proxyS
	pop     *mmpProc    // PopProxy
	preWarm *mmpProc    // ImapProxy -pre, auth cache on (default)
	preCold *mmpProc    // ImapProxy -pre --AuthCacheSize 0
	behind  *mmpProc    // ImapProxy with ProxyProtocolPorts: a load balancer's client
	x25519  *mmpProc    // ImapProxy with SSLKeyExchangeGroups X25519: the key exchange Dovecot negotiates
	nginx   *nginxCol   // nginx's mail proxy and its auth_http service
	direct  string      // the store's IMAP address
	directS string      // the store's IMAPS address
	directP string      // the store's POP3 address
	proxy   string      // the MMP's
	proxyS  string      // the MMP's SSL port (TLS to the client, clear text to the store)
	proxyX  string      // the SSL port of x25519
	noFile  uint64      // RLIMIT_NOFILE in force
	slapdV  string
	dovecV  string
	mmpCmd  string   // the MMP's command line, for the record
	cmds    []string // the other proxies' command lines
}

// procs is every proxy process of the run.
func (e *env) procs() []*mmpProc {
	return []*mmpProc{e.mmp, e.pop, e.preWarm, e.preCold, e.behind, e.x25519}
}

// storePgid is the process group of the Dovecot master (the fixture starts
// it as a group leader and Dovecot writes its pid into base_dir).
func (e *env) storePgid() (int, error) {
	b, err := os.ReadFile(filepath.Join(e.store.Dir, "run", "master.pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// startEnv starts the directory, the store and the proxies. With gcview
// the main ImapProxy runs from bench/imapproxy-gcview; with profiling the
// PopProxy does too (the profile of BenchmarkLoginProfile).
func startEnv(b *testing.B, gcview, profiling bool) *env {
	b.Helper()
	e := &env{noFile: raiseNoFile(1 << 16)}
	var opts []dovecot.Option
	for i := range numUsers {
		opts = append(opts, dovecot.WithUser(userName(i), password))
	}
	e.cert = testcert.New(b, "localhost", "127.0.0.1")
	e.tlsConf = e.cert.ClientConfig("localhost")
	opts = append(opts, dovecot.WithMessage(userName(0), bigMessage()), dovecot.WithConfig(dovecotTuning),
		dovecot.WithTLS(e.cert.CertFile, e.cert.KeyFile))
	e.store = dovecot.Start(b, opts...)
	e.direct = e.store.IMAPAddr()
	e.directS = e.store.IMAPSAddr()
	e.directP = e.store.POP3Addr()
	e.dovecV = e.store.Version
	e.ldap = slapd.Start(b, slapd.WithLDIF(ldif(e.store.Host)))
	e.slapdV = slapdVersion()
	bin := buildMMP(b, gcview)
	sslAddr := freeAddr(b)
	var cmd string
	e.mmp, cmd = startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, gcview, imapReady,
		"-ps", sslAddr, "--SSLEnable", "yes", "--SSLCertPEM", e.cert.CertFile, "--SSLKeyPEM", e.cert.KeyFile)
	e.mmpCmd = cmd
	e.proxy, e.proxyS = e.mmp.addr, sslAddr
	e.preWarm, cmd = startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, false, imapReady, "-pre")
	e.cmds = append(e.cmds, cmd)
	e.preCold, cmd = startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, false, imapReady, "-pre", "--AuthCacheSize", "0")
	e.cmds = append(e.cmds, cmd)
	e.behind, cmd = startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, false, proxiedReady,
		"--ProxyProtocolPorts", portToken, "--ProxyProtocolTrusted", "127.0.0.1")
	e.cmds = append(e.cmds, cmd)
	// Go's client offers X25519MLKEM768 and X25519; Dovecot's OpenSSL 3.0
	// takes X25519, the MMP by default the hybrid post-quantum exchange.
	// This one takes X25519 too: TLS like for like.
	e.proxyX = freeAddr(b)
	e.x25519, cmd = startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, profiling, imapReady,
		"-ps", e.proxyX, "--SSLEnable", "yes", "--SSLCertPEM", e.cert.CertFile, "--SSLKeyPEM", e.cert.KeyFile,
		"--SSLKeyExchangeGroups", "X25519")
	e.cmds = append(e.cmds, cmd)
	popBin := buildPkg(b, "./cmd/PopProxy", "PopProxy")
	if profiling {
		popBin = bin // bench/imapproxy-gcview, as PopProxy
	}
	e.pop, cmd = startMMP(b, popBin, "PopProxy", e, e.store.POP3Port, profiling, popReady)
	e.cmds = append(e.cmds, cmd)
	return e
}

// portToken in startMMP's extra arguments stands for the proxy's port.
const portToken = "{PORT}"

// proxiedReady is imapReady through a PROXY header.
func proxiedReady(addr string) error {
	proxied[addr] = true
	return imapReady(addr)
}

func freeAddr(b *testing.B) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(b)))
}

func imapReady(addr string) error {
	cl, err := dial(addr)
	if err == nil {
		cl.logout()
	}
	return err
}

func popReady(addr string) error {
	cl, err := dialPOP(addr)
	if err == nil {
		cl.quit()
	}
	return err
}

// slapdVersion is the first line of slapd -VV that names the version.
func slapdVersion() string {
	bin, err := testenv.LookPath("slapd")
	if err != nil {
		return "?"
	}
	out, _ := exec.Command(bin, "-VV").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, "slapd "); i >= 0 {
			f := strings.Fields(l[i:])
			if len(f) > 1 {
				return "OpenLDAP slapd " + f[1]
			}
		}
	}
	return strings.TrimSpace(string(out))
}

// buildMMP builds cmd/ImapProxy (or, for -gcview, bench/imapproxy-gcview)
// into a temporary directory.
func buildMMP(b *testing.B, gcview bool) string {
	b.Helper()
	pkg, name := "./cmd/ImapProxy", "ImapProxy"
	if gcview {
		pkg, name = "./bench/imapproxy-gcview", "ImapProxy-gcview"
	}
	return buildPkg(b, pkg, name)
}

// buildPkg builds a command into a temporary directory.
func buildPkg(b *testing.B, pkg, name string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = testenv.RepoRoot(b)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// mmpProc is the MMP running as its own process.
type mmpProc struct {
	name   string
	cmd    *exec.Cmd
	addr   string
	gcview string // the expvar address with -gcview
	out    string // its standard output and error
	exited chan struct{}
}

func (m *mmpProc) pid() int { return m.cmd.Process.Pid }

// startMMP starts bin (ImapProxy or PopProxy, called name) with the
// Netscape command line in front of the store's port storePort, extra
// arguments appended, and waits until ready succeeds on its clear-text
// port. It returns the process and its command line, for the record.
func startMMP(b *testing.B, bin, name string, e *env, storePort int, gcview bool, ready func(string) error, extra ...string) (*mmpProc, string) {
	b.Helper()
	dir := b.TempDir()
	m := &mmpProc{
		name:   name,
		addr:   freeAddr(b),
		out:    filepath.Join(dir, name+".out"),
		exited: make(chan struct{}),
	}
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		b.Fatal(err)
	}
	// The Netscape command line, as scripts/demo starts the MMP. The
	// default ConnLimits (20 per client address) would refuse the
	// benchmark's thousands of sessions from 127.0.0.1.
	args := []string{
		"-p", m.addr,
		"-h", net.JoinHostPort(e.ldap.Host, strconv.Itoa(e.ldap.Port)),
		"-b", e.ldap.BaseDN,
		"-D", e.ldap.ProxyDN,
		"-w", e.ldap.ProxyPass,
		"-c", strconv.Itoa(storePort),
		"--HostedDomains", "no",
		"--ConnLimits", "0.0.0.0|0.0.0.0:100000",
		"-o", logDir,
	}
	_, port, _ := net.SplitHostPort(m.addr)
	for _, a := range extra {
		args = append(args, strings.ReplaceAll(a, portToken, port))
	}
	cmdLine := name + " " + strings.Join(args, " ")
	cmdLine = strings.Replace(cmdLine, "0.0.0.0|0.0.0.0:100000", "'0.0.0.0|0.0.0.0:100000'", 1)
	f, err := os.Create(m.out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	m.cmd = exec.Command(bin, args...)
	m.cmd.Dir = dir
	m.cmd.Stdout, m.cmd.Stderr = f, f
	m.cmd.Env = os.Environ()
	if gcview {
		m.gcview = net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(b)))
		m.cmd.Env = append(m.cmd.Env, "OPENMMP_GCVIEW="+m.gcview, "OPENMMP_GCVIEW_NAME="+name)
	}
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		m.cmd.Wait()
		close(m.exited)
	}()
	b.Cleanup(m.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ready(m.addr)
		if err == nil {
			return m, cmdLine
		}
		select {
		case <-m.exited:
			b.Fatalf("%s exited at start-up:\n%s", name, testenv.Tail(m.out, 4000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s does not greet on %s: %v\n%s", name, m.addr, err, testenv.Tail(m.out, 4000))
		}
	}
}

// stop ends the MMP: SIGTERM (its sessions are closed by then), SIGKILL
// to the group after 5 s.
func (m *mmpProc) stop() {
	syscall.Kill(m.pid(), syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
	}
	syscall.Kill(-m.pid(), syscall.SIGKILL)
	<-m.exited
}

// alive reports an MMP that died during the run.
func (m *mmpProc) alive() error {
	select {
	case <-m.exited:
		return errors.New(m.name + " exited:\n" + testenv.Tail(m.out, 4000))
	default:
		return nil
	}
}
