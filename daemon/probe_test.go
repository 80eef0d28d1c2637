package daemon

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/postfix"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// A Sun SmtpProxyAService.cfg pointed at Postfix keeps the default
// SmtpRelayAnnounce xpehlo, and every SMTP session would fail. AService
// -check --probe finds that before any client does, with the directory
// and the stores the IMAP service will use; xclient then checks clean.
// The daemon logs the same finding at start.
func TestCheckProbe(t *testing.T) {
	env := twostores.Start(t)
	pf := postfix.Start(t, postfix.WithXCLIENTHosts("127.0.0.1"))
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "log"), 0o700); err != nil {
		t.Fatal(err)
	}
	imapAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("AService.cfg", fmt.Sprintf("default:ServiceList ImapProxyAService@%s SmtpProxyAService@%s\n", imapAddr, smtpAddr))
	write("ImapProxyAService.cfg", fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\ndefault:BacksidePort %d\n",
		env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort))
	write("SmtpProxyAService.cfg", fmt.Sprintf("default:SmtpRelays %s\ndefault:SmtpProxyPassword secret\n", pf.Addr()))

	probe := func() (int, string) {
		var out, errs bytes.Buffer
		code := MainIO("AService", []string{"-c", dir, "-check", "--probe"}, IO{Out: &out, Err: &errs})
		return code, out.String() + errs.String()
	}
	code, out := probe()
	for _, want := range []string{
		"ImapProxyAService: directory ldap://" + env.LDAP.Host,
		"base readable; 2 mail host(s): 127.0.0.11 127.0.0.12",
		fmt.Sprintf("ImapProxyAService: store 127.0.0.11:%d: greeting * OK; CAPABILITY ", env.IMAPPort),
		fmt.Sprintf("ImapProxyAService: store 127.0.0.12:%d: greeting * OK; CAPABILITY ", env.IMAPPort),
		"SmtpProxyAService: relay " + pf.Addr() + ": greeting ",
		"ERROR: the relay refuses XPEHLO",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-check --probe lacks %q:\n%s", want, out)
		}
	}
	if code != ExitConfig {
		t.Errorf("-check --probe with xpehlo to Postfix: exit %d, want %d", code, ExitConfig)
	}

	// The daemon finds the same at start and logs it.
	startDaemon(t, "AService", []string{"-c", dir}, imapAddr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs, _ := filepath.Glob(filepath.Join(dir, "log", "AService_*.log"))
		var text []byte
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			text = append(text, b...)
		}
		if strings.Contains(string(text), "probe: SmtpProxyAService: relay "+pf.Addr()) &&
			strings.Contains(string(text), "ERROR: the relay refuses XPEHLO") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the AService log has no probe finding about the relay:\n%s", text)
		}
		time.Sleep(50 * time.Millisecond)
	}

	write("SmtpProxyAService.cfg", fmt.Sprintf("default:SmtpRelays %s\ndefault:SmtpRelayAnnounce xclient\n", pf.Addr()))
	if code, out := probe(); code != ExitOK || !strings.Contains(out, "XCLIENT accepted") {
		t.Errorf("-check --probe with xclient: exit %d, want 0 and XCLIENT accepted:\n%s", code, out)
	}
}
