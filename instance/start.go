package instance

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// OutFile is where a started daemon's standard output and error go,
// relative to the instance directory: what AService prints before its
// log files are open (configuration errors) lands there.
const OutFile = "log/AService.out"

// PidFile is the pid file start-msg asks the n-th daemon it starts to
// write; n is start-msg's own pid, unique while both run.
func PidFile(dir string, n int) string {
	return filepath.Join(dir, "run", fmt.Sprintf("AService-%d.pid", n))
}

// RefreshStatusFile is where AService records the outcome of each
// refresh (daemon.RefreshStatusFile; kept in step by the end-to-end
// test).
func RefreshStatusFile(dir string, pid int) string {
	return filepath.Join(dir, "run", fmt.Sprintf("AService-%d.refresh", pid))
}

// pollEvery is how often the commands look at files and processes.
const pollEvery = 50 * time.Millisecond

// start is start-msg: it starts an AService for dir in the background,
// even if one already runs (Sun's documented behaviour), and returns
// once the daemon has opened every port or has failed.
func start(stdio IO, dir string, o options) error {
	bin, err := findAService(o.aservice)
	if err != nil {
		return &exitError{ExitFailed, err}
	}
	for _, d := range []string{"run", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return &exitError{ExitFailed, err}
		}
	}
	outPath := filepath.Join(dir, OutFile)
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return &exitError{ExitFailed, err}
	}
	defer out.Close()
	offset, _ := out.Seek(0, io.SeekEnd)
	pidfile := PidFile(dir, os.Getpid())
	os.Remove(pidfile)

	cmd := exec.Command(bin, "-c", dir, "-pidfile", pidfile)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return &exitError{ExitFailed, fmt.Errorf("starting %s: %w", bin, err)}
	}
	pid := cmd.Process.Pid
	// Registered at once, so that stop-msg finds a daemon still starting.
	if err := appendPid(dir, pid); err != nil {
		fmt.Fprintf(stdio.Err, "%s: warning: %s: %v\n", Start, PidsFile, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.NewTimer(o.wait)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			forget(dir, pid)
			tail := readFrom(outPath, offset)
			if tail != "" {
				fmt.Fprint(stdio.Err, tail)
				if !strings.HasSuffix(tail, "\n") {
					fmt.Fprintln(stdio.Err)
				}
			}
			return &exitError{ExitFailed, fmt.Errorf("mmp (%s) did not start: AService %v", dir, describeExit(err))}
		case <-deadline.C:
			return &exitError{ExitFailed, fmt.Errorf("mmp (%s): AService pid %d is not listening after %v; it is left running (see %s)", dir, pid, o.wait, outPath)}
		case <-tick.C:
			data, err := os.ReadFile(pidfile)
			if err != nil {
				continue
			}
			if got, _ := strconv.Atoi(strings.TrimSpace(string(data))); got == pid {
				fmt.Fprintf(stdio.Out, "%d\n", pid)
				return nil
			}
		}
	}
}

// forget removes a daemon that failed to start from the registry.
func forget(dir string, pid int) {
	if pids, err := readPids(dir); err == nil {
		writePids(dir, without(pids, pid))
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	return err.Error()
}

// readFrom returns what was written to a file from offset on, at most
// the last 4 KiB: the daemon's own explanation of a failed start.
func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < offset {
		return ""
	}
	data = data[offset:]
	if len(data) > 4096 {
		data = data[len(data)-4096:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return string(data)
}

// findAService returns the daemon binary: the one given, else AService
// next to this program (the binaries are installed together), else the
// one on $PATH.
func findAService(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "AService")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath("AService")
	if err != nil {
		return "", fmt.Errorf("no AService binary next to this program or on $PATH (use --aservice)")
	}
	return p, nil
}
