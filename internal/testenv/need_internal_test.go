package testenv

import (
	"fmt"
	"strings"
	"testing"
)

type skipRecorder struct {
	testing.TB
	skipped string
}

func (r *skipRecorder) Helper()          {}
func (r *skipRecorder) Skip(args ...any) { r.skipped = fmt.Sprint(args...) }

func TestNeedNamesDebianPackage(t *testing.T) {
	const bin = "testenv-fake-daemon"
	debianPackage[bin] = "testenv-fake-pkg"
	t.Cleanup(func() { delete(debianPackage, bin) })
	t.Setenv("CI", "")
	r := &skipRecorder{TB: t}
	Need(r, bin, "sh")
	if want := "apt-get install testenv-fake-pkg"; !strings.Contains(r.skipped, want) {
		t.Errorf("Need(%s) skip message = %q, want it to contain %q", bin, r.skipped, want)
	}
}
