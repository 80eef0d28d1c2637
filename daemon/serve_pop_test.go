package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// startPopProxy runs `PopProxy -p ... -h ... -b ... -D ... -w ... -c ...
// -o ... -v 10` in-process against env and returns its address and log
// directory. LogLevel 10 writes protocol traces, which must not show
// passwords. Only one daemon may run at a time in a test process (they
// share SIGTERM), so callers start it in a subtest of its own.
func startPopProxy(t *testing.T, env *twostores.Env, extra ...string) (addr, logDir string) {
	t.Helper()
	addr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	logDir = t.TempDir()
	args := append([]string{
		"-p", addr,
		"-h", fmt.Sprintf("%s:%d", env.LDAP.Host, env.LDAP.Port),
		"-b", env.LDAP.BaseDN,
		"-D", env.LDAP.ProxyDN,
		"-w", env.LDAP.ProxyPass,
		"-c", strconv.Itoa(env.POP3Port),
		"-o", logDir,
		"-v", "10",
		// Failed logins are answered at once here; the delay has its
		// own test (serve_timing_test.go).
		"--AuthFailureDelay", "0",
		// Every client here is on loopback: without this, BadGuys would
		// add seconds to each attempt after the deliberate failures
		// (popproxy's TestBadGuys covers the penalty).
		"--BGExcluded", "127.0.0.0|255.0.0.0",
	}, extra...)
	startDaemon(t, "PopProxy", args, addr)
	return addr, logDir
}

// poplibScript drives Python's poplib, the client of countless scripts:
//
//	fetch USER PW        log in, print CAPA, STAT, UIDL 1 and message 1
//	logins U1 P1 U2 ...  try each login in turn on one connection
const poplibScript = `
import poplib, sys
host, port, mode, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
p = poplib.POP3(host, port, timeout=20)
print("GREETING", p.getwelcome().decode())
def login(u, pw):
    try:
        p.user(u)
        p.pass_(pw)
        return "OK"
    except poplib.error_proto as e:
        return e.args[0].decode()
if mode == "fetch":
    print("LOGIN", login(args[0], args[1]))
    print("CAPA", " ".join(sorted(p.capa().keys())))
    n, size = p.stat()
    print("STAT", n, size)
    if n:
        print("UIDL", p.uidl(1).decode())
        resp, lines, octets = p.retr(1)
        print("MESSAGE")
        print("\n".join(l.decode() for l in lines))
    p.quit()
elif mode == "logins":
    for i in range(0, len(args), 2):
        print("LOGIN", args[i], login(args[i], args[i+1]))
    p.quit()
`

// poplib runs poplibScript and returns its output.
func poplib(t *testing.T, addr string, args ...string) string {
	t.Helper()
	py := testenv.Binary(t, "python3")
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(py, append([]string{"-c", poplibScript, host, port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("poplib %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// field returns the rest of the first output line starting with key.
func field(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, key+" "); ok {
			return rest
		}
	}
	return ""
}

// curlPOP fetches one message, or the listing with index "", with curl.
func curlPOP(t *testing.T, addr, user, pass, index string) (string, error) {
	t.Helper()
	curl := testenv.Binary(t, "curl")
	out, err := exec.Command(curl, "-sS", "--max-time", "20", "pop3://"+addr+"/"+index, "-u", user+":"+pass).CombinedOutput()
	return string(out), err
}

// checkLog reads the log of a PopProxy front end, checks it has every
// want and no password, and returns it.
func checkLog(t *testing.T, logDir string, want ...string) string {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // sessions log their close line once the client is gone
	files, _ := filepath.Glob(filepath.Join(logDir, "MMP_*.log"))
	if len(files) != 1 {
		t.Fatalf("log files %v, want one MMP_yyyymmdd.log", files)
	}
	data, _ := os.ReadFile(files[0])
	text := string(data)
	if os.Getenv("SHOWLOG") != "" {
		t.Log(text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("log has no %q:\n%s", w, text)
		}
	}
	for _, secret := range []string{"alicepw", "bobpw", "carolpw", "Wr0ngSecret", "YWxpY2Vwdw"} {
		if strings.Contains(text, secret) {
			t.Errorf("log contains the password %q", secret)
		}
	}
	return text
}

const spoofNotice = "From: postmaster@example.com\r\n" +
	"Subject: Your mailbox is temporarily unavailable\r\n" +
	"\r\n" +
	"Your mail server is undergoing maintenance.\r\n" +
	"..Your messages are safe.\r\n" +
	".\r\n"

func TestPopProxyEndToEnd(t *testing.T) {
	env := twostores.Start(t)
	failed := "-ERR [AUTH] Authentication failed"

	t.Run("store up", func(t *testing.T) {
		addr, logDir := startPopProxy(t, env, "--AuthService", "yes", "--AuthServiceTTL", "900")

		t.Run("poplib: users land on their own store", func(t *testing.T) {
			for _, uid := range []string{"alice", "bob"} {
				a := twostores.User(uid)
				out := poplib(t, addr, "fetch", a.UID, a.Password)
				if field(out, "LOGIN") != "OK" || field(out, "STAT") == "0 0" {
					t.Fatalf("%s: %s", uid, out)
				}
				if want := "Subject: " + twostores.WelcomeSubject(a); !strings.Contains(out, want) {
					t.Errorf("%s got %q, want %q", uid, out, want)
				}
				if want := "This message lives on " + a.MailHost + "."; !strings.Contains(out, want) {
					t.Errorf("%s got %q, want the body %q", uid, out, want)
				}
			}
		})

		t.Run("poplib: refusals look alike, then a good login", func(t *testing.T) {
			// On one connection a wrong password and an unknown user,
			// then the right password; on another an inactive user and
			// an LDAP wildcard, then the right password (a third
			// failure would close the connection: MaxLoginFailures).
			for _, tc := range []struct{ args, want []string }{
				{[]string{"alice", "Wr0ngSecret", "nobody", "alicepw", "alice", "alicepw"},
					[]string{"LOGIN alice " + failed, "LOGIN nobody " + failed, "LOGIN alice OK"}},
				{[]string{"carol", "carolpw", "*", "alicepw", "alice", "alicepw"},
					[]string{"LOGIN carol " + failed, "LOGIN * " + failed, "LOGIN alice OK"}},
			} {
				out := poplib(t, addr, append([]string{"logins"}, tc.args...)...)
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != len(tc.want)+1 || strings.Join(lines[1:], "|") != strings.Join(tc.want, "|") {
					t.Errorf("poplib printed\n%s\nwant\n%s", out, strings.Join(tc.want, "\n"))
				}
			}
		})

		t.Run("curl: AUTH to the MMP, replayed as AUTH PLAIN", func(t *testing.T) {
			for _, uid := range []string{"alice", "bob"} {
				a := twostores.User(uid)
				out, err := curlPOP(t, addr, a.UID, a.Password, "1")
				if err != nil {
					t.Fatalf("curl as %s: %v\n%s", uid, err, out)
				}
				if want := "Subject: " + twostores.WelcomeSubject(a); !strings.Contains(out, want) {
					t.Errorf("curl as %s got %q, want %q", uid, out, want)
				}
			}
			out, err := curlPOP(t, addr, "alice", "Wr0ngSecret", "1")
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 67 {
				t.Errorf("curl with a wrong password: %v (%s), want exit status 67 (login denied)", err, out)
			}
		})

		t.Run("XQUERYAUTH from loopback", func(t *testing.T) {
			poplib(t, addr, "fetch", "bob", "bobpw")
			user, ok, err := authsvc.Remote{Addr: addr}.Lookup(context.Background(), netip.MustParseAddr("127.0.0.1"))
			if user != "bob" || !ok || err != nil {
				t.Errorf("XQUERYAUTH 127.0.0.1 = %q, %v, %v; want bob, true, nil", user, ok, err)
			}
			_, ok, err = authsvc.Remote{Addr: addr}.Lookup(context.Background(), netip.MustParseAddr("192.0.2.200"))
			if ok || err != nil {
				t.Errorf("XQUERYAUTH of an unknown address = %v, %v; want false, nil", ok, err)
			}
		})

		checkLog(t, logDir, "listening on "+addr, "logged in to store 127.0.0.11:", "logged in to store 127.0.0.12:",
			"bytes from client", "client command PASS", "XQUERYAUTH 127.0.0.1 from 127.0.0.1: 'bob'")
	})

	// With the first store stopped, alice's logins meet each of the spoof
	// rules; bob, on the other store, is not affected.
	env.Store1.Stop()
	spoofFile := filepath.Join(t.TempDir(), "spoof.txt")
	if err := os.WriteFile(spoofFile, []byte(spoofNotice), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("store down, no spoof", func(t *testing.T) {
		addr, logDir := startPopProxy(t, env)
		out := poplib(t, addr, "logins", "alice", "alicepw", "bob", "bobpw")
		if got, want := field(out, "LOGIN alice"), "-ERR [SYS/TEMP] Your POP server appears to be temporarily out of service."; got != want {
			t.Errorf("alice: %q, want %q", got, want)
		}
		if got := field(out, "LOGIN bob"); got != "OK" {
			t.Errorf("bob on the other store: %q", got)
		}
		checkLog(t, logDir, "no store reachable (127.0.0.11)")
	})

	t.Run("store down, SpoofEmptyMailbox", func(t *testing.T) {
		addr, logDir := startPopProxy(t, env, "--SpoofEmptyMailbox", "on", "-m", spoofFile)
		out := poplib(t, addr, "fetch", "alice", "alicepw")
		if field(out, "LOGIN") != "OK" || field(out, "STAT") != "0 0" {
			t.Errorf("poplib: %s", out)
		}
		// curl prints the CRLF before an empty listing's dot line (it does
		// the same with Dovecot's "+OK 0 messages:" CRLF "." CRLF).
		if out, err := curlPOP(t, addr, "alice", "alicepw", ""); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("curl LIST: %q, %v; want an empty listing", out, err)
		}
		checkLog(t, logDir, "SPOOF: serving an empty mailbox (SpoofEmptyMailbox)")
	})

	// The spoof message's UIDL is the same in every session and in every
	// process, so that a client keeping mail on the server fetches it once.
	var uidls []string
	for i := range 2 {
		t.Run(fmt.Sprintf("store down, SpoofMessageFile, process %d", i+1), func(t *testing.T) {
			addr, logDir := startPopProxy(t, env, "-m", spoofFile)
			for range 2 {
				out := poplib(t, addr, "fetch", "alice", "alicepw")
				if field(out, "LOGIN") != "OK" || !strings.HasPrefix(field(out, "STAT"), "1 ") {
					t.Fatalf("poplib: %s", out)
				}
				if !strings.Contains(out, "Subject: Your mailbox is temporarily unavailable\n\nYour mail server is undergoing maintenance.\n.Your messages are safe.") {
					t.Errorf("poplib got %q", out)
				}
				uidl := field(out, "UIDL")
				if !regexp.MustCompile(`^\+OK 1 mmp-spoof-[0-9a-f]{24}$`).MatchString(uidl) {
					t.Errorf("UIDL reply %q", uidl)
				}
				uidls = append(uidls, uidl)
			}
			out, err := curlPOP(t, addr, "alice", "alicepw", "1")
			if err != nil || !strings.Contains(out, "\r\n.Your messages are safe.\r\n") {
				t.Errorf("curl RETR: %q, %v", out, err)
			}
			checkLog(t, logDir, "SPOOF: serving the spoof message")
		})
	}
	if len(uidls) != 4 || uidls[0] != uidls[1] || uidls[0] != uidls[2] || uidls[0] != uidls[3] {
		t.Errorf("UIDLs %q, want four equal ones", uidls)
	}
}
