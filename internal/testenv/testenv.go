// Package testenv holds helpers shared by the fixtures that start real peers
// (OpenLDAP slapd, Dovecot, Postfix) on loopback for integration tests.
//
// It is imported only by _test.go files and by the fixture packages below it
// (testenv/slapd, testenv/dovecot, testenv/twostores). Every fixture follows
// the same rules: configuration and data live in t.TempDir(), ports are
// allocated at run time (never fixed), each daemon runs in its own process
// group and is killed by t.Cleanup, and a missing binary skips the test with
// the name of the Debian package to install, except under CI (see Need),
// where it fails so that a broken CI image is noticed.
//
// Typical usage:
//
//	testenv.Need(t, "slapd", "ldapsearch")
//	port := testenv.FreePort(t)
//	... start something on 127.0.0.1:port ...
//	testenv.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// debianPackage names the Debian package that ships each binary the fixtures
// run, so that a skip message tells the reader what to install.
var debianPackage = map[string]string{
	"slapd":           "slapd",
	"systemd-analyze": "systemd",
	"slapadd":         "slapd",
	"slapcat":         "slapd",
	"ldapsearch":      "ldap-utils",
	"ldapadd":         "ldap-utils",
	"ldapmodify":      "ldap-utils",
	"ldapwhoami":      "ldap-utils",
	"dovecot":         "dovecot-core",
	"doveadm":         "dovecot-core",
	"imap":            "dovecot-imapd",
	"imap-login":      "dovecot-imapd",
	"pop3":            "dovecot-pop3d",
	"pop3-login":      "dovecot-pop3d",
	"postfix":         "postfix",
	"postconf":        "postfix",
	"redis-server":    "redis-server",
	"openssl":         "openssl",
	"certutil":        "libnss3-tools",
	"pk12util":        "libnss3-tools",
}

// extraDirs are searched after $PATH. Daemons live in sbin directories that
// are not on an ordinary user's PATH, and Dovecot's protocol binaries
// (imap, pop3) live in its private libexec directory.
var extraDirs = []string{
	"/usr/sbin",
	"/sbin",
	"/usr/local/sbin",
	"/usr/lib/dovecot",
	"/usr/libexec/dovecot",
	"/usr/local/libexec/dovecot",
	"/usr/lib/postfix/sbin",
	"/usr/libexec/postfix",
	"/usr/libexec/openldap",
	"/usr/lib/openldap",
}

// LookPath finds the executable name on $PATH or in the sbin and libexec
// directories where Debian and other distributions install daemons.
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("testenv: %s: not executable", name)
	}
	for _, dir := range extraDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("testenv: %s not found in $PATH or %s", name, strings.Join(extraDirs, ":"))
}

// InCI reports whether the environment variable CI is set to a true value
// (anything but "", "0" and "false"), as GitHub Actions, GitLab and our
// .ci/run do.
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "0" && v != "false"
}

// Need checks that every binary is installed. When one is missing it skips
// the test with a message naming the Debian package, except under CI (see
// InCI), where it fails the test: a CI image that lacks the daemons must not
// turn the integration tests into silent skips.
func Need(t testing.TB, binaries ...string) {
	t.Helper()
	var missing, pkgs []string
	seen := map[string]bool{}
	for _, b := range binaries {
		if _, err := LookPath(b); err == nil {
			continue
		}
		missing = append(missing, b)
		if pkg := debianPackage[filepath.Base(b)]; pkg != "" && !seen[pkg] {
			seen[pkg] = true
			pkgs = append(pkgs, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("testenv: %s not installed", strings.Join(missing, ", "))
	if len(pkgs) > 0 {
		msg += fmt.Sprintf(" (apt-get install %s)", strings.Join(pkgs, " "))
	}
	if InCI() {
		t.Fatal(msg + "; failing instead of skipping because CI is set")
	} else {
		t.Skip(msg)
	}
}

// Binary is Need for one binary that also returns its path.
func Binary(t testing.TB, name string) string {
	t.Helper()
	Need(t, name)
	p, err := LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
//
// It listens on port 0, reads the port the kernel chose and closes the
// listener, so there is a small race: another process may take the port
// before the daemon under test binds it. The kernel hands out ephemeral ports
// round-robin, so in practice this only matters on a machine that is opening
// thousands of connections at the same time; daemons that cannot be given an
// already-open socket leave no better choice.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePortOn(t, "127.0.0.1")
}

// FreePortOn returns one TCP port number that was free on every one of the
// given local addresses (see FreePort for the race). It exists for stores that
// listen on the same port of different loopback addresses (127.0.0.11:p and
// 127.0.0.12:p), the way the MMP expects every mailHost to serve one
// BacksidePort.
func FreePortOn(t testing.TB, hosts ...string) int {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	var lastErr error
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatalf("testenv: FreePortOn(%q): %v", hosts, err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		ok := true
		var held []net.Listener
		for _, h := range hosts[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				ok, lastErr = false, err
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		first.Close()
		if ok && claim(port) {
			return port
		}
	}
	t.Fatalf("testenv: FreePortOn(%q): no common free port: %v", hosts, lastErr)
	return 0
}

// handedOut are the ports FreePortOn returned in this process: the kernel
// may offer a port again as soon as its probe listener is closed, and two
// servers of one test (a store's IMAP and POP3 ports) must not be given
// the same one.
var handedOut sync.Map

func claim(port int) bool {
	_, taken := handedOut.LoadOrStore(port, true)
	return !taken
}

// NeedLoopback checks that the extra loopback addresses (127.0.0.11 and the
// like) can be bound. Linux routes all of 127.0.0.0/8 to lo; macOS and the
// BSDs only answer on 127.0.0.1 unless an alias is added. It skips (fails
// under CI) otherwise.
func NeedLoopback(t testing.TB, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		l, err := net.Listen("tcp", net.JoinHostPort(h, "0"))
		if err != nil {
			msg := fmt.Sprintf("testenv: cannot listen on loopback address %s: %v", h, err)
			if InCI() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		l.Close()
	}
}

// WaitListening waits until a TCP connection to addr succeeds, or fails the
// test after timeout.
func WaitListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	if err := waitListening(addr, timeout, nil); err != nil {
		t.Fatal(err)
	}
}

// waitListening polls addr until a connection succeeds, the timeout passes
// or exited is closed (the daemon died, so waiting longer is pointless).
func waitListening(addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var err error
	for {
		var c net.Conn
		c, err = net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: %s not listening after %v: %w", addr, timeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("testenv: process exited before %s was listening", addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RepoRoot returns the directory holding go.mod, found by walking up from
// the working directory (go test runs each package in its own directory).
// Fixtures use it to read the shared seeds under testdata/.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Tail returns at most the last max bytes of the file at path, for putting
// a daemon's log into a failure message. A missing file yields a note rather
// than an error because the daemon may have died before opening it.
func Tail(path string, max int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log file " + path + ")"
		}
		return fmt.Sprintf("(reading %s: %v)", path, err)
	}
	if len(b) > max {
		b = append([]byte("..."), b[len(b)-max:]...)
	}
	return string(b)
}

// GoTool is the go command that builds the programs a test runs as
// processes: the one on PATH, else the usual /usr/local/go.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// Unavailable ends a test that cannot run here: it skips, with msg, except
// under CI (InCI), where it fails, since a CI machine that lacks what a
// test needs must not turn the test into a silent skip.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if InCI() {
		t.Fatal(msg + "; failing instead of skipping because CI is set")
	}
	t.Skip(msg)
}

// NonLoopback returns an IPv4 address of this host that is not loopback,
// for tests of rules that treat local clients differently. When the host
// has none and the test runs as root, it adds one on a dummy interface
// (192.0.2.77, TEST-NET-1, removed when the test ends); otherwise it is
// Unavailable.
func NonLoopback(t testing.TB) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	if os.Geteuid() == 0 {
		if ip, err := LookPath("ip"); err == nil {
			const link, addr = "openmmp-t0", "192.0.2.77"
			run := func(args ...string) error { return exec.Command(ip, args...).Run() }
			if run("link", "add", link, "type", "dummy") == nil {
				t.Cleanup(func() { run("link", "del", link) })
				if run("addr", "add", addr+"/32", "dev", link) == nil && run("link", "set", link, "up") == nil {
					return addr
				}
			}
		}
	}
	Unavailable(t, "testenv: this host has no non-loopback IPv4 address, and none could be added")
	return ""
}
