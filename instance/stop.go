package instance

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// stop is stop-msg: SIGTERM to the most recently started live daemon of
// dir, then wait for it to go (AService lets sessions finish for
// ShutdownGrace; the default wait adds StopMargin).
func stop(stdio IO, dir string, o options) error {
	live, err := livePids(dir)
	if err != nil {
		return &exitError{ExitFailed, err}
	}
	if len(live) == 0 {
		return &exitError{ExitNotRunning, fmt.Errorf("mmp (%s) is not running", dir)}
	}
	pid := live[len(live)-1]
	if err := signal(pid, syscall.SIGTERM); err != nil {
		return &exitError{ExitFailed, fmt.Errorf("SIGTERM to pid %d: %w", pid, err)}
	}
	deadline := time.Now().Add(o.wait)
	for alive(pid, dir) {
		if time.Now().After(deadline) {
			return &exitError{ExitFailed, fmt.Errorf("mmp (%s) pid %d still runs %v after SIGTERM", dir, pid, o.wait)}
		}
		time.Sleep(pollEvery)
	}
	if pids, err := readPids(dir); err == nil {
		writePids(dir, without(pids, pid))
	}
	msg := fmt.Sprintf("mmp (%s) pid %d stopped", dir, pid)
	if rest := len(live) - 1; rest > 0 {
		msg += fmt.Sprintf("; %d more still running (%s)", rest, joinPids(live[:rest]))
	}
	fmt.Fprintln(stdio.Out, msg)
	return nil
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, " ")
}
