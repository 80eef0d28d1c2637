package instance_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/openmmp/mmp/instance"
	"github.com/openmmp/mmp/internal/testenv"
)

// unitFile is the systemd template unit shipped for instances.
func unitFile(t *testing.T) string {
	return filepath.Join(testenv.RepoRoot(t), "dist", "systemd", "openmmp@.service")
}

// The unit runs AService in the foreground on an instance directory,
// reloads with SIGHUP and allows the grace period plus stop-msg's margin.
func TestSystemdUnitSettings(t *testing.T) {
	f, err := os.Open(unitFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			got[k] = v
		}
	}
	want := map[string]string{
		"ExecReload":     "/bin/kill -HUP $MAINPID",
		"KillSignal":     "SIGTERM",
		"TimeoutStopSec": fmt.Sprint(int((instance.ShutdownGrace + instance.StopMargin).Seconds())),
		// Room for the descriptor-derived connection caps, and the
		// sandbox that the security test below scores.
		"LimitNOFILE":     "65536",
		"NoNewPrivileges": "yes",
		"ProtectSystem":   "strict",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if !strings.HasSuffix(got["ExecStart"], "/AService -c "+instance.DefaultRoot+"/%i -f --log-stderr") {
		t.Errorf("ExecStart=%q", got["ExecStart"])
	}
}

// systemd itself accepts the unit. The AService path need not exist on
// the test machine; every other complaint fails the test.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testenv.Binary(t, "systemd-analyze")
	data, err := os.ReadFile(unitFile(t))
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "openmmp@test.service")
	if err := os.WriteFile(unit, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" || strings.Contains(l, "/AService is not executable") {
			continue
		}
		t.Errorf("systemd-analyze verify: %s", l)
	}
}

// The unit's sandbox (docs/security.md): `systemd-analyze security`
// rates it no worse than the exposure recorded in docs/security.md, so
// that a change that loosens it must change the record too. The AService
// binary need not exist: the offline review reads the unit file only.
func TestSystemdUnitSecurityScore(t *testing.T) {
	analyze := testenv.Binary(t, "systemd-analyze")
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Recorded exposure of dist/systemd/openmmp@\.service: \*\*(\d+\.\d)\*\*`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/security.md records no exposure score for the unit")
	}
	recorded, _ := strconv.ParseFloat(string(m[1]), 64)
	data, err := os.ReadFile(unitFile(t))
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "openmmp@test.service")
	if err := os.WriteFile(unit, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", "--no-pager", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security --offline=yes: %v\n%s", err, out)
	}
	s := regexp.MustCompile(`Overall exposure level for openmmp@test\.service: (\d+\.\d)`).FindSubmatch(out)
	if s == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	got, _ := strconv.ParseFloat(string(s[1]), 64)
	if got > recorded {
		t.Errorf("systemd-analyze security rates the unit %.1f, worse than the %.1f docs/security.md records:\n%s", got, recorded, out)
	} else if got < recorded {
		t.Logf("the unit now rates %.1f, better than the recorded %.1f: lower the record in docs/security.md", got, recorded)
	}
}
