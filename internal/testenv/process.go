package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Process is a daemon started in its own process group with its standard
// output and error appended to a log file.
//
// The process group matters because Dovecot forks a dozen children: stopping
// the master alone could leave a login process holding the port, and a
// second start on the same port (Restart) would then fail. Stop signals the
// leader politely, then kills whatever is left of the group.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // set before exited is closed
}

// StartProcess starts argv[0] with the remaining arguments, appending its
// standard output and error to logPath. The caller must arrange for Stop to
// be called (fixtures do it in t.Cleanup).
func StartProcess(logPath string, argv ...string) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("testenv: StartProcess: empty argv")
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// Writing straight to an *os.File (not through a pipe and a goroutine)
	// means a line the daemon logged before answering a request is already
	// in the file when the client sees the answer; slapd.CountBinds relies
	// on that.
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("testenv: start %s: %w", argv[0], err)
	}
	logf.Close() // the child has its own descriptor
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid returns the process id of the group leader.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Running reports whether p was started and has not exited; a nil p was
// never started.
func (p *Process) Running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Err returns the result of Wait once Exited is closed, and nil before.
func (p *Process) Err() error {
	select {
	case <-p.exited:
		return p.err
	default:
		return nil
	}
}

// Stop sends sig to the whole process group, waits up to grace for the
// leader to exit, and then sends SIGKILL to the group, which also removes
// any child the leader failed to reap. Signalling the group rather than the
// leader alone matters for speed: a Dovecot master that is asked to stop
// waits a second for its children, while children that get the signal
// themselves exit at once. It is safe to call more than once.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) {
	select {
	case <-p.exited:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
		select {
		case <-p.exited:
		case <-time.After(grace):
		}
	}
	// Negative pid: the group. ESRCH (nothing left) is the normal case.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	// kill(2) returns before the victims are gone, and a child that still
	// holds a listening socket would answer a test that expects the port to
	// be closed, or make a Restart on the same port fail.
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(p.cmd.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitListening is the package-level WaitListening, but gives up as soon as
// the process exits. It returns an error rather than failing the test so
// that the caller can add the daemon's log to the message.
func (p *Process) WaitListening(addr string, timeout time.Duration) error {
	return waitListening(addr, timeout, p.exited)
}

// WaitCommand waits at most d for a started client command (openssl
// s_client, swaks …) to exit and returns its own error; one still running
// then is killed and the test fails, showing what it wrote (out), so that
// a client stuck on a proxy that does not answer cannot hang the test.
func WaitCommand(t testing.TB, cmd *exec.Cmd, d time.Duration, out fmt.Stringer) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within %v:\n%s", filepath.Base(cmd.Path), d, out)
		return nil
	}
}
