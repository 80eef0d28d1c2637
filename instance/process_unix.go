//go:build unix

package instance

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// alive reports whether pid runs and is an AService of the instance in
// dir. A pid in mmp.pids may have been reused by an unrelated process
// after a crash; where /proc shows the command line, the process must
// name dir, so that stop-msg never signals a stranger. A zombie is dead:
// the daemon is re-parented when start-msg exits, and not every init
// reaps at once.
var alive = func(pid int, dir string) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// pid (comm) STATE ...; comm may hold spaces and parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return true // no /proc: trust the registry
	}
	for _, arg := range bytes.Split(cmdline, []byte{0}) {
		if string(arg) == dir {
			return true
		}
	}
	return false
}

// signal sends sig to pid.
func signal(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// detached makes the daemon the leader of a new session, so that it
// outlives start-msg and the terminal it was typed in.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
