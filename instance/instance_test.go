package instance

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// mkInstance makes root/name look like an instance.
func mkInstance(t *testing.T, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "AService.cfg"), []byte("default:ServiceList ImapProxyAService@1143\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(kind Kind, env []string, args ...string) (code int, out, errOut string) {
	var o, e bytes.Buffer
	code = MainIO(kind, args, IO{Out: &o, Err: &e, Environ: env})
	return code, o.String(), e.String()
}

func TestPidsFile(t *testing.T) {
	dir := t.TempDir()
	if pids, err := readPids(dir); err != nil || pids != nil {
		t.Fatalf("missing file: %v, %v", pids, err)
	}
	for _, pid := range []int{10, 20, 30} {
		if err := appendPid(dir, pid); err != nil {
			t.Fatal(err)
		}
	}
	// A hand-edited line does not stop the commands.
	f, _ := os.OpenFile(filepath.Join(dir, PidsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("garbage\n  40 \n")
	f.Close()
	pids, err := readPids(dir)
	if want := []int{10, 20, 30, 40}; err != nil || !reflect.DeepEqual(pids, want) {
		t.Fatalf("readPids = %v, %v; want %v", pids, err, want)
	}

	// livePids keeps the live ones, in order, and prunes the file.
	defer func(old func(int, string) bool) { alive = old }(alive)
	alive = func(pid int, _ string) bool { return pid == 20 || pid == 40 }
	live, err := livePids(dir)
	if want := []int{20, 40}; err != nil || !reflect.DeepEqual(live, want) {
		t.Fatalf("livePids = %v, %v; want %v", live, err, want)
	}
	data, _ := os.ReadFile(filepath.Join(dir, PidsFile))
	if string(data) != "20\n40\n" {
		t.Errorf("pruned file %q", data)
	}
	if got := without(live, 40); !reflect.DeepEqual(got, []int{20}) {
		t.Errorf("without = %v", got)
	}
}

func TestAliveRealProcess(t *testing.T) {
	dir := t.TempDir()
	// The test binary does not name dir on its command line: a reused pid
	// is not taken for the daemon.
	if _, err := os.Stat("/proc/self/cmdline"); err == nil && alive(os.Getpid(), dir) {
		t.Error("the test process is taken for an AService of a temporary directory")
	}
	if alive(1<<22+12345, dir) {
		t.Error("a pid that cannot exist is alive")
	}
}

func TestChooseInstance(t *testing.T) {
	root := t.TempDir()
	empty := t.TempDir()
	east := mkInstance(t, root, "east")
	os.Mkdir(filepath.Join(root, "notes"), 0o755) // not an instance

	for _, tc := range []struct {
		name string
		root string
		args []string
		want string // directory, or "" for a usage error
		msg  string
	}{
		{"only one", root, []string{"mmp"}, east, ""},
		{"named", root, []string{"mmp", "east"}, east, ""},
		{"path", root, []string{"mmp", east}, east, ""},
		{"unknown instance", root, []string{"mmp", "west"}, "", "west: no instance"},
		{"none", empty, []string{"mmp"}, "", "no instance in"},
		{"no component", root, nil, "", "name the component"},
		{"imap is Sun's store", root, []string{"imap"}, "", "manages only the Messaging Multiplexor"},
		{"unknown component", root, []string{"mmpd"}, "", "unknown component"},
		{"too many", root, []string{"mmp", "east", "west"}, "", "too many arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := chooseInstance(tc.root, tc.args)
			if tc.want != "" {
				if err != nil || dir != tc.want {
					t.Errorf("= %q, %v; want %q", dir, err, tc.want)
				}
				return
			}
			if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v; want a usage error with %q", err, tc.msg)
			}
		})
	}

	mkInstance(t, root, "west")
	if _, err := chooseInstance(root, []string{"mmp"}); err == nil || !strings.Contains(err.Error(), "east, west") {
		t.Errorf("two instances, none named: %v", err)
	}
}

func TestRoot(t *testing.T) {
	if got := (options{}).rootOr(nil); got != DefaultRoot {
		t.Errorf("default root %q", got)
	}
	if got := (options{}).rootOr([]string{"OPENMMP_ROOT=/srv/mmp"}); got != "/srv/mmp" {
		t.Errorf("OPENMMP_ROOT root %q", got)
	}
	if got := (options{root: "/x"}).rootOr([]string{"OPENMMP_ROOT=/srv/mmp"}); got != "/x" {
		t.Errorf("--root root %q", got)
	}
}

func TestExitCodes(t *testing.T) {
	root := t.TempDir()
	mkInstance(t, root, "east")
	env := []string{"OPENMMP_ROOT=" + root}

	for _, kind := range []Kind{Start, Stop, Refresh} {
		code, _, errOut := run(kind, env, "imap")
		if code != ExitUsage || !strings.Contains(errOut, kind.String()+": imap: openmmp manages only the Messaging Multiplexor") {
			t.Errorf("%s imap: %d %q", kind, code, errOut)
		}
		if code, _, _ := run(kind, env, "--no-such-flag", "mmp"); code != ExitUsage {
			t.Errorf("%s --no-such-flag: %d", kind, code)
		}
	}
	for _, kind := range []Kind{Stop, Refresh} {
		code, _, errOut := run(kind, env, "mmp")
		if code != ExitNotRunning || !strings.Contains(errOut, "is not running") {
			t.Errorf("%s mmp with nothing running: %d %q", kind, code, errOut)
		}
	}
	code, _, errOut := run(Start, env, "--aservice", filepath.Join(root, "no-such-binary"), "mmp")
	if code != ExitFailed || !strings.Contains(errOut, "no-such-binary") {
		t.Errorf("start-msg with a missing binary: %d %q", code, errOut)
	}
	if code, out, _ := run(Start, env, "--help"); code != ExitOK || !strings.Contains(out, "even if") {
		t.Errorf("start-msg --help: %d %q", code, out)
	}
}

// A daemon that exits before it is ready makes start-msg fail with its
// messages, and leaves no pid behind.
func TestStartFailure(t *testing.T) {
	root := t.TempDir()
	dir := mkInstance(t, root, "east")
	script := filepath.Join(root, "fake-aservice")
	os.WriteFile(script, []byte("#!/bin/sh\necho 'AService.cfg:1: ServiceList: broken' >&2\nexit 1\n"), 0o755)
	code, out, errOut := run(Start, nil, "--root", root, "--aservice", script, "mmp", "east")
	if code != ExitFailed || out != "" || !strings.Contains(errOut, "AService.cfg:1: ServiceList: broken") || !strings.Contains(errOut, "did not start") {
		t.Errorf("start-msg: %d %q %q", code, out, errOut)
	}
	if pids, _ := readPids(dir); len(pids) != 0 {
		t.Errorf("pids left: %v", pids)
	}
}
