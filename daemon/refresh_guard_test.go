package daemon

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// rig is an AService started on an instance directory with a run
// directory, so that each refresh records its outcome.
type rig struct {
	t   *testing.T
	dir string
}

func newRig(t *testing.T, files map[string]string) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir()}
	for _, d := range []string{"log", "run"} {
		if err := os.Mkdir(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range files {
		r.write(name, text)
	}
	return r
}

func (r *rig) write(name, text string) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, name), []byte(text), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// start runs AService and waits until addr accepts.
func (r *rig) start(addr string) {
	r.t.Helper()
	pidfile := filepath.Join(r.dir, "run", "AService.pid")
	startDaemon(r.t, "AService", []string{"-c", r.dir, "-pidfile", pidfile}, addr)
	waitFile(r.t, pidfile)
}

// hup sends SIGHUP and returns the refresh status.
func (r *rig) hup() string {
	r.t.Helper()
	status := RefreshStatusFile(r.dir, os.Getpid())
	os.Remove(status)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	return waitFile(r.t, status)
}

// log returns the AService log.
func (r *rig) log() string {
	r.t.Helper()
	logs, _ := filepath.Glob(filepath.Join(r.dir, "log", "AService_*.log"))
	var b bytes.Buffer
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		b.Write(data)
	}
	return b.String()
}

// The attack: ImapProxyAService.cfg is emptied or half-written (an
// editor or a configuration tool writing it in place) when SIGHUP
// arrives. The refresh must not fall back to built-in defaults: the
// IMAPS port keeps its TLS, the plain port keeps STARTTLS and
// RestrictPlainPasswords, and the check says the same of the file. Only
// a configuration that says so explicitly turns TLS off, and the outcome
// lists that change.
func TestRefreshNeverWeakensTLS(t *testing.T) {
	env := twostores.Start(t)
	cs := testcert.New(t)
	plainPort, sslPort := testenv.FreePort(t), testenv.FreePort(t)
	plain := fmt.Sprintf("127.0.0.1:%d", plainPort)
	ssl := fmt.Sprintf("127.0.0.1:%d", sslPort)
	base := fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\n"+
		"default:BindPass %s\ndefault:BacksidePort %d\ndefault:BGExcluded 127.0.0.0/8\n",
		env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort)
	sslBlock := fmt.Sprintf("default:SSLEnable yes\ndefault:SSLPorts %d\ndefault:SSLCertPEM %s\ndefault:SSLKeyPEM %s\n"+
		"default:RestrictPlainPasswords yes\n", sslPort, cs.CertFile, cs.KeyFile)
	r := newRig(t, map[string]string{
		"AService.cfg":          fmt.Sprintf("default:ServiceList ImapProxyAService@%s|%s\ndefault:LogDir log\ndefault:LogLevel 1\n", plain, ssl),
		"ImapProxyAService.cfg": base + sslBlock,
	})
	r.start(plain)

	// stillSafe: TLS from the first byte on the SSL port, with a login
	// through it; STARTTLS and LOGINDISABLED on the plain port, where a
	// clear-text LOGIN is refused.
	stillSafe := func(t *testing.T) {
		t.Helper()
		tc, err := tls.Dial("tcp", ssl, cs.ClientConfig("localhost"))
		if err != nil {
			t.Fatalf("the SSL port no longer does TLS: %v", err)
		}
		defer tc.Close()
		cl := &imapClient{t: t, c: tc, r: bufio.NewReader(tc)}
		if g := cl.line(); !strings.HasPrefix(g, "* OK ") {
			t.Fatalf("SSL port greeting %q", g)
		}
		if got := cl.subject("LOGIN bob bobpw"); got != twostores.WelcomeSubject(twostores.User("bob")) {
			t.Errorf("bob sees %q over TLS", got)
		}
		c, err := net.Dial("tcp", plain)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pc := &imapClient{t: t, c: c, r: bufio.NewReader(c)}
		if g := pc.line(); !strings.Contains(g, "STARTTLS") || !strings.Contains(g, "LOGINDISABLED") {
			t.Errorf("plain greeting %q, want STARTTLS and LOGINDISABLED", g)
		}
		if _, tagged := pc.cmd("LOGIN bob bobpw"); strings.Contains(tagged, " OK ") {
			t.Errorf("clear-text LOGIN accepted on the plain port: %s", tagged)
		}
	}
	stillSafe(t)

	// refused: the refresh fails with each of want in its status, and
	// nothing weakened.
	refused := func(t *testing.T, want ...string) {
		t.Helper()
		got := r.hup()
		if !strings.HasPrefix(got, "failed: ") {
			t.Errorf("status %q, want the refresh refused", got)
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("status %q lacks %q", got, w)
			}
		}
		stillSafe(t)
	}

	t.Run("truncated to empty", func(t *testing.T) {
		if err := os.Truncate(filepath.Join(r.dir, "ImapProxyAService.cfg"), 0); err != nil {
			t.Fatal(err)
		}
		refused(t, "ImapProxyAService.cfg: the file has no setting")
		// The check gives the same verdict on the same file.
		var out bytes.Buffer
		if code := check(&out, r.dir); code != ExitConfig || !strings.Contains(out.String(), "ImapProxyAService.cfg: the file has no setting") {
			t.Errorf("AService -check: exit %d\n%s", code, out.String())
		}
	})

	t.Run("half written", func(t *testing.T) {
		r.write("ImapProxyAService.cfg", base) // the SSL block not yet written
		refused(t, fmt.Sprintf("SSLPorts: %s served TLS", ssl), "RestrictPlainPasswords: was yes", "SSLEnable: was yes")
	})

	t.Run("every parameter lost", func(t *testing.T) {
		r.write("ImapProxyAService.cfg", "default:Banner half\n")
		refused(t, "ImapProxyAService.cfg: sets none of the")
	})

	t.Run("TLS turned off explicitly", func(t *testing.T) {
		r.write("ImapProxyAService.cfg", base+"default:SSLEnable no\ndefault:RestrictPlainPasswords no\n")
		got := r.hup()
		want := []string{
			"ok: refreshed: ",
			"ImapProxy(ImapProxyAService.cfg): " + ssl + ": TLS from the first byte -> clear text",
			`ImapProxy(ImapProxyAService.cfg): SSLEnable: "yes" -> "no"`,
			`ImapProxy(ImapProxyAService.cfg): SSLPorts: "` + fmt.Sprint(sslPort) + `" -> (unset)`,
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("status %q lacks %q", got, w)
			}
		}
		// What changed is in the log at LogLevel 1.
		if log := r.log(); !strings.Contains(log, want[1]) {
			t.Errorf("the AService log at LogLevel 1 lacks %q:\n%s", want[1], log)
		}
		c, err := net.Dial("tcp", ssl)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if g, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(g, "* OK ") {
			t.Errorf("the port turned to clear text by the configuration greets %q", g)
		}
	})
}

// The attack: a file rewritten in place while the refresh reads it. The
// refresh reads it again until it stops changing and applies the last
// version; a file that keeps changing is refused.
func TestRefreshWaitsForFileToSettle(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	imap := func(banner string) string {
		return "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\ndefault:Banner " + banner + "\n"
	}
	r := newRig(t, map[string]string{
		"AService.cfg":          "default:ServiceList ImapProxyAService@" + addr + "\ndefault:LogDir log\ndefault:LogLevel 1\n",
		"ImapProxyAService.cfg": imap("first"),
	})
	r.start(addr)
	// writer rewrites the file in place (truncate, then write) again and
	// again until stop is closed, then writes last, if not empty. It
	// never sleeps: a writer that paused for the refresh's whole pause
	// (100 ms) would rightly have its draft taken as settled, so it
	// records its longest gap between two writes (stalled), which a
	// loaded machine can make that long. started is closed once the
	// first draft is written: a refresh sent before that would read the
	// previous, settled version (CI caught it so once).
	var stalled atomic.Int64 // nanoseconds
	writer := func(stop <-chan struct{}, last string) (started, done <-chan struct{}) {
		first, end := make(chan struct{}), make(chan struct{})
		stalled.Store(0)
		go func() {
			defer close(end)
			prev := time.Now()
			for i := 0; ; i++ {
				select {
				case <-stop:
					if last != "" {
						r.write("ImapProxyAService.cfg", imap(last))
					}
					return
				default:
				}
				r.write("ImapProxyAService.cfg", imap(fmt.Sprintf("draft%d", i)))
				now := time.Now()
				if gap := now.Sub(prev); i > 0 && int64(gap) > stalled.Load() {
					stalled.Store(int64(gap))
				}
				prev = now
				if i == 0 {
					close(first)
				}
				runtime.Gosched()
			}
		}()
		return first, end
	}

	t.Run("settles", func(t *testing.T) {
		stop := make(chan struct{})
		started, done := writer(stop, "final")
		<-started
		time.AfterFunc(300*time.Millisecond, func() { close(stop) })
		got := r.hup()
		<-done
		if !strings.HasPrefix(got, "ok: refreshed: ") || !strings.Contains(got, `Banner: "first" -> "final"`) {
			t.Errorf("status %q, want the final version applied", got)
		}
		if g := imapGreeting(t, addr); !strings.Contains(g, "final") {
			t.Errorf("greeting %q, want the version written last", g)
		}
	})

	// A writer that stalled for a whole pause may rightly have had a
	// draft taken; then the attempt says nothing and is made again, from
	// the final version.
	t.Run("keeps changing", func(t *testing.T) {
		for attempt := 1; ; attempt++ {
			stop := make(chan struct{})
			started, done := writer(stop, "")
			<-started
			got := r.hup()
			close(stop)
			<-done
			refused := strings.HasPrefix(got, "failed: ") && strings.Contains(got, "ImapProxyAService.cfg: the file kept changing")
			if !refused && time.Duration(stalled.Load()) >= 100*time.Millisecond && attempt < 3 {
				t.Logf("attempt %d: the writer stalled for %v, and the refresh took a draft: %q; again", attempt, time.Duration(stalled.Load()), got)
				r.write("ImapProxyAService.cfg", imap("final"))
				time.Sleep(150 * time.Millisecond) // settled
				r.hup()
				continue
			}
			if !refused {
				t.Errorf("status %q, want the refresh refused (the writer's longest gap: %v)", got, time.Duration(stalled.Load()))
			}
			if g := imapGreeting(t, addr); !strings.Contains(g, "final") {
				t.Errorf("greeting %q, want the configuration kept", g)
			}
			return
		}
	})
}

// A refused refresh logs its reasons as errors and the warnings of the
// file as warnings; nothing at Critical, which LogLevel 0 keeps for what
// stops a service.
func TestRefusedRefreshLogLevels(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	imap := "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\n"
	r := newRig(t, map[string]string{
		"AService.cfg":          "default:ServiceList ImapProxyAService@" + addr + "\ndefault:LogDir log\ndefault:LogLevel 3\n",
		"ImapProxyAService.cfg": imap,
	})
	r.start(addr)
	r.write("ImapProxyAService.cfg", imap+"default:ClientTimeout 600\ndefault:Timeout soon\n")
	if got := r.hup(); !strings.HasPrefix(got, "failed: ") {
		t.Fatalf("status %q", got)
	}
	log := r.log()
	for _, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, " Critical: "):
			t.Errorf("a refused refresh logged at Critical: %s", l)
		case strings.Contains(l, "ClientTimeout: unknown parameter") && !strings.Contains(l, "General Warning: "):
			t.Errorf("the warning is not logged as a warning: %s", l)
		case strings.Contains(l, "cfg:4: Timeout: ") && !strings.Contains(l, "General Error: "):
			t.Errorf("the reason of the refusal is not logged as an error: %s", l)
		}
	}
	for _, want := range []string{"ClientTimeout: unknown parameter", "ImapProxyAService.cfg:4: Timeout: "} {
		if !strings.Contains(log, want) {
			t.Errorf("the AService log lacks %q:\n%s", want, log)
		}
	}
}
