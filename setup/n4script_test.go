package setup

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

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
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", proxyDir+"/", "./cmd/ImapProxy")
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
// runs the built ImapProxy, and returns its directory.
func n4Instance(t *testing.T, extra string) string {
	t.Helper()
	root := newRoot(t)
	code, out := runSetup(t, "", "--n4", "--answers", writeAnswers(t, fmt.Sprintf(`root = %s
instance = mplex1
service = imap
bindir = %s
ldap.host = ldap.airius.com:389
ldap.basedn = o=airius.com
imap.port = 127.0.0.1:%d
ldap.test = n
%s`, root, proxyBin(t), testenv.FreePort(t), extra)))
	if code != ExitOK {
		t.Fatalf("mmp-setup --n4 = %d; output:\n%s", code, out)
	}
	return filepath.Join(root, "mplex1")
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
	dir := n4Instance(t, "")
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
