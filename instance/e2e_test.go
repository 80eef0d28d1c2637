package instance_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/instance"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds AService, start-msg, stop-msg and refresh once per test
// binary into one directory, as they are installed: start-msg finds
// AService next to itself.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "openmmp-bin-")
		if buildErr != nil {
			return
		}
		goBin := testenv.GoTool()
		cmd := exec.Command(goBin, "build", "-o", binDir+"/", "./cmd/AService", "./cmd/start-msg", "./cmd/stop-msg", "./cmd/refresh")
		cmd.Dir = testenv.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// command runs one of the built commands and returns its exit status.
func command(t *testing.T, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(filepath.Join(binaries(t), name), args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return 0, o.String(), e.String()
}

// becomeSubreaper makes this process the parent of daemons whose
// start-msg exited, so that the test can reap them: otherwise an init
// that does not reap leaves a zombie that kill -0 still finds.
func becomeSubreaper(t *testing.T) {
	const prSetChildSubreaper = 36
	if runtime.GOOS != "linux" {
		return
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Logf("PR_SET_CHILD_SUBREAPER: %v", errno)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// greeting connects and returns the server's first line.
func greeting(t *testing.T, addr string) (*testenv.Conn, string) {
	t.Helper()
	c := testenv.Dial(t, addr)
	return c, c.ReadLine()
}

// The scenario: start-msg starts an instance, a session survives
// two refreshes, a new listener opens, a broken edit is refused with its
// file:line and the previous configuration stays, stop-msg ends it.
func TestStartRefreshStop(t *testing.T) {
	env := twostores.Start(t)
	becomeSubreaper(t)
	root := t.TempDir()
	dir := filepath.Join(root, "east")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	imapAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	imapAddr2 := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	popAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	aservice := func(imapPorts string) string {
		return "default:ServiceList ImapProxyAService@" + imapPorts + " PopProxyAService@" + popAddr + "\n" +
			"default:LogDir log\ndefault:LogLevel 6\n"
	}
	imapCfg := func(banner string) string {
		return fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\n"+
			"default:BindPass %s\ndefault:BacksidePort %d\ndefault:BGExcluded 127.0.0.0/8\ndefault:Banner %s\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort, banner)
	}
	writeFiles(t, dir, map[string]string{
		"AService.cfg":          aservice(imapAddr),
		"ImapProxyAService.cfg": imapCfg("first banner"),
		"PopProxyAService.cfg":  fmt.Sprintf("default:BacksidePort %d\n", env.POP3Port),
	})

	code, out, errOut := command(t, "start-msg", "--root", root, "mmp", "east")
	if code != instance.ExitOK {
		t.Fatalf("start-msg: exit %d\n%s%s", code, out, errOut)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("start-msg printed %q, want a pid", out)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
		if t.Failed() {
			for _, f := range []string{"log/AService.out"} {
				data, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("%s:\n%s", f, data)
			}
			logs, _ := filepath.Glob(filepath.Join(dir, "log", "*.log"))
			for _, f := range logs {
				t.Logf("%s:\n%s", f, testenv.Tail(f, 4000))
			}
		}
	})
	if data, _ := os.ReadFile(filepath.Join(dir, instance.PidsFile)); strings.TrimSpace(string(data)) != strconv.Itoa(pid) {
		t.Errorf("%s = %q, want %d", instance.PidsFile, data, pid)
	}

	// A session that stays logged in across every refresh below.
	old, g := greeting(t, imapAddr)
	if !strings.Contains(g, "first banner") {
		t.Fatalf("greeting %q", g)
	}
	if _, tagged := old.IMAP("a1", "LOGIN bob bobpw"); !strings.HasPrefix(tagged, "a1 OK") {
		t.Fatalf("LOGIN: %s", tagged)
	}

	refresh := func(wantCode int) (string, string) {
		t.Helper()
		code, out, errOut := command(t, "refresh", "--root", root, "mmp", "east")
		if code != wantCode {
			t.Fatalf("refresh: exit %d, want %d\n%s%s", code, wantCode, out, errOut)
		}
		return out, errOut
	}
	stillLoggedIn := func(step string) {
		t.Helper()
		if _, tagged := old.IMAP("n"+step, "NOOP"); !strings.HasPrefix(tagged, "n"+step+" OK") {
			t.Errorf("%s: NOOP in the old session: %s", step, tagged)
		}
		if _, tagged := old.IMAP("s"+step, "SELECT INBOX"); !strings.HasPrefix(tagged, "s"+step+" OK") {
			t.Errorf("%s: SELECT in the old session: %s", step, tagged)
		}
	}

	t.Run("banner", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"ImapProxyAService.cfg": imapCfg("second banner")})
		out, _ := refresh(instance.ExitOK)
		if !strings.Contains(out, fmt.Sprintf("pid %d: ok: refreshed: ", pid)) {
			t.Errorf("refresh printed %q", out)
		}
		// What changed is listed under the outcome.
		if want := `  ImapProxy(ImapProxyAService.cfg): Banner: "first banner" -> "second banner"` + "\n"; !strings.Contains(out, want) {
			t.Errorf("refresh printed %q, want the change %q", out, want)
		}
		stillLoggedIn("1")
		if _, g := greeting(t, imapAddr); !strings.Contains(g, "second banner") {
			t.Errorf("new session greeting %q, want the new banner", g)
		}
	})

	t.Run("listener added", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"AService.cfg": aservice(imapAddr + "|" + imapAddr2)})
		out, _ := refresh(instance.ExitOK)
		if !strings.Contains(out, "1 opened") {
			t.Errorf("refresh printed %q", out)
		}
		if _, g := greeting(t, imapAddr2); !strings.Contains(g, "second banner") {
			t.Errorf("greeting on the new port %q", g)
		}
		stillLoggedIn("2")
	})

	t.Run("listener and service removed", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"AService.cfg": "default:ServiceList ImapProxyAService@" + imapAddr + "\n" +
			"default:LogDir log\ndefault:LogLevel 6\n"})
		out, _ := refresh(instance.ExitOK)
		if !strings.Contains(out, "1 removed") || !strings.Contains(out, "1 closed") {
			t.Errorf("refresh printed %q", out)
		}
		for _, addr := range []string{imapAddr2, popAddr} {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts after it was removed", addr)
			}
		}
		stillLoggedIn("r")
	})

	t.Run("misspelt parameter warned", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"ImapProxyAService.cfg": imapCfg("second banner") + "default:ClientTimeout 600\n"})
		out, _ := refresh(instance.ExitOK)
		want := "  ImapProxyAService.cfg:7: ClientTimeout: unknown parameter (did you mean Timeout?); ignored (warning)\n"
		if !strings.Contains(out, fmt.Sprintf("pid %d: ok: refreshed: ", pid)) || !strings.Contains(out, want) {
			t.Errorf("refresh printed %q, want the warning %q", out, want)
		}
		stillLoggedIn("w")
	})

	t.Run("emptied file refused", func(t *testing.T) {
		// An editor truncating the file in place when refresh runs.
		if err := os.Truncate(filepath.Join(dir, "ImapProxyAService.cfg"), 0); err != nil {
			t.Fatal(err)
		}
		_, errOut := refresh(instance.ExitFailed)
		if !strings.Contains(errOut, "  ImapProxyAService.cfg: the file has no setting") || !strings.Contains(errOut, "previous configuration is kept") {
			t.Errorf("refresh error output %q", errOut)
		}
		if _, g := greeting(t, imapAddr); !strings.Contains(g, "second banner") {
			t.Errorf("after an emptied file the greeting is %q, want the previous banner", g)
		}
		stillLoggedIn("e")
	})

	t.Run("broken edit refused", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"ImapProxyAService.cfg": imapCfg("third banner") + "default:Timeout soon\n"})
		_, errOut := refresh(instance.ExitFailed)
		// The Timeout line is line 7 of the file written above.
		if !regexp.MustCompile(`ImapProxyAService\.cfg:7: Timeout: `).MatchString(errOut) {
			t.Errorf("refresh error output does not name the file and line:\n%s", errOut)
		}
		if !strings.Contains(errOut, "previous configuration is kept") {
			t.Errorf("refresh error output %q", errOut)
		}
		if _, g := greeting(t, imapAddr); !strings.Contains(g, "second banner") {
			t.Errorf("after a refused refresh the greeting is %q, want the previous banner", g)
		}
		stillLoggedIn("3")
	})

	t.Run("stop", func(t *testing.T) {
		old.Close()
		code, out, errOut := command(t, "stop-msg", "--root", root, "mmp", "east")
		if code != instance.ExitOK {
			t.Fatalf("stop-msg: exit %d\n%s%s", code, out, errOut)
		}
		stopped = true
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, syscall.WNOHANG, nil) // reap it if it is ours
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d still exists after stop-msg", pid)
			}
			time.Sleep(20 * time.Millisecond)
			syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, instance.PidsFile)); strings.TrimSpace(string(data)) != "" {
			t.Errorf("%s after stop = %q, want empty", instance.PidsFile, data)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid")); len(left) > 0 {
			t.Errorf("pid files left behind: %v", left)
		}
		if code, _, errOut := command(t, "stop-msg", "--root", root, "mmp", "east"); code != instance.ExitNotRunning {
			t.Errorf("second stop-msg: exit %d, want %d (%s)", code, instance.ExitNotRunning, errOut)
		}
		if code, _, _ := command(t, "refresh", "--root", root, "mmp"); code != instance.ExitNotRunning {
			t.Errorf("refresh with nothing running: exit %d, want %d", code, instance.ExitNotRunning)
		}
	})
}

// start-msg with a broken configuration fails with the daemon's file:line
// message and registers nothing.
func TestStartRefusesBrokenConfig(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "east")
	os.Mkdir(dir, 0o755)
	port := testenv.FreePort(t)
	writeFiles(t, dir, map[string]string{
		"AService.cfg":          fmt.Sprintf("default:ServiceList ImapProxyAService@127.0.0.1:%d\n", port),
		"ImapProxyAService.cfg": "default:Timeout soon\n",
	})
	code, out, errOut := command(t, "start-msg", "--root", root, "mmp")
	if code != instance.ExitFailed || out != "" {
		t.Fatalf("start-msg: exit %d, stdout %q, want %d", code, out, instance.ExitFailed)
	}
	if !strings.Contains(errOut, "ImapProxyAService.cfg:1: Timeout: ") {
		t.Errorf("stderr does not name file:line:\n%s", errOut)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, instance.PidsFile)); strings.TrimSpace(string(data)) != "" {
		t.Errorf("%s = %q after a failed start", instance.PidsFile, data)
	}
}

// Started as root, AService binds a privileged port and then runs as
// BeTheUser/BeTheGroup; it can still write its pid and refresh status
// files, and start-msg, refresh and stop-msg work as before.
func TestPrivilegeDrop(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root")
	}
	becomeSubreaper(t)
	var port int
	for p := 900; p < 1024 && port == 0; p++ {
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			ln.Close()
			port = p
		}
	}
	if port == 0 {
		testenv.Unavailable(t, "no free port below 1024")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "east")
	os.Mkdir(dir, 0o755)
	// The daemon, once nobody, must reach its run directory.
	for d := root; d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, fi.Mode().Perm()|0o005)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	writeFiles(t, dir, map[string]string{
		"AService.cfg":          "default:ServiceList ImapProxyAService@" + addr + "\ndefault:BeTheUser nobody\ndefault:BeTheGroup nogroup\n",
		"ImapProxyAService.cfg": "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:Banner low port\n",
	})
	code, out, errOut := command(t, "start-msg", "--root", root, "mmp", "east")
	if code != instance.ExitOK {
		t.Fatalf("start-msg: exit %d\n%s%s", code, out, errOut)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(out))
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") {
			for _, id := range f[1:] {
				if id != "65534" {
					t.Errorf("%s, want 65534 (nobody/nogroup) everywhere", l)
					break
				}
			}
		}
	}
	c, g := greeting(t, addr)
	if !strings.Contains(g, "low port") {
		t.Errorf("greeting %q", g)
	}
	c.Close()
	if code, out, errOut := command(t, "refresh", "--root", root, "mmp"); code != instance.ExitOK {
		t.Errorf("refresh as nobody: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := command(t, "stop-msg", "--root", root, "mmp"); code != instance.ExitOK {
		t.Errorf("stop-msg: exit %d\n%s%s", code, out, errOut)
	}
}
