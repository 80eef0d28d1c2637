package postfix

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	// If the test binary is killed, take master with it; its daemons exit
	// when master does.
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// groupAlive reports whether a process of group pgid other than a zombie is
// running (the same test as in package testenv, which does not export it).
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return false
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(b[i+1:])
		if len(fields) < 3 {
			continue
		}
		if pg, _ := strconv.Atoi(string(fields[2])); pg == pgid && string(fields[0]) != "Z" && string(fields[0]) != "X" {
			return true
		}
	}
	return false
}
