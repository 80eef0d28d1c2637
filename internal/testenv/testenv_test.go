package testenv_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// recorder stands in for *testing.T so that Need's Skip and Fatal can be
// observed without ending the test that calls it.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skip(args ...any)          { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any)         { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }

func TestNeedMissingBinary(t *testing.T) {
	const missing = "slapd-does-not-exist"
	for _, ci := range []string{"", "false", "true", "1"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			r := &recorder{TB: t}
			testenv.Need(r, "sh", missing)
			wantFatal := ci == "true" || ci == "1"
			got := r.skipped
			if wantFatal {
				got = r.fatal
			}
			if got == "" || (wantFatal && r.skipped != "") || (!wantFatal && r.fatal != "") {
				t.Fatalf("Need(sh, %s) with CI=%q: skipped %q, fatal %q", missing, ci, r.skipped, r.fatal)
			}
			if !strings.Contains(got, missing) || strings.Contains(got, "sh,") {
				t.Errorf("Need message = %q, want it to name %s only", got, missing)
			}
		})
	}
}

func TestLookPathSbin(t *testing.T) {
	// /usr/sbin is not on every PATH; LookPath must still find daemons there.
	t.Setenv("PATH", "/usr/bin:/bin")
	p, err := testenv.LookPath("slapd")
	if err != nil {
		testenv.Unavailable(t, fmt.Sprintf("slapd not installed: %v", err))
	}
	if !strings.HasSuffix(p, "/slapd") {
		t.Errorf("LookPath(slapd) = %q", p)
	}
}

func TestFreePortOnAndWaitListening(t *testing.T) {
	hosts := []string{"127.0.0.11", "127.0.0.12"}
	testenv.NeedLoopback(t, hosts...)
	port := testenv.FreePortOn(t, hosts...)
	for _, h := range hosts {
		addr := net.JoinHostPort(h, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("FreePortOn(%q) = %d, but Listen(%s): %v", hosts, port, addr, err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		testenv.WaitListening(t, addr, time.Second)
	}
}
