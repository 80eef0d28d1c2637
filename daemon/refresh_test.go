package daemon

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

func TestParseAServiceNewOptions(t *testing.T) {
	a, help, err := parseAService([]string{"-c", "d", "-f", "--log-stderr", "--pidfile=/run/x.pid"})
	if err != nil || help {
		t.Fatal(err, help)
	}
	if !a.foreground || !a.logStderr || a.pidfile != "/run/x.pid" || a.dir != "d" {
		t.Errorf("parsed %+v", a)
	}
}

func TestStatusText(t *testing.T) {
	if got := statusText(outcome{summary: "1 service(s)"}); got != "ok: refreshed: 1 service(s)\n" {
		t.Errorf("ok: %q", got)
	}
	if got := statusText(outcome{summary: "1 service(s)", changes: []string{"I(i.cfg): Banner: \"a\" -> \"b\""}, warnings: []string{"a.cfg:2: X: w (warning)"}}); got != "ok: refreshed: 1 service(s)\nI(i.cfg): Banner: \"a\" -> \"b\"\na.cfg:2: X: w (warning)\n" {
		t.Errorf("ok with a change and a warning: %q", got)
	}
	got := statusText(outcome{failures: []string{"a.cfg:3: Timeout: bad"}})
	if !strings.HasPrefix(got, "failed: the configuration has errors; the previous configuration is kept\n") || !strings.HasSuffix(got, "a.cfg:3: Timeout: bad\n") {
		t.Errorf("failed: %q", got)
	}
}

// imapGreeting returns the first line a new IMAP session sees.
func imapGreeting(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return l
}

// waitFile waits for a file the daemon writes and returns its contents.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if data, err := os.ReadFile(path); err == nil {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AService writes its pid file once listening and removes it at exit,
// copies its log to standard error with --log-stderr, and on SIGHUP
// applies a good configuration and refuses a broken one, recording each
// outcome in the refresh status file. No directory is needed: only
// greetings are looked at.
func TestAServicePidfileAndRefresh(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"log", "run"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	imap := func(banner string) string {
		return "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\ndefault:Banner " + banner + "\n"
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("AService.cfg", "default:ServiceList ImapProxyAService@"+addr+"\ndefault:LogDir log\ndefault:LogLevel 6\n")
	write("ImapProxyAService.cfg", imap("before"))
	pidfile := filepath.Join(dir, "run", "AService-1.pid")
	t.Cleanup(func() { // runs after startDaemon's SIGTERM
		if _, err := os.Stat(pidfile); err == nil {
			t.Error("pid file left after exit")
		}
	})
	stderr := startDaemon(t, "AService", []string{"-c", dir, "-pidfile", pidfile, "--log-stderr"}, addr)

	if got := strings.TrimSpace(waitFile(t, pidfile)); got != fmt.Sprint(os.Getpid()) {
		t.Errorf("pid file %q, want %d", got, os.Getpid())
	}
	if g := imapGreeting(t, addr); !strings.Contains(g, "before") {
		t.Fatalf("greeting %q", g)
	}
	status := RefreshStatusFile(dir, os.Getpid())
	hup := func() string {
		t.Helper()
		os.Remove(status)
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		return waitFile(t, status)
	}

	write("ImapProxyAService.cfg", imap("after"))
	if got := hup(); !strings.HasPrefix(got, "ok: refreshed: 1 service(s): 1 updated") {
		t.Errorf("status %q", got)
	}
	if g := imapGreeting(t, addr); !strings.Contains(g, "after") {
		t.Errorf("greeting after refresh %q", g)
	}

	write("ImapProxyAService.cfg", imap("broken")+"default:Timeout soon\n")
	got := hup()
	if !strings.HasPrefix(got, "failed: ") || !strings.Contains(got, "ImapProxyAService.cfg:4: Timeout: ") {
		t.Errorf("status %q", got)
	}
	if g := imapGreeting(t, addr); !strings.Contains(g, "after") {
		t.Errorf("greeting after a refused refresh %q, want the previous banner", g)
	}
	for _, want := range []string{"listening on " + addr, "refreshed: ", "refresh failed", "ImapProxyAService.cfg:4: Timeout: "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--log-stderr output has no %q:\n%s", want, stderr)
		}
	}
}

// A Netscape front end refreshes from its --config file; the command line
// given at start still wins over it.
func TestFrontEndRefresh(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ImapMMP.config")
	write := func(banner string) {
		t.Helper()
		text := "Banner=\"" + banner + "\"; export Banner\nLDAPHost=127.0.0.1:1; export LDAPHost\n"
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("from file")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startDaemon(t, "ImapProxy", []string{"--config", cfg, "-p", addr, "-b", "o=internet"}, addr)
	if g := imapGreeting(t, addr); !strings.Contains(g, "from file") {
		t.Fatalf("greeting %q", g)
	}
	write("refreshed file")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := imapGreeting(t, addr)
		if strings.Contains(g, "refreshed file") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("greeting after SIGHUP %q", g)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A refresh that applies a configuration with warnings (a misspelt
// parameter, which is ignored) says so: in the refresh status file that
// refresh(8) prints, and in the AService log at the default LogLevel 1.
func TestRefreshReportsWarnings(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"log", "run"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	imap := "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\n"
	write("AService.cfg", "default:ServiceList ImapProxyAService@"+addr+"\ndefault:LogDir log\ndefault:LogLevel 1\n")
	write("ImapProxyAService.cfg", imap)
	startDaemon(t, "AService", []string{"-c", dir, "-pidfile", filepath.Join(dir, "run", "AService.pid")}, addr)
	waitFile(t, filepath.Join(dir, "run", "AService.pid"))

	write("ImapProxyAService.cfg", imap+"default:ClientTimeout 600\n")
	status := RefreshStatusFile(dir, os.Getpid())
	os.Remove(status)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	got := waitFile(t, status)
	want := "ImapProxyAService.cfg:3: ClientTimeout: unknown parameter (did you mean Timeout?); ignored (warning)"
	if !strings.HasPrefix(got, "ok: refreshed: ") || !strings.Contains(got, "\n"+want+"\n") {
		t.Errorf("status %q, want ok and %q", got, want)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "log", "AService_*.log"))
	if len(logs) != 1 {
		t.Fatalf("AService logs: %v", logs)
	}
	if data, _ := os.ReadFile(logs[0]); !strings.Contains(string(data), want) {
		t.Errorf("the AService log at LogLevel 1 lacks %q:\n%s", want, data)
	}
}
