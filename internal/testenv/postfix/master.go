package postfix

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// master is a running Postfix master(8). It is a much reduced
// testenv.Process: master must not be started as a process-group leader
// (see the package doc), so it gets no Setpgid and makes itself the leader
// of a new session and process group, whose id is its pid.
type master struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // set before exited is closed
}

// startMaster starts argv with its standard output and error appended to
// logPath.
func startMaster(logPath string, argv ...string) (*master, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("postfix: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("postfix: start %s: %w", argv[0], err)
	}
	logf.Close()
	m := &master{cmd: cmd, exited: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		close(m.exited)
	}()
	return m, nil
}

// stop sends sig to master's process group, waits up to grace for master to
// exit, then kills the group and waits until no member is left, so that no
// smtpd still holds the port when Restart binds it again. master has long
// called setsid when stop runs (start waits for a greeting), so the group
// is its own and not the test's.
func (m *master) stop(sig syscall.Signal, grace time.Duration) {
	pgid := m.cmd.Process.Pid
	select {
	case <-m.exited:
	default:
		_ = syscall.Kill(-pgid, sig)
		select {
		case <-m.exited:
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-m.exited
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}
