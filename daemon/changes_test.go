package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openmmp/mmp/config"
)

// loadFiles loads an instance made of the files given.
func loadFiles(t *testing.T, files map[string]string) *config.Instance {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inst, problems := config.Load(dir, config.Options{})
	if problems.Fatal() {
		t.Fatal(problems)
	}
	return inst
}

// The change list names services and listeners added and removed, and
// parameters changed, a password by name only.
func TestChanges(t *testing.T) {
	imap := "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BindPass "
	old := loadFiles(t, map[string]string{
		"AService.cfg":          "default:ServiceList ImapProxyAService@1143|1144 PopProxyAService@1110\n",
		"ImapProxyAService.cfg": imap + "old-secret\n",
		"PopProxyAService.cfg":  "default:Banner pop\n",
	})
	next := loadFiles(t, map[string]string{
		"AService.cfg":          "default:ServiceList ImapProxyAService@1143|1145 SmtpProxyAService@1025\n",
		"ImapProxyAService.cfg": imap + "new-secret\ndefault:Timeout 900\n",
		"SmtpProxyAService.cfg": "default:SmtpRelays 127.0.0.1:25\ndefault:SmtpRelayAnnounce none\n",
	})
	got := changes(old, next)
	for _, want := range []string{
		`AService(AService.cfg): ServiceList: "ImapProxyAService@1143|1144 PopProxyAService@1110" -> "ImapProxyAService@1143|1145 SmtpProxyAService@1025"`,
		"ImapProxy(ImapProxyAService.cfg): listening on :1145 (new)",
		"ImapProxy(ImapProxyAService.cfg): stopped listening on :1144 (its sessions go on)",
		"ImapProxy(ImapProxyAService.cfg): BindPass: changed (not shown)",
		`ImapProxy(ImapProxyAService.cfg): Timeout: "1800" (default) -> "900"`,
		"SmtpProxy(SmtpProxyAService.cfg): service added",
		"PopProxy(PopProxyAService.cfg): service removed (stops once its sessions end)",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("changes lack %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if s := strings.Join(got, "\n"); strings.Contains(s, "secret") {
		t.Errorf("a password is shown:\n%s", s)
	}
	if got := changes(old, old); len(got) != 0 {
		t.Errorf("no change listed as %q", got)
	}
}

// A parameter read only at start (NumThreads, the fleet's, ...) is listed
// with the note that the running process keeps its value until the next
// start, so that an admin does not take the line for a change made.
func TestChangesAtStart(t *testing.T) {
	imap := "default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\n"
	old := loadFiles(t, map[string]string{
		"AService.cfg":          "default:ServiceList ImapProxyAService@1143\ndefault:NumThreads 2\n",
		"ImapProxyAService.cfg": imap,
	})
	next := loadFiles(t, map[string]string{
		"AService.cfg":          "default:ServiceList ImapProxyAService@1143\ndefault:NumThreads 8\ndefault:FleetKeyPrefix blue\ndefault:LogLevel 3\n",
		"ImapProxyAService.cfg": imap,
	})
	got := changes(old, next)
	for _, want := range []string{
		`AService(AService.cfg): NumThreads: "2" -> "8" (read at start: the running process keeps "2" until it is restarted)`,
		`AService(AService.cfg): FleetKeyPrefix: "mmp" (default) -> "blue" (read at start: the running process keeps "mmp" until it is restarted)`,
		`AService(AService.cfg): LogLevel: "1" (default) -> "3"`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("changes lack %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
}
