//go:build !linux

package testenv

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	// No Pdeathsig outside Linux: a killed test binary may leave a daemon
	// behind, which t.Cleanup cannot help with.
	return &syscall.SysProcAttr{Setpgid: true}
}

// groupAlive reports whether any process of group pgid exists (zombies
// included: without /proc they cannot be told apart).
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) != syscall.ESRCH
}
