package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// What the directory finds about one login goes to the service's own log,
// with the session's "(id N)" and category General, in the Sun 7.x form
// that existing log tools parse (docs/reference.md §3.10):
//
//	ImapProxy[PID]: General Error: (id N) domain 'x' not found in LDAP (-1 )
//	ImapProxy[PID]: General Notice: (id N) user 'u' mailUserStatus: 'inactive'
func TestDirectoryEventsInServiceLog(t *testing.T) {
	env := twostores.Start(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList ImapProxyAService@%s\n", addr),
		"ImapProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\n"+
			"default:BGExcluded 127.0.0.0/8\ndefault:AuthFailureDelay 0\ndefault:LogLevel 5\ndefault:BacksidePort %d\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort),
	}
	if err := os.Mkdir(filepath.Join(dir, "log"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, addr)
	logDir := filepath.Join(dir, "log")
	cl := dialIMAP(t, addr)
	for _, login := range []string{"LOGIN alice@nowhere.example alicepw", "LOGIN carol carolpw"} {
		if _, tagged := cl.cmd("%s", login); !strings.Contains(tagged, "NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("%s: %s", login, tagged)
		}
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`ImapProxy\[\d+\]: General Error: \(id \d+\) domain 'nowhere\.example' not found in LDAP \(-1 \)\n`),
		regexp.MustCompile(`ImapProxy\[\d+\]: General Notice: \(id \d+\) user 'carol' mailUserStatus: 'inactive'\n`),
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		logs, _ := filepath.Glob(filepath.Join(logDir, "ImapProxy_*.log"))
		var text []byte
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			text = append(text, b...)
		}
		missing := 0
		for _, re := range want {
			if !re.Match(text) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service log lacks %d of the directory lines:\n%s", missing, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
