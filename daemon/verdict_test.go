package daemon

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/param"
)

// buildAService builds AService into dir. The verdict test runs it as a
// process of its own: a fixture's BeTheUser must not switch the test's
// own process when it runs as root.
func buildAService(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "AService")
	cmd := exec.Command(testenv.GoTool(), "build", "-o", bin, "./cmd/AService")
	cmd.Dir = testenv.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The verdict of AService -check on an instance is the daemon's: every
// instance the tests use, the fixtures under testdata and the instances
// written by the daemon tests, is checked, then run. A check without
// errors must give a daemon that opens every port and completes a TLS
// handshake on each SSL port; a check with errors must give a daemon that
// refuses to start with status ExitConfig (never one that starts and
// fails later, status ExitRuntime). The ports of each instance are moved
// to free loopback ports first and the placeholders of the mmp-setup
// golden files filled in; nothing else is changed.
func TestCheckAndDaemonAgree(t *testing.T) {
	bin := buildAService(t, t.TempDir())
	certs := testcert.New(t)
	// ROOT in the mmp-setup golden instances: real certificates where
	// the answers named them.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "certs"), 0o755)
	for from, to := range map[string]string{certs.CertFile: "mmp.crt", certs.KeyFile: "mmp.key", certs.CAFile: "clients.pem"} {
		copyFile(t, from, filepath.Join(root, "certs", to))
	}
	fixtures := map[string]string{ // name -> directory
		"sun63": "../config/testdata/sun63", "sun7": "../config/testdata/sun7", "broken": "../config/testdata/broken",
		"setup-all": "../setup/testdata/all", "setup-imap-pop": "../setup/testdata/imap-pop",
		"setup-modify-before": "../setup/testdata/modify/before", "setup-modify-after": "../setup/testdata/modify/after",
	}
	imap := "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\n"
	tlsOn := fmt.Sprintf("default:SSLEnable yes\ndefault:SSLPorts 994\ndefault:SSLCertPEM %s\ndefault:SSLKeyPEM %s\n", certs.CertFile, certs.KeyFile)
	written := map[string]map[string]string{
		// TestAServiceEndToEnd and TestAServicePidfileAndRefresh.
		"imap-pop": {"AService.cfg": "default:ServiceList ImapProxyAService@143 PopProxyAService@110\ndefault:LogDir log\ndefault:LogLevel 6\n",
			"ImapProxyAService.cfg": imap + "default:Banner before\n", "PopProxyAService.cfg": "default:BacksidePort 110\n"},
		// TestAServiceTLS.
		"tls": {"AService.cfg": "default:ServiceList ImapProxyAService@143|994\n", "ImapProxyAService.cfg": imap + tlsOn +
			"default:RestrictPlainPasswords yes\n"},
		// The Sun SSL block as the templates ship it, uncommented, with
		// no PEM certificate: every handshake would fail.
		"ssl-nss-only": {"AService.cfg": "default:ServiceList ImapProxyAService@143|994\n", "ImapProxyAService.cfg": imap +
			"default:SSLEnable yes\ndefault:SSLPorts 994\ndefault:SSLCertNicknames Server-Cert\n"},
		"ssl-not-a-certificate": {"AService.cfg": "default:ServiceList PopProxyAService@110|995\n", "PopProxyAService.cfg": imap +
			"default:SSLEnable yes\ndefault:SSLPorts 995\ndefault:SSLCertPEM spoof.txt\ndefault:SSLKeyPEM spoof.txt\n",
			"spoof.txt": "From: postmaster\n\nnot a certificate\n"},
		"store-ca-not-pem": {"AService.cfg": "default:ServiceList ImapProxyAService@143\n", "ImapProxyAService.cfg": imap +
			"default:SSLBacksidePort 993\ndefault:SSLBacksideCAPEM ca.pem\n", "ca.pem": "not PEM\n"},
		"empty-servicelist": {"AService.cfg": "default:ServiceList \"\"\n"},
		"unknown-user": {"AService.cfg": "default:ServiceList ImapProxyAService@143\ndefault:BeTheUser no-such-user-openmmp\n",
			"ImapProxyAService.cfg": imap},
		"misspelt": {"AService.cfg": "default:ServiceList ImapProxyAService@143\n", "ImapProxyAService.cfg": imap +
			"default:ClientTimeout 600\ndefault: Banner Siroe\n"},
		"smtp-sun-guide": {"AService.cfg": "default:ServiceList SmtpProxyAService@25|587\n", "SmtpProxyAService.cfg": "default:SmtpRelays sesta:485 gonzo mothra\n" +
			"default:SmtpProxyPassword A_Password\ndefault: EhloKeywords TURN\ndefault:AuthServiceTTL -1\n"},
	}
	judgeBoth := func(t *testing.T, dir string) {
		// An instance directory that BeTheUser can reach, as an
		// installed one is: t.TempDir makes its parent 0700.
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		ssl := relocate(t, dir)
		code, out, _ := run(t, "AService", nil, "-c", dir, "-check")
		checkOK := code == ExitOK
		if code != ExitOK && code != ExitConfig {
			t.Fatalf("check exited %d:\n%s", code, out)
		}
		d := startAService(t, bin, dir)
		t.Logf("check: exit %d; AService: %s", code, map[bool]string{true: "running", false: fmt.Sprintf("exit %d", d.code)}[d.code < 0])
		switch {
		case checkOK && d.code >= 0:
			t.Errorf("the check found no error, but AService exited %d:\ncheck:\n%s\nAService:\n%s", d.code, out, d.stderr)
		case !checkOK && d.code < 0:
			t.Errorf("the check found errors, but AService started:\ncheck:\n%s", out)
		case !checkOK && d.code != ExitConfig:
			t.Errorf("the check found errors; AService exited %d, want %d (the configuration is refused):\ncheck:\n%s\nAService:\n%s",
				d.code, ExitConfig, out, d.stderr)
		}
		if d.code >= 0 {
			return
		}
		for _, addr := range ssl {
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Errorf("the check found no error, but the TLS handshake on SSL port %s fails: %v\ncheck:\n%s", addr, err, out)
				continue
			}
			c.Close()
		}
	}
	for name, src := range fixtures {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			fill(t, dir, root)
			judgeBoth(t, dir)
		})
	}
	for name, files := range written {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, text := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			judgeBoth(t, dir)
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, data, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// fill replaces the placeholders of the mmp-setup golden files: ROOT by
// root, LDAPPORT by a port where no directory answers (the daemon does not
// ask the directory before the first login).
func fill(t *testing.T, dir, root string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		data = bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("ROOT"), []byte(root)), []byte("LDAPPORT"), []byte("1"))
		return os.WriteFile(path, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// relocate moves every address of the instance's ServiceList to a free
// port on 127.0.0.1, and the SSLPorts of its service files with them, by
// rewriting those values in place (cfgfmt keeps the rest of each file). It
// returns the SSL addresses. A ServiceList that does not parse is left
// alone: the check and the daemon refuse it anyway.
func relocate(t *testing.T, dir string) (ssl []string) {
	t.Helper()
	loopback := netip.MustParseAddr("127.0.0.1")
	edit := func(name string, change func(f *cfgfmt.File)) {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
		f, _ := cfgfmt.Parse(name, data, "")
		change(f)
		if err := os.WriteFile(path, f.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	moved := map[uint16]uint16{}
	edit("AService.cfg", func(f *cfgfmt.File) {
		l := f.Lookup("default", "ServiceList")
		if l == nil {
			t.Fatal("no ServiceList: AService would listen on 143 and 110")
		}
		entries, err := cfgfmt.ParseServiceList(l.Value)
		if err != nil {
			return
		}
		for _, e := range entries {
			for i, a := range e.Addrs {
				p := uint16(testenv.FreePort(t))
				moved[a.Port] = p
				e.Addrs[i] = cfgfmt.ListenAddr{IP: loopback, Port: p}
			}
		}
		if _, err := f.Set("default", "ServiceList", cfgfmt.FormatServiceList(entries)); err != nil {
			t.Fatal(err)
		}
	})
	for _, name := range []string{"ImapProxyAService.cfg", "PopProxyAService.cfg", "SmtpProxyAService.cfg"} {
		edit(name, func(f *cfgfmt.File) {
			for _, l := range f.Settings() {
				if !strings.EqualFold(l.Name, "SSLPorts") {
					continue
				}
				spec, err := cfgfmt.ParsePortSpec(l.Value)
				if err != nil {
					continue
				}
				for i, a := range spec {
					if p, ok := moved[a.Port]; ok {
						spec[i] = cfgfmt.ListenAddr{IP: loopback, Port: p}
						ssl = append(ssl, spec[i].String())
					}
				}
				if _, err := f.Set(l.Prefix, l.Name, cfgfmt.FormatPortSpec(spec)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	return ssl
}

// daemonRun is the outcome of starting AService: code is its exit status,
// or -1 while it runs with every port open.
type daemonRun struct {
	code   int
	stderr string
}

// startAService runs AService on dir until its pid file says every port
// is open, or until it exits. A running AService is stopped with SIGTERM
// at the end of the test.
func startAService(t *testing.T, bin, dir string) daemonRun {
	t.Helper()
	pidfile := filepath.Join(dir, "run", "AService.pid")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-c", dir, "-pidfile", pidfile)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 1)
	go func() {
		cmd.Wait()
		exited <- cmd.ProcessState.ExitCode()
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case code := <-exited:
			return daemonRun{code: code, stderr: stderr.String()}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("AService neither exited nor wrote %s", pidfile)
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := os.Stat(pidfile); err == nil {
			t.Cleanup(func() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(ShutdownGrace + 5*time.Second):
					cmd.Process.Kill()
					t.Error("AService did not exit after SIGTERM")
				}
			})
			return daemonRun{code: -1}
		}
	}
}

// The Netscape front ends judge as AService does: SSL switched on with
// the Netscape -s options and no PEM certificate would start a proxy
// whose every handshake fails; it is refused at start instead. (Run in
// process: if it started, SIGTERM stops it and the test fails.)
func TestFrontEndRefusesUnusableTLS(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	done := make(chan struct{})
	var code int
	var stderr bytes.Buffer
	go func() {
		defer close(done)
		code = MainIO("PopProxy", []string{"-p", addr, "-o", t.TempDir(), "-s", "", "cert7.db", "key3.db", "", "all", "Server-Cert"},
			IO{Out: &bytes.Buffer{}, Err: &stderr})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		<-done
		t.Fatalf("PopProxy started with SSL and no certificate")
	}
	if code != ExitConfig || !strings.Contains(stderr.String(), "SSLEnable: TLS cannot be set up: ") {
		t.Errorf("PopProxy exited %d, want %d; stderr:\n%s", code, ExitConfig, stderr.String())
	}
}

// A configuration file with no setting is an error of the verdict, for
// AService (check, start, refresh) and the front ends' --config file.
func TestVerdictRefusesEmptyFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "AService.cfg"), []byte("default:ServiceList ImapProxyAService@1143\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ImapProxyAService.cfg"), []byte("# emptied\n"), 0o644)
	_, problems := loadInstance(dir, false)
	if !problems.Fatal() || problems.Err(config.Fatal).Error() != "ImapProxyAService.cfg: "+errNoSetting {
		t.Errorf("problems %v, want ImapProxyAService.cfg refused for having no setting", problems)
	}
	file := filepath.Join(t.TempDir(), "ImapMMP.config")
	os.WriteFile(file, nil, 0o644)
	if _, problems := loadFrontEnd(config.FrontEnd{Protocol: param.IMAP, File: file}); problems.Err(config.Fatal) == nil ||
		problems.Err(config.Fatal).Error() != file+": "+errNoSetting {
		t.Errorf("front end: problems %v, want the empty --config file refused", problems)
	}
}
