package setup

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// These tests run what mmp-setup --n4 writes the way an administrator
// does: the ImapMMP start script, with the real ImapProxy program.

var (
	proxyOnce sync.Once
	proxyDir  string
	proxyErr  error
)

// proxyBin builds ImapProxy once per test binary into a directory that
// serves as the instance's bindir.
func proxyBin(t *testing.T) string {
	t.Helper()
	proxyOnce.Do(func() {
		proxyDir, proxyErr = os.MkdirTemp("", "openmmp-setup-bin-")
		if proxyErr != nil {
			return
		}
		cmd := exec.Command(testenv.GoTool(), "build", "-o", proxyDir+"/", "./cmd/ImapProxy")
		cmd.Dir = testenv.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			proxyErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if proxyErr != nil {
		t.Fatal(proxyErr)
	}
	return proxyDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if proxyDir != "" {
		os.RemoveAll(proxyDir)
	}
	os.Exit(code)
}

// n4Instance writes an IMAP-only Netscape instance whose ImapMMP script
// runs the built ImapProxy, and returns its directory and listening
// address.
func n4Instance(t *testing.T, extra string) (dir, addr string) {
	t.Helper()
	root := newRoot(t)
	addr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	code, out := runSetup(t, "", "--n4", "--answers", writeAnswers(t, fmt.Sprintf(`root = %s
instance = mplex1
service = imap
bindir = %s
ldap.host = ldap.airius.com:389
ldap.basedn = o=airius.com
imap.port = %s
ldap.test = n
%s`, root, proxyBin(t), addr, extra)))
	if code != ExitOK {
		t.Fatalf("mmp-setup --n4 = %d; output:\n%s", code, out)
	}
	return filepath.Join(root, "mplex1"), addr
}

// runScript runs a start script with a minimal environment, as init
// would, and returns its standard output.
func runScript(t *testing.T, script string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("/bin/sh", append([]string{script}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sh %s %q: %v\n%s%s", script, args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// listingLine is the `-h` line of a parameter, blanks collapsed.
func listingLine(listing, name string) string {
	for _, l := range strings.Split(listing, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return strings.Join(f, " ")
		}
	}
	return ""
}

// TestN4InstallRoundTrip: what `ImapProxy install` prints, pasted into
// ImapMMP.config, is honoured when the ImapMMP script starts ImapProxy
// (Netscape Messaging Server 4.x Administrator's Guide: install "displays
// configuration syntax on your screen which you can paste into
// Multiplexor configuration files"), Sun parameters included.
func TestN4InstallRoundTrip(t *testing.T) {
	dir, _ := n4Instance(t, "")
	bin := filepath.Join(proxyBin(t), "ImapProxy")
	out, err := exec.Command(bin, "install", "-v", "3", "--HostedDomains", "yes", "--Timeout", "900",
		"-x", "IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN X-NETSCAPE").Output()
	if err != nil {
		t.Fatalf("ImapProxy install: %v", err)
	}
	config := filepath.Join(dir, "ImapMMP.config")
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(out)
	f.Close()

	listing := runScript(t, filepath.Join(dir, "ImapMMP"), "-h")
	for _, want := range []string{
		"LogLevel 3 environment LogLevel", // pasted after mmp-setup's LogLevel=1: the later line wins
		"HostedDomains yes environment HostedDomains",
		"Timeout 900 environment Timeout",
		"Capability IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN X-NETSCAPE environment Capability",
		"LDAPHost ldap.airius.com:389 environment LDAPHost",
	} {
		if got := listingLine(listing, strings.Fields(want)[0]); got != want {
			t.Errorf("ImapMMP -h: %q, want %q", got, want)
		}
	}
}

// TestN4RunAsUser: the user mmp-setup --n4 asks for first ("the user name
// that Multiplexor should run as") is written to ImapMMP.config as
// BeTheUser, and the Multiplexor started by the ImapMMP script opens its
// port and then runs as that user.
func TestN4RunAsUser(t *testing.T) {
	run, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	dir, addr := n4Instance(t, "user = nobody\n")
	data, _ := os.ReadFile(filepath.Join(dir, "ImapMMP.config"))
	if !strings.Contains(string(data), "\nBeTheUser=nobody; export BeTheUser\n") {
		t.Errorf("ImapMMP.config does not name the run-as user:\n%s", data)
	}
	script := filepath.Join(dir, "ImapMMP")
	if got, want := listingLine(runScript(t, script, "-h"), "BeTheUser"), "BeTheUser nobody environment BeTheUser"; got != want {
		t.Errorf("ImapMMP -h: %q, want %q", got, want)
	}
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "not root: the switch to the run-as user cannot happen; the files were checked")
	}

	var stderr bytes.Buffer
	cmd := exec.Command("/bin/sh", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			t.Errorf("ImapProxy did not stop on SIGTERM")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("ImapMMP exited (%v) before listening on %s: %s", err, addr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ImapProxy does not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The script execs the proxy, so the process started is the proxy.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "Uid:" {
			if f[1] != run.Uid || f[2] != run.Uid {
				t.Errorf("ImapProxy runs with %s, want uid %s (nobody)", l, run.Uid)
			}
			return
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", cmd.Process.Pid)
}
