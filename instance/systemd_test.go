package instance_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
