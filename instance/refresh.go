package instance

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// refresh is refresh: SIGHUP to every live daemon of dir, then wait for
// each to record the outcome in its refresh status file, and print it.
func refresh(stdio IO, dir string, o options) error {
	live, err := livePids(dir)
	if err != nil {
		return &exitError{ExitFailed, err}
	}
	if len(live) == 0 {
		return &exitError{ExitNotRunning, fmt.Errorf("mmp (%s) is not running", dir)}
	}
	failed := 0
	for _, pid := range live {
		status := RefreshStatusFile(dir, pid)
		os.Remove(status)
		if err := signal(pid, syscall.SIGHUP); err != nil {
			fmt.Fprintf(stdio.Err, "%s: SIGHUP to pid %d: %v\n", Refresh, pid, err)
			failed++
			continue
		}
		text, err := waitStatus(status, pid, dir, o.wait)
		if err != nil {
			fmt.Fprintf(stdio.Err, "%s: pid %d: %v\n", Refresh, pid, err)
			failed++
			continue
		}
		// The lines after the first are the problems: errors of a
		// refused configuration, or warnings of one that was applied.
		first, rest, _ := strings.Cut(text, "\n")
		w := stdio.Out
		if !strings.HasPrefix(first, "ok") {
			failed++
			w = stdio.Err
		}
		fmt.Fprintf(w, "pid %d: %s\n", pid, first)
		for _, l := range strings.Split(strings.TrimRight(rest, "\n"), "\n") {
			if l != "" {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
	}
	if failed > 0 {
		return &exitError{ExitFailed, fmt.Errorf("mmp (%s): %d of %d refresh(es) failed", dir, failed, len(live))}
	}
	return nil
}

// waitStatus waits for a daemon's refresh status file.
func waitStatus(path string, pid int, dir string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		if data, err := os.ReadFile(path); err == nil {
			return string(data), nil
		}
		if !alive(pid, dir) {
			return "", fmt.Errorf("exited during refresh")
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no refresh status in %s after %v (was it started without start-msg, with no run directory?)", path, wait)
		}
		time.Sleep(pollEvery)
	}
}
