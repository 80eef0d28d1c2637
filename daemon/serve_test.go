package daemon

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// syncBuffer is a bytes.Buffer safe for the daemon and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startImapProxy runs `ImapProxy -p ... -h ... -b ... -D ... -w ... -c ...`
// in-process against env and returns its address and log directory.
func startImapProxy(t *testing.T, env *twostores.Env, extra ...string) (addr, logDir string) {
	t.Helper()
	addr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	logDir = t.TempDir()
	args := append([]string{
		"-p", addr,
		"-h", fmt.Sprintf("%s:%d", env.LDAP.Host, env.LDAP.Port),
		"-b", env.LDAP.BaseDN,
		"-D", env.LDAP.ProxyDN,
		"-w", env.LDAP.ProxyPass,
		"-c", strconv.Itoa(env.IMAPPort),
		"-o", logDir,
		// Failed logins are answered at once here; the delay has its
		// own test (serve_timing_test.go).
		"--AuthFailureDelay", "0",
		// The tests log in from loopback again and again; BadGuys has
		// tests of its own (proxy) and would only slow these down.
		"--BGExcluded", "127.0.0.0/8",
	}, extra...)
	startDaemon(t, "ImapProxy", args, addr)
	return addr, logDir
}

// startDaemon runs a program in-process until addr and each of more
// accept connections (a daemon opens its ports one after the other: a
// test that used its SSL port as soon as the first one answered failed
// once), and returns its standard error. Cleanup stops it with SIGTERM, as
// stop-msg would, and checks the exit status.
func startDaemon(t *testing.T, prog string, args []string, addr string, more ...string) *syncBuffer {
	t.Helper()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- MainIO(prog, args, IO{Out: io.Discard, Err: stderr}) }()
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range append([]string{addr}, more...) {
		for {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			select {
			case code := <-done:
				t.Fatalf("%s exited with %d before listening: %s", prog, code, stderr)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not listening on %s: %s", prog, addr, stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		// The daemon has its SIGTERM handler in place: it is listening.
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case code := <-done:
			if code != ExitOK {
				t.Errorf("%s exit status %d after SIGTERM, want %d; stderr: %s", prog, code, ExitOK, stderr)
			}
		case <-time.After(ShutdownGrace + 10*time.Second):
			t.Errorf("%s did not exit after SIGTERM", prog)
		}
	})
	return stderr
}

// imapClient is a minimal IMAP client for the end-to-end tests.
type imapClient struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	seq int
}

func dialIMAP(t *testing.T, addr string) *imapClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &imapClient{t: t, c: c, r: bufio.NewReader(c)}
	if g := cl.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	return cl
}

func (cl *imapClient) line() string {
	cl.t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	s, err := cl.r.ReadString('\n')
	if err != nil {
		cl.t.Fatalf("read: %v (%q)", err, s)
	}
	return s
}

// cmd sends a command (with a tag) and returns everything up to and
// including the tagged reply, literals included.
func (cl *imapClient) cmd(format string, a ...any) (all, tagged string) {
	cl.t.Helper()
	cl.seq++
	tag := fmt.Sprintf("t%d", cl.seq)
	fmt.Fprintf(cl.c, tag+" "+format+"\r\n", a...)
	var b strings.Builder
	for {
		l := cl.line()
		b.WriteString(l)
		if strings.HasPrefix(l, tag+" ") {
			return b.String(), strings.TrimRight(l, "\r\n")
		}
		if n, ok := literalLen(l); ok {
			lit := make([]byte, n)
			if _, err := io.ReadFull(cl.r, lit); err != nil {
				cl.t.Fatal(err)
			}
			b.Write(lit)
		}
	}
}

func literalLen(l string) (int, bool) {
	l = strings.TrimRight(l, "\r\n")
	if !strings.HasSuffix(l, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(l[i+1 : len(l)-1])
	return n, err == nil
}

// subject logs in and fetches the subject of INBOX message 1.
func (cl *imapClient) subject(login string) string {
	cl.t.Helper()
	if _, tagged := cl.cmd("%s", login); !strings.Contains(tagged, " OK ") {
		cl.t.Fatalf("%s: %s", login, tagged)
	}
	if _, tagged := cl.cmd("SELECT INBOX"); !strings.Contains(tagged, " OK ") {
		cl.t.Fatalf("SELECT: %s", tagged)
	}
	all, _ := cl.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	for _, l := range strings.Split(all, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Subject: "); ok {
			return s
		}
	}
	cl.t.Fatalf("no subject in %q", all)
	return ""
}

func TestImapProxyEndToEnd(t *testing.T) {
	env := twostores.Start(t)
	addr, logDir := startImapProxy(t, env, "-v", "10") // 10: protocol traces, which must not show passwords

	t.Run("users land on their own store", func(t *testing.T) {
		for _, uid := range []string{"alice", "bob"} {
			a := twostores.User(uid)
			cl := dialIMAP(t, addr)
			if got, want := cl.subject(fmt.Sprintf("LOGIN %s %s", a.UID, a.Password)), twostores.WelcomeSubject(a); got != want {
				t.Errorf("%s sees %q, want %q", uid, got, want)
			}
			cl.cmd("LOGOUT")
		}
	})

	t.Run("non-ASCII name as a literal", func(t *testing.T) {
		a := twostores.User("jürgen")
		cl := dialIMAP(t, addr)
		got := cl.subject(fmt.Sprintf("LOGIN {%d+}\r\n%s %s", len(a.UID), a.UID, a.Password))
		if want := twostores.WelcomeSubject(a); got != want {
			t.Errorf("jürgen sees %q, want %q", got, want)
		}
	})

	t.Run("AUTHENTICATE PLAIN", func(t *testing.T) {
		a := twostores.User("bob")
		cl := dialIMAP(t, addr)
		ir := b64("\x00" + a.UID + "\x00" + a.Password)
		if got, want := cl.subject("AUTHENTICATE PLAIN "+ir), twostores.WelcomeSubject(a); got != want {
			t.Errorf("bob sees %q, want %q", got, want)
		}
	})

	t.Run("refusals look alike", func(t *testing.T) {
		want := "NO [AUTHENTICATIONFAILED] Authentication failed"
		// Two refusals a connection: a third would close it
		// (proxy.MaxLoginFailures).
		for _, logins := range [][]string{
			{"LOGIN alice wrongpw", "LOGIN nobody alicepw"},                     // the store refuses; the directory knows nobody
			{`LOGIN "*)(uid=*" alicepw`, `LOGIN "*" alicepw`},                   // LDAP injection and a wildcard find nobody
			{"LOGIN carol " + "carolpw", "LOGIN alice@nowhere.example alicepw"}, // mailUserStatus inactive; no such domain
		} {
			cl := dialIMAP(t, addr)
			for _, login := range logins {
				_, tagged := cl.cmd("%s", login)
				if _, text, _ := strings.Cut(tagged, " "); text != want {
					t.Errorf("%s: %q, want %q", login, tagged, want)
				}
			}
			// The same connection still logs in.
			a := twostores.User("alice")
			if got := cl.subject("LOGIN alice alicepw"); got != twostores.WelcomeSubject(a) {
				t.Errorf("alice after refusals sees %q", got)
			}
		}
	})

	t.Run("python imaplib", func(t *testing.T) {
		py := testenv.Binary(t, "python3")
		script := `
import imaplib, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = imaplib.IMAP4(host, port)
print("CAPS", " ".join(m.capabilities))
m.login(user, pw)
m.select("INBOX")
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(data[0][1].decode().strip())
m.logout()
`
		host, port, _ := net.SplitHostPort(addr)
		for _, uid := range []string{"alice", "bob"} {
			a := twostores.User(uid)
			out, err := exec.Command(py, "-c", script, host, port, a.UID, a.Password).CombinedOutput()
			if err != nil {
				t.Fatalf("imaplib as %s: %v\n%s", uid, err, out)
			}
			if want := "Subject: " + twostores.WelcomeSubject(a); !strings.Contains(string(out), want) {
				t.Errorf("imaplib as %s printed %q, want %q", uid, out, want)
			}
		}
	})

	t.Run("curl", func(t *testing.T) {
		curl := testenv.Binary(t, "curl")
		for _, uid := range []string{"alice", "bob"} {
			a := twostores.User(uid)
			out, err := exec.Command(curl, "-sS", "--max-time", "20",
				"imap://"+addr+"/INBOX;MAILINDEX=1", "-u", a.UID+":"+a.Password).CombinedOutput()
			if err != nil {
				t.Fatalf("curl as %s: %v\n%s", uid, err, out)
			}
			if want := "Subject: " + twostores.WelcomeSubject(a); !strings.Contains(string(out), want) {
				t.Errorf("curl as %s got %q, want %q", uid, out, want)
			}
		}
	})

	t.Run("log lines", func(t *testing.T) {
		// Sessions log their close line once the client is gone.
		time.Sleep(200 * time.Millisecond)
		files, _ := filepath.Glob(filepath.Join(logDir, "MMP_*.log"))
		if len(files) != 1 {
			t.Fatalf("log files %v, want one MMP_yyyymmdd.log", files)
		}
		data, _ := os.ReadFile(files[0])
		if os.Getenv("SHOWLOG") != "" {
			t.Log(string(data))
		}
		text := string(data)
		for _, want := range []string{"ImapProxy is listening", "logged in to store 127.0.0.11:", "logged in to store 127.0.0.12:", "bytes from client"} {
			if want == "ImapProxy is listening" {
				want = "listening on " + addr
			}
			if !strings.Contains(text, want) {
				t.Errorf("log has no %q:\n%s", want, text)
			}
		}
		for _, secret := range []string{"alicepw", "bobpw", "juergenpw", env.LDAP.ProxyPass} {
			if strings.Contains(text, secret) {
				t.Errorf("log contains the password %q", secret)
			}
		}
	})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// AService runs the services of an instance directory, the IMAP and the
// POP proxy; each writes its own log file.
func TestAServiceEndToEnd(t *testing.T) {
	env := twostores.Start(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	imapAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	popAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	files := map[string]string{
		"AService.cfg": "default:ServiceList ImapProxyAService@" + imapAddr + " PopProxyAService@" + popAddr + "\n" +
			"default:LogDir log\ndefault:LogLevel 6\n",
		"ImapProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\n"+
			"default:BindPass %s\ndefault:BacksidePort %d\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort),
		"PopProxyAService.cfg": "default:BacksidePort 110\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stderr := startDaemon(t, "AService", []string{"-c", dir}, imapAddr)
	if strings.Contains(stderr.String(), "not yet supported") {
		t.Errorf("stderr %q reports a service as unsupported", stderr)
	}
	if pc, err := net.Dial("tcp", popAddr); err != nil {
		t.Errorf("the POP service is not listening: %v", err)
	} else {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if g, _ := bufio.NewReader(pc).ReadString('\n'); !strings.HasPrefix(g, "+OK ") {
			t.Errorf("POP greeting %q", g)
		}
		pc.Close()
	}
	bob := twostores.User("bob")
	cl := dialIMAP(t, imapAddr)
	if got := cl.subject("LOGIN bob bobpw"); got != twostores.WelcomeSubject(bob) {
		t.Errorf("bob sees %q", got)
	}
	cl.cmd("LOGOUT")
	for _, proc := range []string{"AService", "ImapProxy"} {
		if m, _ := filepath.Glob(filepath.Join(logDir, proc+"_*.log")); len(m) != 1 {
			t.Errorf("no %s_yyyymmdd.log in %s", proc, logDir)
		}
	}
}
